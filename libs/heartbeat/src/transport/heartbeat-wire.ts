import { z } from 'zod';
import type { HeartbeatAnswer } from '../core/heartbeat-target.interface.js';

/*
 * The wire format of heartbeat RPCs over Nest's TCP transport (documented in the README), and its
 * limits. Both are request/response messages: `{ pattern, data: HeartbeatMessage, id }` answered
 * by `{ id, response: HeartbeatAck, isDisposed: true }` or an error reply (`{ id, err, … }`). The
 * reply to a request carries the answer itself (`HeartbeatAck.heartbeat`); a peer may instead
 * answer with a separate `heartbeat.receive` request, as earlier versions did.
 */

/** Context of the transport's log lines (the library's logger context). */
export const HEARTBEAT_LOGGER_CONTEXT = 'Heartbeat';

/** Frame limits of a TCP connection: a heartbeat endpoint's and the library's clients'. */
export interface HeartbeatClientLimits {
  /** Largest frame accepted from a peer, in characters. Default 65,536. */
  readonly maxBufferSize?: number;
  /**
   * How long a partly received frame may wait for the rest, in ms. Default 5,000. (The library's
   * TCP client, which only reads replies, ends a connection whose reply is cut off when the
   * request times out.)
   */
  readonly incompleteMessageTimeout?: number;
  /** Largest amount of unsent data buffered towards a peer, in bytes. Default 262,144. */
  readonly maxSendBufferSize?: number;
}

/**
 * Frame limits that fit heartbeats (small JSON messages, one per interval): the recommended
 * settings for a heartbeat endpoint's `ServerTCP` and the default `clientLimits`. Nest's own
 * defaults (128 Mi characters, 30 s) let one peer hold a lot of memory for a long time.
 */
export const HEARTBEAT_FRAME_LIMITS: Required<HeartbeatClientLimits> = {
  maxBufferSize: 65_536,
  incompleteMessageTimeout: 5_000,
  maxSendBufferSize: 262_144,
};

/** Longest packet id accepted (Nest's clients use UUIDs or 21-character ids). */
export const MAX_PACKET_ID_LENGTH = 128;
/** Longest pattern a heartbeat endpoint accepts. */
export const MAX_PATTERN_LENGTH = 256;

/** The pattern of a sender's heartbeat request (`data` is a {@link HeartbeatMessage}). */
export const HEARTBEAT_REQUEST_PATTERN = 'heartbeat.request';
/** The pattern of a heartbeat, the answer to a request (`data` is a {@link HeartbeatMessage}). */
export const HEARTBEAT_RECEIVE_PATTERN = 'heartbeat.receive';

export const MAX_NAME_LENGTH = 256;

const NOT_AN_OBJECT = 'heartbeat message must be an object { manager, origin, payload }';

const name = (field: string) =>
  z
    .string({
      error: `heartbeat message field "${field}" must be a string of 1 to ${MAX_NAME_LENGTH} characters`,
    })
    .min(1)
    .max(MAX_NAME_LENGTH);

/** The declared shape of a heartbeat message; unknown fields are rejected. Its size is bounded by the frame limit. */
export const heartbeatMessageSchema = z.strictObject(
  {
    manager: name('manager'),
    origin: name('origin'),
    payload: z
      .unknown()
      .optional()
      .transform((payload) => payload ?? null),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? // The keys are the peer's: cut the list short, it goes into a log line and a reply.
          `heartbeat message has unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}`.slice(
            0,
            200,
          )
        : NOT_AN_OBJECT,
  },
);

/** The `data` of a heartbeat RPC, either pattern. */
export interface HeartbeatMessage<P = unknown> {
  /** Name of the recipient's manager that should take the heartbeat. */
  readonly manager: string;
  /** Id of the sender (its manager's `ownResourceId`). */
  readonly origin: string;
  /** Heartbeat payload; `null` for none. */
  readonly payload: P | null;
}

/**
 * The `response` to an accepted heartbeat RPC. The response to a request from an origin the
 * recipient monitors carries the recipient's answer (`heartbeat`): the sender takes it as it
 * takes a `heartbeat.receive`. A request from any other origin is acknowledged without one.
 */
export interface HeartbeatAck {
  readonly accepted: true;
  /** The answer to a request: the recipient's id (`origin`) and its payload. */
  readonly heartbeat?: HeartbeatAnswer;
}

/** Why a reply to a heartbeat RPC could not be taken: the peer does not speak the wire format. */
export class HeartbeatReplyError extends Error {
  override readonly name = 'HeartbeatReplyError';
}

/**
 * The answer a heartbeat RPC's `response` carries, if any: `undefined` for a plain
 * acknowledgement (or any response without `heartbeat`, as from a peer that answers separately).
 * Throws {@link HeartbeatReplyError} for a `heartbeat` that is not `{ origin, payload? }` with an
 * origin of 1 to 256 characters. Written out, not a zod schema: it runs on every heartbeat.
 */
export function answerOf(response: unknown): HeartbeatAnswer | undefined {
  if (typeof response !== 'object' || response === null) {
    return undefined;
  }
  const { heartbeat } = response as { heartbeat?: unknown };
  if (heartbeat === undefined) {
    return undefined;
  }
  if (typeof heartbeat !== 'object' || heartbeat === null) {
    throw new HeartbeatReplyError('the reply\'s "heartbeat" must be an object { origin, payload }');
  }
  const { origin, payload } = heartbeat as { origin?: unknown; payload?: unknown };
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > MAX_NAME_LENGTH) {
    throw new HeartbeatReplyError(
      `the reply's "heartbeat.origin" must be a string of 1 to ${MAX_NAME_LENGTH} characters`,
    );
  }
  return { origin, payload: payload ?? null };
}

/** Longest packet id Nest's clients give a request: a UUID (Nest 12's ids have 21 characters). */
const NEST_PACKET_ID_LENGTH = 36;

/**
 * Length in characters of the longest TCP frame (`<length>#<json>`) that carries `message`, with
 * a packet id of up to 36 characters (a UUID): as a heartbeat RPC, either pattern, or as the
 * answer in a request's reply (`origin` and `payload`). The frame limit (`maxBufferSize`, see
 * `HEARTBEAT_FRAME_LIMITS`) of whoever reads it, the endpoint or the requesting client, must be at
 * least this. Pass the largest message a peer can send (its longest names and payload) to size
 * the limit, e.g. `heartbeatFrameLength(largest) <= HEARTBEAT_FRAME_LIMITS.maxBufferSize`. A peer
 * that gives its packets longer ids sends frames longer by the difference.
 */
export function heartbeatFrameLength(message: HeartbeatMessage): number {
  const id = 'x'.repeat(NEST_PACKET_ID_LENGTH);
  const ack: HeartbeatAck = {
    accepted: true,
    heartbeat: { origin: message.origin, payload: message.payload },
  };
  const packets = [
    // Nest's client sends `{ pattern, data, id }`; its server replies `{ id, response, isDisposed }`.
    ...[HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN].map((pattern) => ({
      pattern,
      data: message,
      id,
    })),
    { id, response: ack, isDisposed: true },
  ];
  return Math.max(
    ...packets.map((packet) => {
      const json = JSON.stringify(packet);
      return `${json.length}#`.length + json.length;
    }),
  );
}

export type ParsedHeartbeatMessage =
  | { readonly ok: true; readonly message: HeartbeatMessage }
  | { readonly ok: false; readonly reason: string };

/** Checks an incoming message against `heartbeatMessageSchema`; the reason names the first field at fault. */
export function parseHeartbeatMessage(data: unknown): ParsedHeartbeatMessage {
  const parsed = heartbeatMessageSchema.safeParse(data);
  return parsed.success
    ? { ok: true, message: parsed.data }
    : { ok: false, reason: parsed.error.issues[0].message };
}

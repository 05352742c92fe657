import { z } from 'zod';

/*
 * The wire format of heartbeat RPCs over Nest's TCP transport (documented in the README).
 * Both are request/response messages: `{ pattern, data: HeartbeatMessage, id }` answered by
 * `{ id, response: HeartbeatAck, isDisposed: true }` or `{ id, err, isDisposed: true }`.
 */

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

/** The `response` to an accepted heartbeat RPC. */
export interface HeartbeatAck {
  readonly accepted: true;
}

/** Longest packet id Nest's clients give a request: a UUID (Nest 12's ids have 21 characters). */
const NEST_PACKET_ID_LENGTH = 36;

/**
 * Length in characters of the TCP frame (`<length>#<json>`) that carries `message` as a heartbeat
 * RPC from a Nest TCP client, either pattern, with a packet id of up to 36 characters (a UUID):
 * the receiving endpoint's frame limit (`maxBufferSize`, see `HEARTBEAT_FRAME_LIMITS`) must be at
 * least this. Pass the largest message a peer can send (its longest names and payload) to size
 * the limit, e.g. `heartbeatFrameLength(largest) <= HEARTBEAT_FRAME_LIMITS.maxBufferSize`. A peer
 * that gives its packets longer ids sends frames longer by the difference.
 */
export function heartbeatFrameLength(message: HeartbeatMessage): number {
  const id = 'x'.repeat(NEST_PACKET_ID_LENGTH);
  return Math.max(
    ...[HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN].map((pattern) => {
      // Nest's client sends `{ pattern, data, id }`, framed as `<length>#<json>` (JsonSocket).
      const json = JSON.stringify({ pattern, data: message, id });
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

import { z } from 'zod';

/**
 * The wire format of heartbeat RPCs over Nest's TCP transport (documented in the README).
 * Both are request/response messages: `{ pattern, data: HeartbeatMessage, id }` answered by
 * `{ id, response: HeartbeatAck, isDisposed: true }` or `{ id, err, isDisposed: true }`.
 */
export const HEARTBEAT_REQUEST_PATTERN = 'heartbeat.request';
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

export interface HeartbeatMessage<P = unknown> {
  /** Name of the recipient's manager that should take the heartbeat. */
  readonly manager: string;
  /** Id of the sender (its manager's `ownResourceId`). */
  readonly origin: string;
  /** Heartbeat payload; `null` for none. */
  readonly payload: P | null;
}

export interface HeartbeatAck {
  readonly accepted: true;
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

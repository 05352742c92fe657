/**
 * The wire format of heartbeat RPCs over Nest's TCP transport (documented in the README).
 * Both are request/response messages: `{ pattern, data: HeartbeatMessage, id }` answered by
 * `{ id, response: HeartbeatAck, isDisposed: true }` or `{ id, err, isDisposed: true }`.
 */
export const HEARTBEAT_REQUEST_PATTERN = 'heartbeat.request';
export const HEARTBEAT_RECEIVE_PATTERN = 'heartbeat.receive';

export const MAX_NAME_LENGTH = 256;

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

/** Checks an incoming message's shape; the reason names the first field at fault. */
export function parseHeartbeatMessage(data: unknown): ParsedHeartbeatMessage {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      ok: false,
      reason: 'heartbeat message must be an object { manager, origin, payload }',
    };
  }
  const { manager, origin, payload } = data as Record<string, unknown>;
  for (const [field, value] of [
    ['manager', manager],
    ['origin', origin],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
      return {
        ok: false,
        reason: `heartbeat message field "${field}" must be a string of 1 to ${MAX_NAME_LENGTH} characters`,
      };
    }
  }
  return {
    ok: true,
    message: { manager: manager as string, origin: origin as string, payload: payload ?? null },
  };
}

/**
 * A heartbeat carried back in the reply to a request: Flink's `receiveHeartbeat(origin, payload)`
 * as a transport that answers on the request's own connection delivers it. The sender's manager
 * takes it exactly as it takes a `receiveHeartbeat`.
 */
export interface HeartbeatAnswer<P = unknown> {
  /** Id of the side that answers (its manager's `ownResourceId`). */
  readonly origin: string;
  /** The answer's payload; `null` for none. */
  readonly payload: P | null;
}

/**
 * The far side of one heartbeat relationship (Flink's `HeartbeatTarget`).
 * `I` is the type of the payload sent to this target; `null` means "nothing to report".
 * Both calls resolve when the RPC was delivered and reject when it could not be; a rejection
 * with {@link RecipientUnreachableError} counts towards the RPC-failure threshold.
 */
export interface HeartbeatTarget<I = unknown> {
  /**
   * Asks the target for a heartbeat. A transport that carries the answer in the reply resolves
   * with it (a {@link HeartbeatAnswer}); one whose answers arrive as separate `receiveHeartbeat`
   * calls resolves with nothing.
   */
  requestHeartbeat(origin: string, payload: I | null): Promise<HeartbeatAnswer | void>;
  /** Delivers a heartbeat (the answer to a request) to the target. */
  receiveHeartbeat(origin: string, payload: I | null): Promise<void>;
  /**
   * Releases what the target holds (a connection, say). A manager owns every target passed to
   * `monitorTarget` and disposes it when the target is unmonitored, rejected or the manager stops.
   */
  dispose?(): void | Promise<void>;
}

/** Whether a target's `requestHeartbeat` resolved with an answer (and not with nothing). */
export function isHeartbeatAnswer(value: unknown): value is HeartbeatAnswer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { origin?: unknown }).origin === 'string'
  );
}

/**
 * The far side of one heartbeat relationship (Flink's `HeartbeatTarget`).
 * `I` is the type of the payload sent to this target; `null` means "nothing to report".
 * Both calls resolve when the RPC was delivered and reject when it could not be; a rejection
 * with {@link RecipientUnreachableError} counts towards the RPC-failure threshold.
 */
export interface HeartbeatTarget<I = unknown> {
  /** Asks the target for a heartbeat. */
  requestHeartbeat(origin: string, payload: I | null): Promise<void>;
  /** Delivers a heartbeat (the answer to a request) to the target. */
  receiveHeartbeat(origin: string, payload: I | null): Promise<void>;
  /**
   * Releases what the target holds (a connection, say). A manager owns every target passed to
   * `monitorTarget` and disposes it when the target is unmonitored, rejected or the manager stops.
   */
  dispose?(): void | Promise<void>;
}

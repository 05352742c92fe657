/** Something that may or may not be a promise: listeners may be synchronous or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The owner's callbacks (Flink's `HeartbeatListener`).
 * `I` is the payload type received from targets, `O` the payload type sent to them.
 */
export interface HeartbeatListener<I = unknown, O = unknown> {
  /** No heartbeat arrived from the target within the timeout. Fires once per monitor. */
  notifyHeartbeatTimeout(resourceId: string): MaybePromise<void>;
  /** `rpcFailureThreshold` consecutive heartbeat RPCs to the target found it unreachable. */
  notifyTargetUnreachable(resourceId: string): MaybePromise<void>;
  /** A heartbeat from the target carried a (non-null) payload. */
  reportPayload(resourceId: string, payload: I): MaybePromise<void>;
  /** The payload to send with the next heartbeat to the target; `null`/`undefined` sends none. */
  retrievePayload(resourceId: string): MaybePromise<O | null | undefined>;
}

/** Where the managers report a failing listener; Nest's `Logger` fits. */
export interface HeartbeatLogger {
  warn(message: string): void;
  error(message: string, stack?: string): void;
}

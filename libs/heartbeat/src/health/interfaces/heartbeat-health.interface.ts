// Terminus's shapes, written out: the indicator works with @nestjs/terminus 11 and 12 without
// importing it, and these declarations compile in an app that does not have it.

/** `HeartbeatHealthIndicator.isHealthy`'s options. */
export interface HeartbeatHealthCheckOptions {
  /** The manager checked, by the name it is declared under. */
  readonly manager: string;
  /**
   * Down below this many live targets: monitored, not declared lost, with a heartbeat within the
   * manager's timeout (a target not heard from yet is not live). Default 0.
   */
  readonly minLiveTargets?: number;
  /**
   * Ms back from now: a stall of this process in it makes the check down, and `lostInWindow`
   * counts the targets lost in it. Default 60,000.
   */
  readonly window?: number;
}

/** A stall of this process, as a manager's stall guard saw it. */
export type HeartbeatStall = {
  /** Epoch ms when it was seen (when the process ran again). */
  readonly at: number;
  readonly stallMs: number;
};

/** What the indicator reports of a manager, up or down: terminus's details of one key. */
export type HeartbeatHealth = {
  readonly status: 'up' | 'down';
  /** Targets monitored now. */
  readonly targets: number;
  /** Of those, the ones not declared lost, with a heartbeat within the manager's timeout. */
  readonly liveTargets: number;
  /** Targets declared lost (timeout or unreachable) within the window. */
  readonly lostInWindow: number;
  /** The latest stall of this process, or null if none was seen. */
  readonly lastStall: HeartbeatStall | null;
  /** Why it is down (each reason, separated by "; "); absent when up. */
  readonly reason?: string;
};

/** `isHealthy`'s result, terminus's `HealthIndicatorResult` shape: `{ [key]: { status, ...details } }`. */
export type HeartbeatHealthIndicatorResult<Key extends string = string> = Record<
  Key,
  HeartbeatHealth
>;

import { monotonicNow, type Clock, type Scheduler } from './clock.js';
import {
  isHeartbeatAnswer,
  type HeartbeatAnswer,
  type HeartbeatTarget,
} from './heartbeat-target.interface.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';
import {
  FIXED_TIMEOUT_DETECTION,
  type SilenceDetection,
  type SilenceWatch,
} from './silence-detection.js';

export enum HeartbeatMonitorState {
  Running = 'RUNNING',
  Timeout = 'TIMEOUT',
  Unreachable = 'UNREACHABLE',
  Canceled = 'CANCELED',
}

export interface HeartbeatMonitorContext {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly timeout: number;
  readonly rpcFailureThreshold: number;
  /** The manager's detector (its phi-accrual sweep); Flink's fixed timeout, a timer per monitor, if absent. */
  readonly detection?: SilenceDetection;
  /**
   * For the fixed timeout: whether silence until `deadline` (monotonic ms) proves nothing, so the
   * target gets a fresh window instead of a timeout: this process itself stalled near it (see
   * `StallGuard`), or nobody has asked the target yet (a sender not started). Never, if absent.
   */
  silenceExcused?(deadline: number): boolean;
  onTimeout(resourceId: string): void;
  /** `failure`: the error of the RPC that crossed the threshold. */
  onUnreachable(resourceId: string, failure: unknown): void;
  /**
   * A request's reply carried the target's answer (see `HeartbeatAnswer`); `roundTripMs` is
   * measured only while someone watches the manager's events, `null` otherwise.
   */
  onAnswer?(answer: HeartbeatAnswer, monitor: HeartbeatMonitor, roundTripMs: number | null): void;
  /** Any heartbeat RPC failed, whether or not it counts (for the manager's events). */
  onRpcFailed?(error: unknown, monitor: HeartbeatMonitor): void;
}

/**
 * Per-target state (Flink's `HeartbeatMonitorImpl`): the last heartbeat time, the watch of its
 * detector (Flink's timeout timer by default), the count of consecutive unreachable RPCs, and a
 * state machine that leaves RUNNING at most once. As in Flink, a heartbeat cancels the timeout
 * timer and schedules a new one, or re-arms the same one where the scheduler can (Node's timers);
 * the task and the RPC callbacks are bound once per monitor, so that a heartbeat allocates no
 * closure or timer for them.
 */
export class HeartbeatMonitor<O = unknown> {
  private state = HeartbeatMonitorState.Running;
  /** Wall-clock epoch ms, what `getLastHeartbeatFrom` reports; the detector measures on monotonic time. */
  private lastHeartbeat = 0;
  /** The same on the monotonic clock, for durations since it; -1 before the first heartbeat. */
  private lastHeartbeatMonotonic = -1;
  private failedRpcs = 0;
  private readonly watch: SilenceWatch;

  /**
   * @param target how to reach the target; `null` when this side only answers the target's
   * requests, in their replies.
   */
  constructor(
    readonly resourceId: string,
    readonly target: HeartbeatTarget<O> | null,
    private readonly context: HeartbeatMonitorContext,
  ) {
    this.watch = (context.detection ?? FIXED_TIMEOUT_DETECTION).watch(this, context);
    this.startWindow(monotonicNow(context.clock), false);
  }

  getState(): HeartbeatMonitorState {
    return this.state;
  }

  /** Epoch ms of the last heartbeat, 0 if none yet. */
  getLastHeartbeat(): number {
    return this.lastHeartbeat;
  }

  /**
   * Monotonic ms since the last heartbeat, at `now` (a monotonic reading); -1 before the first.
   * A step of the wall clock changes `getLastHeartbeat()`, not this.
   */
  millisSinceLastHeartbeat(now: number): number {
    return this.lastHeartbeatMonotonic < 0 ? -1 : Math.max(0, now - this.lastHeartbeatMonotonic);
  }

  /** Records a heartbeat and, while RUNNING, re-arms the timeout. */
  reportHeartbeat(): void {
    this.lastHeartbeat = this.context.clock.now();
    const now = monotonicNow(this.context.clock);
    this.lastHeartbeatMonotonic = now;
    this.startWindow(now, true);
  }

  /**
   * While RUNNING, gives the target a fresh timeout window from now without recording a heartbeat
   * (a sender's start: the silence before it proves nothing, since nothing was asked yet).
   */
  restartTimeout(): void {
    this.startWindow(monotonicNow(this.context.clock), false);
  }

  /**
   * Its detector's verdict that the target has been silent too long: unless `excused` (the silence
   * proves nothing, see `HeartbeatMonitorContext.silenceExcused`), which gives it a fresh window,
   * RUNNING -> TIMEOUT.
   */
  silenceDue(excused: boolean): void {
    if (excused) {
      this.restartTimeout();
    } else if (this.leaveRunning(HeartbeatMonitorState.Timeout)) {
      this.context.onTimeout(this.resourceId);
    }
  }

  reportHeartbeatRpcSuccess(): void {
    this.failedRpcs = 0;
  }

  reportHeartbeatRpcFailure(failure?: unknown): void {
    const threshold = this.context.rpcFailureThreshold;
    this.failedRpcs += 1;
    if (
      threshold > 0 &&
      this.failedRpcs >= threshold &&
      this.leaveRunning(HeartbeatMonitorState.Unreachable)
    ) {
      this.context.onUnreachable(this.resourceId, failure);
    }
  }

  /**
   * Settles a heartbeat RPC that reached the target, taking the answer its reply carried. Bound
   * once per monitor, as is {@link rpcFailed}, so that a heartbeat allocates no callback for them.
   */
  readonly rpcSucceeded = (reply: HeartbeatAnswer | void): void => {
    this.rpcSucceededAfter(reply, null);
  };

  /** {@link rpcSucceeded}, with the round trip measured for the manager's events. */
  rpcSucceededAfter(reply: HeartbeatAnswer | void, roundTripMs: number | null): void {
    this.reportHeartbeatRpcSuccess();
    if (isHeartbeatAnswer(reply)) {
      this.context.onAnswer?.(reply, this, roundTripMs);
    }
  }

  /** Settles a failed heartbeat RPC: only an unreachable recipient counts (Flink's rule). */
  readonly rpcFailed = (error: unknown): void => {
    this.context.onRpcFailed?.(error, this);
    if (RecipientUnreachableError.matches(error)) {
      this.reportHeartbeatRpcFailure(error);
    }
  };

  cancel(): void {
    this.leaveRunning(HeartbeatMonitorState.Canceled);
  }

  /** While RUNNING, a silence window starts at `now` (monotonic): with a heartbeat, or afresh. */
  private startWindow(now: number, heartbeat: boolean): void {
    if (this.state === HeartbeatMonitorState.Running) {
      this.watch.restart(now, heartbeat);
    }
  }

  /** The one way out of RUNNING: returns false if the monitor had already left it. */
  private leaveRunning(next: HeartbeatMonitorState): boolean {
    if (this.state !== HeartbeatMonitorState.Running) {
      return false;
    }
    this.state = next;
    this.watch.cancel();
    return true;
  }
}

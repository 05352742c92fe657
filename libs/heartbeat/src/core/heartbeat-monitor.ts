import type { Cancellable, Clock, Scheduler } from './clock.js';
import {
  isHeartbeatAnswer,
  type HeartbeatAnswer,
  type HeartbeatTarget,
} from './heartbeat-target.interface.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';

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
  /**
   * Whether silence until `deadline` proves nothing, so the target gets a fresh window instead of
   * a timeout: this process itself stalled near it (see `StallGuard`), or nobody has asked the
   * target yet (a sender not started). Never, if absent.
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
 * Per-target state (Flink's `HeartbeatMonitorImpl`): the last heartbeat time, the timeout timer,
 * the count of consecutive unreachable RPCs, and a state machine that leaves RUNNING at most once.
 * As in Flink, a heartbeat cancels the timeout timer and schedules a new one, or re-arms the same
 * one where the scheduler can (Node's timers); the task and the RPC callbacks are bound once per
 * monitor, so that a heartbeat allocates no closure or timer for them.
 */
export class HeartbeatMonitor<O = unknown> {
  private state = HeartbeatMonitorState.Running;
  private lastHeartbeat = 0;
  private failedRpcs = 0;
  private deadline = 0;
  private timeoutTask: Cancellable | null = null;

  /**
   * @param target how to reach the target; `null` when this side only answers the target's
   * requests, in their replies.
   */
  constructor(
    readonly resourceId: string,
    readonly target: HeartbeatTarget<O> | null,
    private readonly context: HeartbeatMonitorContext,
  ) {
    this.armTimeout();
  }

  getState(): HeartbeatMonitorState {
    return this.state;
  }

  /** Epoch ms of the last heartbeat, 0 if none yet. */
  getLastHeartbeat(): number {
    return this.lastHeartbeat;
  }

  /** Records a heartbeat and, while RUNNING, re-arms the timeout. */
  reportHeartbeat(): void {
    this.lastHeartbeat = this.context.clock.now();
    this.armTimeout();
  }

  /**
   * While RUNNING, gives the target a fresh timeout window from now without recording a heartbeat
   * (a sender's start: the silence before it proves nothing, since nothing was asked yet).
   */
  restartTimeout(): void {
    this.armTimeout();
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

  private armTimeout(): void {
    if (this.state !== HeartbeatMonitorState.Running) {
      return;
    }
    this.deadline = this.context.clock.now() + this.context.timeout;
    const task = this.timeoutTask;
    if (task?.refresh) {
      task.refresh(); // the same timer, re-armed: a heartbeat allocates none
    } else {
      task?.cancel();
      this.timeoutTask = this.context.scheduler.schedule(this.timeoutDue, this.context.timeout);
    }
  }

  private readonly timeoutDue = (): void => {
    if (this.context.silenceExcused?.(this.deadline)) {
      this.armTimeout();
    } else if (this.leaveRunning(HeartbeatMonitorState.Timeout)) {
      this.context.onTimeout(this.resourceId);
    }
  };

  /** The one way out of RUNNING: returns false if the monitor had already left it. */
  private leaveRunning(next: HeartbeatMonitorState): boolean {
    if (this.state !== HeartbeatMonitorState.Running) {
      return false;
    }
    this.state = next;
    this.timeoutTask?.cancel();
    this.timeoutTask = null;
    return true;
  }
}

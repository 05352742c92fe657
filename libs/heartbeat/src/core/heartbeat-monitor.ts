import type { Cancellable, Clock, Scheduler } from './clock.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';

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
  onUnreachable(resourceId: string): void;
}

/**
 * Per-target state (Flink's `HeartbeatMonitorImpl`): the last heartbeat time, the timeout timer,
 * the count of consecutive unreachable RPCs, and a state machine that leaves RUNNING at most once.
 */
export class HeartbeatMonitor<O = unknown> {
  private state = HeartbeatMonitorState.Running;
  private lastHeartbeat = 0;
  private failedRpcs = 0;
  private timeoutTask: Cancellable | null = null;

  constructor(
    readonly resourceId: string,
    readonly target: HeartbeatTarget<O>,
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

  reportHeartbeatRpcFailure(): void {
    const threshold = this.context.rpcFailureThreshold;
    this.failedRpcs += 1;
    if (
      threshold > 0 &&
      this.failedRpcs >= threshold &&
      this.leaveRunning(HeartbeatMonitorState.Unreachable)
    ) {
      this.context.onUnreachable(this.resourceId);
    }
  }

  cancel(): void {
    this.leaveRunning(HeartbeatMonitorState.Canceled);
  }

  private armTimeout(): void {
    if (this.state !== HeartbeatMonitorState.Running) {
      return;
    }
    this.timeoutTask?.cancel();
    const deadline = this.context.clock.now() + this.context.timeout;
    this.timeoutTask = this.context.scheduler.schedule(() => {
      this.timeoutTask = null;
      if (this.context.silenceExcused?.(deadline)) {
        this.armTimeout();
      } else if (this.leaveRunning(HeartbeatMonitorState.Timeout)) {
        this.context.onTimeout(this.resourceId);
      }
    }, this.context.timeout);
  }

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

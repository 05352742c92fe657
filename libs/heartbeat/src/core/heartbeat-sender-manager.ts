import type { Cancellable } from './clock.js';
import {
  HeartbeatReceiverManager,
  type HeartbeatManagerOptions,
} from './heartbeat-receiver-manager.js';

/**
 * The sending side (Flink's `HeartbeatManagerSenderImpl`): a receiver manager that also asks
 * every monitored target for a heartbeat, once right away and then `interval` after each run
 * (fixed delay). Sending a request does not reset a target's timeout; only its answers do.
 */
export class HeartbeatSenderManager<I = unknown, O = unknown> extends HeartbeatReceiverManager<
  I,
  O
> {
  private nextRun: Cancellable | null = null;
  private started = false;

  /** With `deferStart` the loop begins at `start()`; otherwise on creation, as in Flink. */
  constructor(options: HeartbeatManagerOptions<I, O> & { readonly deferStart?: boolean }) {
    super(options);
    if (!options.deferStart) {
      this.start();
    }
  }

  /** Starts the loop: a first run right away, then one `interval` after each. Idempotent. */
  start(): void {
    if (this.started || this.isStopped) {
      return;
    }
    this.started = true;
    this.nextRun = this.scheduler.schedule(() => this.run(), 0);
  }

  override stop(): void {
    super.stop();
    this.nextRun?.cancel();
    this.nextRun = null;
  }

  private run(): void {
    this.nextRun = null;
    if (this.isStopped) {
      return;
    }
    for (const monitor of this.monitors.values()) {
      this.sendHeartbeat(monitor, (target, payload) =>
        target.requestHeartbeat(this.ownResourceId, payload),
      );
    }
    this.nextRun = this.scheduler.schedule(() => this.run(), this.configuration.interval);
  }
}

import type { Cancellable } from './clock.js';
import type { HeartbeatMonitor } from './heartbeat-monitor.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import type { HeartbeatAnswer, HeartbeatTarget } from './heartbeat-target.interface.js';

/**
 * Requests go out in slices of this many targets, each slice in a timer task of its own, so that a
 * large manager's burst does not hold up reading answers and firing timeouts for long.
 */
export const REQUESTS_PER_SLICE = 128;

/** The share of the interval over which a round's slices are spread. */
const ROUND_SPREAD = 0.25;

/**
 * The sending side (Flink's `HeartbeatManagerSenderImpl`): a receiver manager that also asks
 * every monitored target for a heartbeat, once as soon as it is started and then every `interval`,
 * on planned times that late timers do not push back (a round's requests go out in slices). Under overload an unfinished round
 * delays the next one, which then starts as soon as it ends. Sending a request does not reset a
 * target's timeout; only its answers do.
 *
 * Made by `HeartbeatServices.createSenderManager`. Creating it sends nothing and schedules no loop:
 * the loop begins at `start()` (Flink starts it on creation), so that an owner whose start-up fails
 * leaves no timer behind. In Nest, `HeartbeatRegistry` calls `start()` when the application
 * bootstraps. Until then no target monitored before the start is declared lost (nothing was asked
 * of it; the first timeout logs a warning, once per sender, to call `start()`), and the start gives
 * each a fresh timeout window.
 */
export class HeartbeatSenderManager<I = unknown, O = unknown> extends HeartbeatReceiverManager<
  I,
  O
> {
  private nextRun: Cancellable | null = null;
  /** When the current round was planned to start (-1 before the first). */
  private nextRunAt = -1;
  private readonly runTask = () => this.run();
  private nextSlice: Cancellable | null = null;
  private roundOverdue = false;
  private started = false;
  private warnedNotStarted = false;

  /**
   * Starts monitoring a target it will ask for heartbeats: a sender needs a `target`. Its answers
   * may come back in the replies to its requests or as separate `receiveHeartbeat` calls.
   */
  override monitorTarget(resourceId: string, target: HeartbeatTarget<O>): void {
    if (typeof target?.requestHeartbeat !== 'function') {
      throw new TypeError(
        `Heartbeat sender ${this.ownResourceId}: monitorTarget(${JSON.stringify(resourceId)}) needs ` +
          `a target to send requests to (a HeartbeatTarget, e.g. from createTcpTarget), got ${String(target)}`,
      );
    }
    super.monitorTarget(resourceId, target);
  }

  /** Whether `start()` has begun the loop (it stays true after `stop()`). */
  get isStarted(): boolean {
    return this.started;
  }

  /**
   * Starts the loop: a first run right away (in a timer task of delay 0), then one every
   * `interval`. The targets already monitored get a fresh `timeout` window from now: their silence
   * before the start proves nothing, since no request had gone out. Idempotent; a stopped sender
   * does not start again.
   */
  start(): void {
    if (this.started || this.isStopped) {
      return;
    }
    this.started = true;
    for (const monitor of this.monitors.values()) {
      monitor.restartTimeout();
    }
    this.nextRun = this.scheduler.schedule(this.runTask, 0);
  }

  /**
   * Before `start()` nobody has asked the targets, so their silence proves nothing: they are not
   * declared lost but get a fresh window. Said once per sender, so that a forgotten `start()` does
   * not go unnoticed.
   * @internal
   */
  protected override silenceExcused(resourceId: string, deadline: number): boolean {
    if (this.started || this.isStopped) {
      return super.silenceExcused(resourceId, deadline);
    }
    if (!this.warnedNotStarted) {
      this.warnedNotStarted = true;
      this.logger.warn(
        `Heartbeat sender ${this.ownResourceId}: no heartbeat from ${resourceId} within the timeout, ` +
          `but this sender has not been started, so it has not asked for one; its targets' ` +
          `timeouts wait for start() (in Nest, the application's bootstrap starts the senders; ` +
          `outside Nest, call start() on the sender HeartbeatServices.createSenderManager returns)`,
      );
    }
    return true;
  }

  override stop(): void {
    super.stop();
    this.nextRun?.cancel();
    this.nextRun = null;
    this.nextSlice?.cancel();
    this.nextSlice = null;
    this.roundOverdue = false;
  }

  private run(): void {
    this.nextRun = null;
    if (this.isStopped) {
      return;
    }
    // Rounds keep to the planned times, `interval` apart: a timer that fires a little late, or
    // the first slice's own time, does not push every later round back. A run late by a whole
    // interval or more (a stall) plans afresh from now.
    const now = this.clock.now();
    if (this.nextRunAt < 0 || now >= this.nextRunAt + this.configuration.interval) {
      this.nextRunAt = now;
    }
    // An overloaded process may not finish a round within the interval: the unfinished round goes
    // on (so the last targets are asked too) and the next one starts as soon as it ends.
    if (this.nextSlice) {
      this.roundOverdue = true;
    } else {
      this.requestSlice([...this.monitors.values()], 0);
    }
    if (!this.isStopped) {
      // (a listener may have stopped the manager during the slice)
      this.nextRunAt += this.configuration.interval;
      this.nextRun = this.scheduler.schedule(
        this.runTask,
        Math.max(0, this.nextRunAt - this.clock.now()),
      );
    }
  }

  private readonly sendRequest = (
    target: HeartbeatTarget<O>,
    payload: O | null,
  ): Promise<HeartbeatAnswer | void> => target.requestHeartbeat(this.ownResourceId, payload);

  private requestSlice(round: readonly HeartbeatMonitor<O>[], start: number): void {
    this.nextSlice = null;
    const end = Math.min(round.length, start + REQUESTS_PER_SLICE);
    for (let index = start; index < end; index += 1) {
      const monitor = round[index];
      if (this.monitors.get(monitor.resourceId) === monitor) {
        this.sendHeartbeat(monitor, this.sendRequest);
      }
    }
    if (this.isStopped) {
      return; // stopped by a listener during the slice
    }
    if (end < round.length) {
      // A round's slices are spread over the first part of the interval: their answers come back
      // spread too, so that no burst of replies holds up the timers (timeouts fire on time).
      const slices = Math.ceil(round.length / REQUESTS_PER_SLICE);
      const gap = this.roundOverdue
        ? 0
        : Math.floor((this.configuration.interval * ROUND_SPREAD) / slices);
      this.nextSlice = this.scheduler.schedule(() => this.requestSlice(round, end), gap);
    } else if (this.roundOverdue) {
      this.roundOverdue = false;
      const next = [...this.monitors.values()];
      this.nextSlice = this.scheduler.schedule(() => this.requestSlice(next, 0), 0);
    }
  }
}

import { monotonicNow, type Cancellable } from './clock.js';
import type { HeartbeatMonitor } from './heartbeat-monitor.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import type { HeartbeatAnswer, HeartbeatTarget } from './heartbeat-target.interface.js';

/**
 * Requests go out in slices of at most this many targets, each slice in a timer task of its own,
 * so that a large manager's burst does not hold up reading answers and firing timeouts for long.
 */
export const REQUESTS_PER_SLICE = 128;

/**
 * The share of the interval over which a round's slices are spread, about one slice per ms: the
 * answers come back spread too, so that no burst of replies holds up the timers (a timeout falls
 * due about when its target's slice goes out, a round trip after that target's last answer).
 */
const ROUND_SPREAD = 0.25;
/** The fewest requests a slice of a spread round carries. */
const MIN_SLICE = 16;

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
  /** When the current round was planned to start, in monotonic ms (-1 before the first). */
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
  protected override silenceExcused(resourceId: string, since: number): boolean {
    if (this.started || this.isStopped) {
      return super.silenceExcused(resourceId, since);
    }
    if (!this.warnedNotStarted) {
      this.warnedNotStarted = true;
      // Phi-accrual may judge a target heard from (it sent requests of its own) before the timeout.
      const [silence, asked, waiting] = this.configuration.detector
        ? [
            `${resourceId} has been silent long enough to be declared lost`,
            'a heartbeat',
            'verdicts',
          ]
        : [`no heartbeat from ${resourceId} within the timeout`, 'one', 'timeouts'];
      this.logger.warn(
        `Heartbeat sender ${this.ownResourceId}: ${silence}, ` +
          `but this sender has not been started, so it has not asked for ${asked}; its targets' ` +
          `${waiting} wait for start() (in Nest, the application's bootstrap starts the senders; ` +
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
    const now = monotonicNow(this.clock);
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
        Math.max(0, this.nextRunAt - monotonicNow(this.clock)),
      );
    }
  }

  private readonly sendRequest = (
    target: HeartbeatTarget<O>,
    payload: O | null,
  ): Promise<HeartbeatAnswer | void> => target.requestHeartbeat(this.ownResourceId, payload);

  /** `hurry`: an overdue round, whose slices follow each other at once instead of spread. */
  private requestSlice(round: readonly HeartbeatMonitor<O>[], start: number, hurry = false): void {
    this.nextSlice = null;
    const spreadMs = this.configuration.interval * ROUND_SPREAD;
    // A round of up to one slice goes out at once, as in Flink; a larger one in slices small
    // enough to spread it (but not below MIN_SLICE requests, not to run a task per request).
    const size =
      round.length <= REQUESTS_PER_SLICE
        ? REQUESTS_PER_SLICE
        : Math.min(REQUESTS_PER_SLICE, Math.max(MIN_SLICE, Math.ceil(round.length / spreadMs)));
    const end = Math.min(round.length, start + size);
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
      // Late rounds catch up at once; otherwise the slices share the spread evenly.
      const late = hurry || this.roundOverdue;
      const gap = late ? 0 : Math.floor(spreadMs / Math.ceil(round.length / size));
      this.nextSlice = this.scheduler.schedule(() => this.requestSlice(round, end, hurry), gap);
    } else if (this.roundOverdue) {
      this.roundOverdue = false;
      const next = [...this.monitors.values()];
      this.nextSlice = this.scheduler.schedule(() => this.requestSlice(next, 0, true), 0);
    }
  }
}

/**
 * The managers' time. `now()` is the wall clock, in epoch milliseconds: it only stamps the epoch
 * times the library reports (`getLastHeartbeatFrom`, the events' `at`). Every duration (timeouts,
 * the stall guard, round trips, the sender's schedule, request deadlines, phi's inter-arrival
 * times) is measured on `monotonicNow()`, which an NTP step or a manual change of the system time
 * does not move.
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds; the time recorded as "last heartbeat". */
  now(): number;
  /**
   * Optional: milliseconds from any fixed origin that never step (`performance.now()` for the
   * system clock). A clock without it has `now()` serve for durations too, so its wall-clock steps
   * count as time passing (or going back), as they did before this reading existed.
   */
  monotonicNow?(): number;
}

/** A scheduled task that has not run yet can be cancelled; cancelling twice is harmless. */
export interface Cancellable {
  cancel(): void;
  /**
   * Optional: schedules the task again, its first delay from now, reusing what it holds (Node's
   * `timeout.refresh()`), also once it ran; a cancelled task stays cancelled. Without it, the
   * caller cancels and schedules anew.
   */
  refresh?(): void;
}

/** Runs a task once after a delay. Injected so tests drive timeouts with fake time. */
export interface Scheduler {
  schedule(task: () => void, delayMs: number): Cancellable;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicNow: () => performance.now(),
};

/**
 * The monotonic time of `clock`, for durations: its `monotonicNow()`, or its `now()` for a clock
 * without one. The one place that makes that choice.
 * @internal
 */
export function monotonicNow(clock: Clock): number {
  return clock.monotonicNow ? clock.monotonicNow() : clock.now();
}

/** A Node timer as a `Cancellable`, without a closure per task (timeouts are re-armed per heartbeat). */
class NodeTimerTask implements Cancellable {
  constructor(private readonly handle: ReturnType<typeof setTimeout>) {}

  cancel(): void {
    clearTimeout(this.handle);
  }

  refresh(): void {
    this.handle.refresh();
  }
}

export const timerScheduler: Scheduler = {
  schedule: (task, delayMs) => new NodeTimerTask(setTimeout(task, delayMs)),
};

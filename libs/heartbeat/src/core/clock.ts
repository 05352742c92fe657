/** Wall-clock time in epoch milliseconds; the time recorded as "last heartbeat". */
export interface Clock {
  now(): number;
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

export const systemClock: Clock = { now: () => Date.now() };

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

/** Wall-clock time in epoch milliseconds; the time recorded as "last heartbeat". */
export interface Clock {
  now(): number;
}

/** A scheduled task that has not run yet can be cancelled; cancelling twice is harmless. */
export interface Cancellable {
  cancel(): void;
}

/** Runs a task once after a delay. Injected so tests drive timeouts with fake time. */
export interface Scheduler {
  schedule(task: () => void, delayMs: number): Cancellable;
}

export const systemClock: Clock = { now: () => Date.now() };

export const timerScheduler: Scheduler = {
  schedule(task, delayMs) {
    const handle = setTimeout(task, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

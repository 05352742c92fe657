import type { Cancellable, Clock, Scheduler } from './clock.js';

interface PendingTask {
  readonly due: number;
  readonly order: number;
  readonly run: () => void;
  cancelled: boolean;
}

/**
 * Fake time for tests: a clock and a scheduler that only move when `advance` is called.
 * Tasks run in due order; a task scheduled while advancing runs in the same call if it falls due.
 */
export class ManualClock implements Clock, Scheduler {
  private current: number;
  private nextOrder = 0;
  private tasks: PendingTask[] = [];

  constructor(startMs = 1_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  schedule(run: () => void, delayMs: number): Cancellable {
    let task = this.add(run, delayMs);
    let cancelled = false;
    return {
      cancel: () => {
        cancelled = true;
        task.cancelled = true;
      },
      // As Node's `timeout.refresh()`: again from now, also once it ran, but not once cancelled.
      refresh: () => {
        if (!cancelled) {
          task.cancelled = true;
          task = this.add(run, delayMs);
        }
      },
    };
  }

  private add(run: () => void, delayMs: number): PendingTask {
    const task: PendingTask = {
      due: this.current + Math.max(0, delayMs),
      order: this.nextOrder++,
      run,
      cancelled: false,
    };
    this.tasks.push(task);
    return task;
  }

  /** Moves time forward by `ms`, running every task that falls due on the way. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`ManualClock.advance needs a finite number of ms >= 0, got ${ms}`);
    }
    const target = this.current + ms;
    for (let task = this.nextDue(target); task; task = this.nextDue(target)) {
      this.current = task.due;
      task.run();
    }
    this.current = target;
  }

  /**
   * Moves time forward by `ms` as a blocked event loop does: nothing runs on the way, then every
   * task that fell due runs late, in due order, all seeing the new time.
   */
  stall(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`ManualClock.stall needs a finite number of ms >= 0, got ${ms}`);
    }
    this.current += ms;
    for (let task = this.nextDue(this.current); task; task = this.nextDue(this.current)) {
      task.run();
    }
  }

  /** Tasks scheduled and neither run nor cancelled. */
  get pendingTasks(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }

  private nextDue(limit: number): PendingTask | undefined {
    this.tasks = this.tasks.filter((task) => !task.cancelled);
    let next: PendingTask | undefined;
    for (const task of this.tasks) {
      if (
        task.due <= limit &&
        (!next || task.due < next.due || (task.due === next.due && task.order < next.order))
      ) {
        next = task;
      }
    }
    if (next) {
      next.cancelled = true;
    }
    return next;
  }
}

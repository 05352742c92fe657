import type { Cancellable, Clock, Scheduler } from './clock.js';

interface PendingTask {
  readonly due: number;
  readonly order: number;
  readonly run: () => void;
  cancelled: boolean;
}

/**
 * Fake time for tests: a clock and a scheduler that only move when `advance` (or `stall`) is
 * called. Tasks run in due order; a task scheduled while advancing runs in the same call if it
 * falls due. Its wall clock (`now()`) and its monotonic time (`monotonicNow()`) start at the same
 * reading and move together, except that `stepWallClock` moves the wall clock alone, as an NTP
 * step or a change of the system time does.
 */
export class ManualClock implements Clock, Scheduler {
  /** Monotonic time: what tasks fall due by. */
  private current: number;
  /** How far the wall clock has been stepped away from the monotonic time. */
  private wallOffset = 0;
  private nextOrder = 0;
  private tasks: PendingTask[] = [];

  constructor(startMs = 1_000_000) {
    this.current = startMs;
  }

  /** Wall-clock time: the monotonic time plus every `stepWallClock` so far. */
  now(): number {
    return this.current + this.wallOffset;
  }

  monotonicNow(): number {
    return this.current;
  }

  /**
   * Steps the wall clock alone by `deltaMs`, back if negative: no time passes, no task runs, and
   * `monotonicNow()` does not move. A step that would leave `now()` at 0 or below is refused
   * (a RangeError): the managers use 0 and -1 as "no heartbeat yet".
   */
  stepWallClock(deltaMs: number): void {
    if (!Number.isFinite(deltaMs)) {
      throw new RangeError(`ManualClock.stepWallClock needs a finite number of ms, got ${deltaMs}`);
    }
    const wallAfter = this.now() + deltaMs;
    if (wallAfter <= 0) {
      throw new RangeError(
        `ManualClock.stepWallClock(${deltaMs}) would set the wall clock to ${wallAfter} ms, but it ` +
          `must stay above 0 (0 and -1 mean "no heartbeat yet"); it reads ${this.now()} ms now`,
      );
    }
    this.wallOffset += deltaMs;
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

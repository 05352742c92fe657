import { monotonicNow, type Cancellable, type Clock, type Scheduler } from './clock.js';
import type { ResolvedPhiAccrualDetector } from './heartbeat-configuration.js';
import type { HeartbeatMonitor, HeartbeatMonitorContext } from './heartbeat-monitor.js';
import { PhiAccrualEstimator } from './phi-accrual.js';

/**
 * How a monitor learns that its target has been silent too long: its manager's detector. A monitor
 * gets one watch at construction, tells it of every silence window it starts, and hears its
 * verdicts through `HeartbeatMonitor.silenceDue`.
 */
export interface SilenceDetection {
  watch(monitor: HeartbeatMonitor, context: HeartbeatMonitorContext): SilenceWatch;
}

/** One monitor's side of its detector. Times are monotonic ms. */
export interface SilenceWatch {
  /**
   * A silence window starts at `now`: with a heartbeat (`heartbeat`), or afresh without one (a
   * new monitor, a sender's start, silence excused by a stall).
   */
  restart(now: number, heartbeat: boolean): void;
  /** The monitor left RUNNING: no verdict any more, and no timer left for it. */
  cancel(): void;
}

/**
 * Flink's fixed timeout: one timer per monitor, due `timeout` after its window started, re-armed
 * (refreshed where the scheduler can, so that a heartbeat allocates nothing) on every heartbeat.
 */
class FixedTimeoutWatch implements SilenceWatch {
  private deadline = 0;
  private task: Cancellable | null = null;

  constructor(
    private readonly monitor: HeartbeatMonitor,
    private readonly context: HeartbeatMonitorContext,
  ) {}

  restart(now: number): void {
    this.deadline = now + this.context.timeout;
    const task = this.task;
    if (task?.refresh) {
      task.refresh(); // the same timer, re-armed: a heartbeat allocates none
    } else {
      task?.cancel();
      this.task = this.context.scheduler.schedule(this.due, this.context.timeout);
    }
  }

  cancel(): void {
    this.task?.cancel();
    this.task = null;
  }

  private readonly due = (): void => {
    this.monitor.silenceDue(this.context.silenceExcused?.(this.deadline) ?? false);
  };
}

/** The default detector, Flink's: a timer per monitor. */
export const FIXED_TIMEOUT_DETECTION: SilenceDetection = {
  watch: (monitor, context) => new FixedTimeoutWatch(monitor, context),
};

/** The fewest ms between two sweeps: below it, sweeping would cost more than it gains. */
const MIN_SWEEP_PERIOD_MS = 5;
/** Sweeps per interval: a verdict is at most a tenth of an interval late. */
const SWEEPS_PER_INTERVAL = 10;

/** The period of a phi-accrual manager's sweep: a tenth of the interval, at least 5 ms. */
export function phiSweepPeriod(interval: number): number {
  return Math.max(MIN_SWEEP_PERIOD_MS, interval / SWEEPS_PER_INTERVAL);
}

/** What a manager gives its phi-accrual detector. */
export interface PhiAccrualDetectionOptions {
  readonly settings: ResolvedPhiAccrualDetector;
  /** The manager's `interval`: the first-heartbeat estimate, and what the sweep period follows. */
  readonly interval: number;
  /** The manager's `timeout`: still an upper bound on any silence. */
  readonly timeout: number;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Whether this process itself stalled after `time` (monotonic ms): the stall guard's answer. */
  stalledAfter(time: number): boolean;
  /**
   * Whether a verdict on a target silent since `since` is excused, so that it gets a fresh window
   * instead: this process stalled after `since`, or (a sender not started) nobody asked it yet.
   */
  silenceExcused(resourceId: string, since: number): boolean;
}

/**
 * Akka's phi-accrual failure detector for one manager. Each monitor keeps its own estimator (the
 * inter-arrival times of its heartbeats); one sweep timer for the whole manager, not one per
 * target, evaluates every monitor each `phiSweepPeriod(interval)`, and only while there is any.
 */
export class PhiAccrualDetection implements SilenceDetection {
  readonly sweepPeriod: number;
  private readonly watches = new Set<PhiAccrualWatch>();
  /** The sweep's timer, kept to be refreshed; dropped once cancelled, which it cannot survive. */
  private timer: Cancellable | null = null;
  private armed = false;

  constructor(readonly options: PhiAccrualDetectionOptions) {
    this.sweepPeriod = phiSweepPeriod(options.interval);
  }

  watch(monitor: HeartbeatMonitor): SilenceWatch {
    return new PhiAccrualWatch(monitor, this);
  }

  /** A watch that started its first window joins the sweep. */
  track(watch: PhiAccrualWatch): void {
    this.watches.add(watch);
    this.arm();
  }

  /** A watch that was cancelled leaves it; the last one out stops the timer. */
  untrack(watch: PhiAccrualWatch): void {
    this.watches.delete(watch);
    if (this.watches.size === 0 && this.armed) {
      this.armed = false;
      this.timer?.cancel();
      this.timer = null;
    }
  }

  private arm(): void {
    if (this.armed) {
      return;
    }
    this.armed = true;
    if (this.timer?.refresh) {
      this.timer.refresh(); // the same timer again: a sweep allocates none
    } else {
      this.timer = this.options.scheduler.schedule(this.sweep, this.sweepPeriod);
    }
  }

  private readonly sweep = (): void => {
    this.armed = false;
    const now = monotonicNow(this.options.clock);
    // A verdict may unmonitor targets (deleting while iterating a Set is safe) or stop the manager.
    for (const watch of this.watches) {
      watch.evaluate(now);
    }
    if (this.watches.size > 0) {
      this.arm();
    }
  };
}

/**
 * One monitor's phi-accrual state: its estimator and two anchors. The timeout's anchor moves only
 * on a heartbeat, a fresh window (a new monitor, a sender's start) or an excused timeout, so that
 * `timeout` stays an upper bound however often phi's verdicts are excused; phi's own window also
 * restarts on an excused phi verdict. Before the first heartbeat only the timeout applies (there
 * is no rhythm to judge by yet).
 */
class PhiAccrualWatch implements SilenceWatch {
  private readonly estimator: PhiAccrualEstimator;
  /** Where the silence phi judges began: the last heartbeat, or a fresh or excused window. */
  private windowStart = 0;
  /** Where the silence the timeout judges began. */
  private timeoutStart = 0;
  /** Whether the window began with a heartbeat, so that the next one's interval is a sample. */
  private sampleable = false;
  private heard = false;
  private tracked = false;

  constructor(
    private readonly monitor: HeartbeatMonitor,
    private readonly detection: PhiAccrualDetection,
  ) {
    const { settings, interval } = detection.options;
    this.estimator = new PhiAccrualEstimator(settings, interval);
  }

  restart(now: number, heartbeat: boolean): void {
    if (heartbeat) {
      if (this.sampleable) {
        this.sample(now - this.windowStart);
      }
      this.heard = true;
    }
    this.windowStart = now;
    this.timeoutStart = now;
    this.sampleable = heartbeat;
    if (!this.tracked) {
      this.tracked = true;
      this.detection.track(this);
    }
  }

  cancel(): void {
    if (this.tracked) {
      this.tracked = false;
      this.detection.untrack(this);
    }
  }

  /** The sweep's question: has the target been silent too long, by the timeout or by phi? */
  evaluate(now: number): void {
    const { options } = this.detection;
    const deadline = this.timeoutStart + options.timeout;
    if (now >= deadline) {
      // The fixed timeout's rule: excused only by a stall that ended within an interval of the
      // deadline (or a sender not started); then both windows start afresh.
      if (options.silenceExcused(this.monitor.resourceId, deadline - options.interval)) {
        this.timeoutStart = now;
        this.freshWindow(now);
      } else {
        this.monitor.silenceDue(false);
      }
    } else if (this.heard && this.estimator.suspects(now - this.windowStart)) {
      // A stall of this process after the window began inflated the silence: it proves nothing.
      // Only phi's window starts afresh: the timeout's deadline stays where it was.
      if (options.silenceExcused(this.monitor.resourceId, this.windowStart)) {
        this.freshWindow(now);
      } else {
        this.monitor.silenceDue(false);
      }
    }
  }

  private freshWindow(now: number): void {
    this.windowStart = now;
    this.sampleable = false;
  }

  /**
   * Records the interval a heartbeat ended, unless it says nothing of the target's rhythm: this
   * process stalled in it or less than an interval before it began (the backlog of heartbeats
   * read in a burst on resume), or the estimator already suspected so long a silence (as Akka,
   * which records an interval only while the target is still available).
   */
  private sample(intervalMs: number): void {
    const { options } = this.detection;
    if (
      !options.stalledAfter(this.windowStart - options.interval) &&
      !this.estimator.suspects(intervalMs)
    ) {
      this.estimator.addInterval(intervalMs);
    }
  }
}

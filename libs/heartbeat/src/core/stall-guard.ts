import { monotonicNow, type Cancellable, type Clock, type Scheduler } from './clock.js';
import type { HeartbeatLogger } from './heartbeat-listener.interface.js';

export interface StallGuardOptions {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger: HeartbeatLogger;
  /** Timers running at least this many ms late mean a stall; -1 disables the guard. */
  readonly threshold: number;
  /** Names the owner and the consequence in the one warning logged per stall. */
  describeStall(gapMs: number): string;
  /** Told of each stall, after the warning (for the owner's events). */
  onStall?(gapMs: number): void;
}

/**
 * Watches this process's own scheduling delay. A blocked event loop (long synchronous work, a GC
 * pause, a frozen VM) holds back the timeout timers and the heartbeats that did arrive alike, so on
 * resume every target would look silent. A tick every half threshold notes when timers last ran;
 * a tick at least `threshold` ms late means the process itself stalled.
 */
export class StallGuard {
  /** Monotonic ms, as every time the guard keeps. */
  private lastSeenRunning = 0;
  private lastStallEnd = Number.NEGATIVE_INFINITY;
  private tick: Cancellable | null = null;

  constructor(private readonly options: StallGuardOptions) {}

  get isRunning(): boolean {
    return this.tick !== null;
  }

  /** Starts ticking (idempotent); only needed while there is something to time out. */
  start(): void {
    if (this.tick || this.options.threshold === -1) {
      return;
    }
    this.lastSeenRunning = monotonicNow(this.options.clock);
    this.scheduleTick();
  }

  stop(): void {
    this.tick?.cancel();
    this.tick = null;
  }

  /**
   * Whether a stall of the process ended after `time` (monotonic ms, as `monotonicNow` reads the
   * clock: a step of the wall clock is no stall), counting one that is ending just
   * now: after a stall the overdue timers run in due order, some before the guard's own tick.
   */
  stalledAfter(time: number): boolean {
    if (this.tick) {
      this.observe(false);
    }
    return this.lastStallEnd > time;
  }

  private scheduleTick(): void {
    this.tick = this.options.scheduler.schedule(() => {
      this.observe(true);
      this.scheduleTick();
    }, this.tickPeriod);
  }

  private get tickPeriod(): number {
    return Math.max(1, Math.floor(this.options.threshold / 2));
  }

  /** Between ticks only a stall moves the mark: the pending tick's lateness is measured from it. */
  private observe(byTick: boolean): void {
    const now = monotonicNow(this.options.clock);
    const gap = now - this.lastSeenRunning;
    const stalled = gap - this.tickPeriod >= this.options.threshold;
    if (byTick || stalled) {
      this.lastSeenRunning = now;
    }
    if (stalled) {
      this.lastStallEnd = now;
      // Whole ms, as before the clock was monotonic (performance.now() has fractions).
      const gapMs = Math.round(gap);
      this.options.logger.warn(this.options.describeStall(gapMs));
      this.options.onStall?.(gapMs);
    }
  }
}

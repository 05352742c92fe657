import { monotonicNow, type Clock } from './clock.js';
import type { HeartbeatLogger } from './heartbeat-listener.interface.js';

/** The most (peer, reason) pairs remembered at once; past it, new pairs are only counted. */
const MAX_TRACKED = 1024;
/**
 * The most lines logged per interval, all pairs together: a peer can claim any origin, so a
 * per-pair limit alone does not bound the log.
 */
const MAX_LINES_PER_INTERVAL = 20;

interface LogWindow {
  /** Monotonic ms when this pair may be logged again. */
  until: number;
  suppressed: number;
}

/**
 * Logs rejected messages at most once per peer and reason per `intervalMs`, and at most
 * {@link MAX_LINES_PER_INTERVAL} lines per interval in all, counting the rest, so that a flood
 * from a hostile client cannot fill the disk however it varies what it claims. The reason is the
 * problem as said (a wrong credential and a stale token from one peer are two lines). The next
 * line logged for a pair says how many of its own were suppressed since; the first line after a
 * busy interval says how many were suppressed in all. Memory and work per message are bounded.
 */
export class RejectionLog {
  private readonly windows = new Map<string, LogWindow>();
  /** The current interval, for the limit on lines in all. */
  private intervalEnds = Number.NEGATIVE_INFINITY;
  private linesInInterval = 0;
  /** Lines suppressed by the limit in all or on pairs, which no pair's next line will count. */
  private suppressedOverLimit = 0;

  constructor(
    private readonly logger: HeartbeatLogger,
    private readonly clock: Clock,
    readonly intervalMs: number,
  ) {}

  /** Logs `message` (about a rejection for `reason` from `peer`) unless the limits say otherwise. */
  record(peer: string, reason: string, message: string): void {
    const now = monotonicNow(this.clock);
    if (now >= this.intervalEnds) {
      this.startInterval(now);
    }
    const key = `${reason}\u0000${peer}`;
    const window = this.windows.get(key);
    if (window && now < window.until) {
      window.suppressed += 1; // said on this pair's next line
      return;
    }
    if (
      (!window && this.windows.size >= MAX_TRACKED) ||
      this.linesInInterval >= MAX_LINES_PER_INTERVAL
    ) {
      this.suppressedOverLimit += 1; // said at the start of the next interval
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.set(key, { until: now + this.intervalMs, suppressed: 0 });
    this.linesInInterval += 1;
    this.logger.warn(
      suppressed > 0
        ? `${message} (${suppressed} more like it from this peer suppressed since its last line)`
        : message,
    );
  }

  /**
   * Once per interval: forget the pairs quiet for a whole interval after their window (a dropped
   * pair's own count moves to the summary), and say what the limits suppressed.
   */
  private startInterval(now: number): void {
    for (const [key, window] of this.windows) {
      if (now >= window.until + (window.suppressed > 0 ? this.intervalMs : 0)) {
        this.suppressedOverLimit += window.suppressed;
        this.windows.delete(key);
      }
    }
    if (this.suppressedOverLimit > 0) {
      this.logger.warn(
        `Suppressed ${this.suppressedOverLimit} more log line(s) of rejected heartbeat messages ` +
          `(at most ${MAX_LINES_PER_INTERVAL} lines per ${this.intervalMs} ms, one per peer and ` +
          `reason; the metrics count every rejection)`,
      );
    }
    this.intervalEnds = now + this.intervalMs;
    this.linesInInterval = 0;
    this.suppressedOverLimit = 0;
  }
}

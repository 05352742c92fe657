import type { Clock } from './clock.js';
import type { HeartbeatLogger } from './heartbeat-listener.interface.js';

/** The most (peer, reason) pairs remembered at once; past it, the pairs share one window. */
const MAX_TRACKED = 1024;
const OVERFLOW_KEY = '\u0000overflow';

interface LogWindow {
  /** Epoch ms when this pair may be logged again. */
  until: number;
  suppressed: number;
}

/**
 * Logs rejected messages at most once per peer and reason per `intervalMs`, counting the rest, so
 * that a flood from a hostile client cannot fill the disk. The reason is the problem as said (a
 * wrong credential and a stale token from one peer are two lines), not only its category. The next line logged for a pair says
 * how many were suppressed since its last. Memory is bounded: at most {@link MAX_TRACKED} pairs
 * (expired ones are dropped first; past that, new pairs share one window).
 */
export class RejectionLog {
  private readonly windows = new Map<string, LogWindow>();

  constructor(
    private readonly logger: HeartbeatLogger,
    private readonly clock: Clock,
    readonly intervalMs: number,
  ) {}

  /** Logs `message` (about a rejection for `reason` from `peer`) unless that pair was logged within the interval. */
  record(peer: string, reason: string, message: string): void {
    const now = this.clock.now();
    const key = this.keyFor(`${reason}\u0000${peer}`, now);
    const window = this.windows.get(key);
    if (window && now < window.until) {
      window.suppressed += 1;
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.set(key, { until: now + this.intervalMs, suppressed: 0 });
    this.logger.warn(
      suppressed > 0
        ? `${message} (${suppressed} more like it from this peer suppressed in the last ${this.intervalMs} ms or more)`
        : message,
    );
  }

  private keyFor(key: string, now: number): string {
    if (this.windows.has(key) || this.windows.size < MAX_TRACKED) {
      return key;
    }
    for (const [tracked, window] of this.windows) {
      // A dropped pair's suppressed count goes unsaid (the metrics still have it).
      if (now >= window.until) {
        this.windows.delete(tracked);
      }
    }
    return this.windows.size < MAX_TRACKED ? key : OVERFLOW_KEY;
  }
}

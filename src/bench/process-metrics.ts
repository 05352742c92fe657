import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** What one process measured about itself over a measurement window. */
export interface ProcessMetrics {
  readonly cpuMicros: number;
  readonly elapsedMs: number;
  readonly rssMb: number;
  /** Event-loop delay beyond the sampling period (see `LAG_RESOLUTION_MS`), p99 and max. */
  readonly loopLagP99Ms: number;
  readonly loopLagMaxMs: number;
}

/**
 * The histogram samples the loop with a timer of this period and records the time between two
 * samples, so an idle loop reads about one period: the real lag is what lies beyond it.
 */
const LAG_RESOLUTION_MS = 1;
const lagMs = (nanos: number) =>
  Number.isFinite(nanos) ? Math.max(0, nanos / 1e6 - LAG_RESOLUTION_MS) : 0;

/** CPU time, RSS and event-loop delay of this process between `start()` and `stop()`. */
export class MeasurementWindow {
  private cpuAtStart = process.cpuUsage();
  private startedAt = performance.now();
  private lag: IntervalHistogram | null = null;

  start(): void {
    this.lag?.disable();
    this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    this.lag.enable();
    this.cpuAtStart = process.cpuUsage();
    this.startedAt = performance.now();
  }

  stop(): ProcessMetrics {
    const cpu = process.cpuUsage(this.cpuAtStart);
    const elapsedMs = performance.now() - this.startedAt;
    this.lag?.disable();
    return {
      cpuMicros: cpu.user + cpu.system,
      elapsedMs,
      rssMb: process.memoryUsage().rss / 1_048_576,
      loopLagP99Ms: lagMs(this.lag?.percentile(99) ?? 0),
      loopLagMaxMs: lagMs(this.lag?.max ?? 0),
    };
  }
}

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** What one process measured about itself over a measurement window. */
export interface ProcessMetrics {
  readonly cpuMicros: number;
  readonly elapsedMs: number;
  readonly rssMb: number;
  readonly loopLagP99Ms: number;
  readonly loopLagMaxMs: number;
}

const nanosToMs = (nanos: number) => (Number.isFinite(nanos) ? nanos / 1e6 : 0);

/** CPU time, RSS and event-loop delay of this process between `start()` and `stop()`. */
export class MeasurementWindow {
  private cpuAtStart = process.cpuUsage();
  private startedAt = performance.now();
  private lag: IntervalHistogram | null = null;

  start(): void {
    this.lag?.disable();
    this.lag = monitorEventLoopDelay({ resolution: 10 });
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
      loopLagP99Ms: nanosToMs(this.lag?.percentile(99) ?? 0),
      loopLagMaxMs: nanosToMs(this.lag?.max ?? 0),
    };
  }
}

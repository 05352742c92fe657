import type { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { HeartbeatEvent } from '../../core/heartbeat-events.js';
import type { HeartbeatLogger } from '../../core/heartbeat-listener.interface.js';
import type { HeartbeatManager } from '../../core/heartbeat-manager.interface.js';

// These types describe prom-client by shape, not by `import type`: the package's declarations then
// compile in an app that does not have prom-client (an optional peer), whatever its skipLibCheck.

/**
 * Where the heartbeat metrics are registered: a prom-client `Registry` (`new Registry()`, or
 * prom-client's global `register`). Described by the methods the metrics use, so that the type
 * needs no prom-client.
 */
export interface HeartbeatMetricsRegistry {
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
  /** prom-client's metrics call it when they are made with this registry in `registers`. */
  registerMetric(metric: never): void;
}

/**
 * The prom-client module, as `import * as promClient from 'prom-client'` gives it: the metric
 * classes `HeartbeatMetrics` makes its metrics with, and the global `register` it uses by default.
 */
export interface PromClientModule {
  readonly Counter: new (configuration: never) => object;
  readonly Gauge: new (configuration: never) => object;
  readonly Histogram: new (configuration: never) => object;
  readonly register: HeartbeatMetricsRegistry;
}

/** Bucket upper bounds (seconds) of the metrics' histograms, each increasing, all > 0. */
export interface HeartbeatMetricsBuckets {
  /** Of `heartbeat_round_trip_seconds`. Default from 1 ms to 10 s. */
  readonly roundTripSeconds?: readonly number[];
  /** Of `heartbeat_time_since_last_heartbeat_seconds`. Default from 0.1 s to 5 min. */
  readonly timeSinceLastHeartbeatSeconds?: readonly number[];
  /** Of `heartbeat_stall_seconds`. Default from 50 ms to 1 min. */
  readonly stallSeconds?: readonly number[];
}

/** How the heartbeat metrics are made: `HeartbeatModule`'s `metrics` option, and `HeartbeatMetrics`'s. */
export interface HeartbeatMetricsOptions {
  /** Where to register them. Default: prom-client's global `register` (what `@willsoto/nestjs-prometheus` serves). */
  readonly registry?: HeartbeatMetricsRegistry;
  /** Starts every metric name. Default `heartbeat_`. */
  readonly prefix?: string;
  /**
   * Also `heartbeat_target_time_since_last_heartbeat_seconds{manager,target}`, one series per
   * monitored target: only for a bounded set of targets. Default false.
   */
  readonly perTarget?: boolean;
  readonly buckets?: HeartbeatMetricsBuckets;
}

/** What `HeartbeatMetrics` watches: the managers (read at each scrape) and their events. */
export interface HeartbeatMetricsSources {
  /** The managers by the name their events carry (in Nest, the names they are declared under). */
  readonly managers: ReadonlyMap<string, HeartbeatManager>;
  /**
   * The events counted (in Nest, `HeartbeatRegistry.events()`, which adds the rejections of
   * messages that named no manager). Default: the managers' own streams, merged.
   */
  readonly events?: Observable<HeartbeatEvent>;
  /** The managers' clock, for the time since each target's last heartbeat. Default: the system clock. */
  readonly clock?: Clock;
  /** Told when the metrics replace those of an earlier instance not closed. Default: the console. */
  readonly logger?: HeartbeatLogger;
}

import {
  Inject,
  Injectable,
  Logger,
  type FactoryProvider,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { timeSourcesOf } from '../core/heartbeat-services.js';
import {
  HEARTBEAT_LOGGER_CONTEXT,
  HEARTBEAT_METRICS,
  HEARTBEAT_RESOLVED_OPTIONS,
} from '../nest/heartbeat.constants.js';
import type { ResolvedHeartbeatOptions } from '../nest/heartbeat-options.validation.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import { HeartbeatMetrics } from './heartbeat-metrics.js';
import { loadPromClient } from './load-prom-client.js';

/**
 * The module's metrics, when its `metrics` option enables them: prom-client is loaded here, and
 * only then. Made while the providers are, before any `onModuleInit`, so that the targets an app
 * monitors there are counted from their start.
 */
export const heartbeatMetricsProvider: FactoryProvider<Promise<HeartbeatMetrics | null>> = {
  provide: HEARTBEAT_METRICS,
  useFactory: async (options: ResolvedHeartbeatOptions, registry: HeartbeatRegistry) => {
    if (!options.metrics) {
      return null;
    }
    const promClient = await loadPromClient();
    const names = registry.getManagerNames();
    return new HeartbeatMetrics(
      promClient,
      {
        managers: new Map(names.map((name) => [name, registry.getManager(name)])),
        events: registry.events(),
        clock: timeSourcesOf(options).clock,
        logger: new Logger(HEARTBEAT_LOGGER_CONTEXT),
      },
      options.metrics,
    );
  },
  inject: [HEARTBEAT_RESOLVED_OPTIONS, HeartbeatRegistry],
};

/**
 * Closes the metrics at shutdown, after the HTTP server (a last scrape) and the managers have
 * stopped: no more counting, and the registry is left without them, free for the next app.
 */
@Injectable()
export class HeartbeatMetricsShutdown implements OnApplicationShutdown {
  constructor(@Inject(HEARTBEAT_METRICS) private readonly metrics: HeartbeatMetrics | null) {}

  onApplicationShutdown(): void {
    this.metrics?.close();
  }
}

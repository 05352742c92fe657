import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  HEARTBEAT_MANAGER_DEFINITIONS,
  HEARTBEAT_MODULE_OPTIONS,
  HEARTBEAT_RESOLVED_OPTIONS,
} from './heartbeat.constants.js';
import { HeartbeatExplorer } from './heartbeat.explorer.js';
import { HeartbeatMetadataAccessor } from './heartbeat-metadata.accessor.js';
import { ConfigurableHeartbeatModule } from './heartbeat.module-definition.js';
import {
  resolveHeartbeatOptions,
  type ResolvedHeartbeatOptions,
} from './heartbeat-options.validation.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import { HEARTBEAT_ROUTES, HeartbeatIngress } from '../transport/heartbeat-ingress.js';
import { HeartbeatTargetFactory } from './heartbeat-target.factory.js';
import { HeartbeatTransportController } from '../transport/heartbeat-transport.controller.js';
import {
  AddressedPatternRegistrar,
  HEARTBEAT_OWN_IDS,
} from '../transport/addressed-pattern-registrar.js';
import { HeartbeatHealthIndicator } from '../health/heartbeat-health.indicator.js';
import {
  heartbeatMetricsProvider,
  HeartbeatMetricsShutdown,
} from '../metrics/heartbeat-metrics.provider.js';

/**
 * Flink's heartbeat services for Nest: `HeartbeatModule.forRoot({ resourceId, managers })` or
 * `forRootAsync({ managers, useFactory, inject, imports })`. Import it once per application.
 * It also provides `HeartbeatHealthIndicator` (for terminus) and, with the `metrics` option, the
 * managers' Prometheus metrics.
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [HeartbeatTransportController],
  providers: [
    {
      provide: HEARTBEAT_RESOLVED_OPTIONS,
      useFactory: resolveHeartbeatOptions,
      inject: [HEARTBEAT_MODULE_OPTIONS, HEARTBEAT_MANAGER_DEFINITIONS],
    },
    HeartbeatRegistry,
    { provide: HEARTBEAT_ROUTES, useExisting: HeartbeatRegistry },
    HeartbeatMetadataAccessor,
    HeartbeatExplorer,
    HeartbeatIngress,
    {
      // The ids a broker addresses heartbeats to in this application: its managers' own.
      provide: HEARTBEAT_OWN_IDS,
      useFactory: ({ managers }: ResolvedHeartbeatOptions) => [
        ...new Set(managers.map((manager) => manager.resourceId)),
      ],
      inject: [HEARTBEAT_RESOLVED_OPTIONS],
    },
    AddressedPatternRegistrar,
    HeartbeatTargetFactory,
    // Both cost nothing unless used: the metrics are null unless enabled, and the indicator
    // watches the events only from its first check.
    heartbeatMetricsProvider,
    HeartbeatMetricsShutdown,
    HeartbeatHealthIndicator,
  ],
  exports: [HeartbeatRegistry, HeartbeatTargetFactory, HeartbeatHealthIndicator],
})
export class HeartbeatModule extends ConfigurableHeartbeatModule {}

import { Controller, Get, Inject, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { HeartbeatHealthIndicator } from 'nestjs-heartbeat';
import type { Registry } from 'prom-client';
import { TASK_MANAGER_HEARTBEATS } from '#cluster';

/** The registry the ResourceManager's heartbeat metrics are registered in, and `/metrics` serves. */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/**
 * What operators watch: Prometheus metrics of the heartbeats, and a terminus health check for
 * readiness probes. The ResourceManager is healthy with no TaskManager (a cluster starts empty);
 * it is not while its heartbeat manager is stopped or right after the process stalled.
 */
@Controller()
export class ObservabilityController {
  constructor(
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    private readonly health: HealthCheckService,
    private readonly heartbeats: HeartbeatHealthIndicator,
  ) {}

  @Get('metrics')
  metrics(
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ): Promise<string> {
    response.setHeader('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () =>
        this.heartbeats.isHealthy(TASK_MANAGER_HEARTBEATS, { manager: TASK_MANAGER_HEARTBEATS }),
    ]);
  }
}

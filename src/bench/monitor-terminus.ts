/** What a Nest user does without the library: a @nestjs/terminus ping check of every target. */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { HealthCheckService, MicroserviceHealthIndicator, TerminusModule } from '@nestjs/terminus';
import { everyInterval } from './schedule.js';
import { report, type MonitorConfig, type TargetAddress } from './protocol.js';
import type { Tally } from './tally.js';

const SETTINGS = Symbol('settings');

@Injectable()
class TerminusPoller {
  constructor(
    private readonly health: HealthCheckService,
    private readonly microservice: MicroserviceHealthIndicator,
    @Inject(SETTINGS) private readonly settings: { config: MonitorConfig; tally: Tally },
  ) {}

  /** Every target every `interval`, all in one burst as a poller does (no slices). */
  watch(targets: TargetAddress[]): void {
    const { config, tally } = this.settings;
    const lastSuccess = new Map<string, number>();
    const reported = new Set<string>();
    const check = ({ id, host, port }: TargetAddress, index: number) =>
      this.health
        .check([
          () =>
            this.microservice.pingCheck(id, { transport: Transport.TCP, options: { host, port } }),
        ])
        .then(
          () => {
            tally.heartbeat(index);
            lastSuccess.set(id, Date.now());
          },
          () => {
            tally.heartbeat(index);
            tally.error();
            if (!reported.has(id)) {
              reported.add(id);
              const lastHeartbeat = lastSuccess.get(id) ?? 0;
              report({ type: 'lost', id, kind: 'check-failed', at: Date.now(), lastHeartbeat });
            }
          },
        );
    everyInterval(targets.length, config.interval, (index) => void check(targets[index], index), {
      burst: true,
    });
  }
}

export async function startTerminusMonitor(
  config: MonitorConfig,
  tally: Tally,
): Promise<(targets: TargetAddress[]) => Promise<string>> {
  @Module({
    imports: [TerminusModule.forRoot({ logger: false })],
    providers: [TerminusPoller, { provide: SETTINGS, useValue: { config, tally } }],
  })
  class TerminusMonitorModule {}

  const app = await NestFactory.createApplicationContext(TerminusMonitorModule, {
    logger: ['error'],
  });
  const poller = app.get(TerminusPoller);
  return async (targets) => {
    poller.watch(targets);
    return 'terminus (pingCheck)';
  };
}

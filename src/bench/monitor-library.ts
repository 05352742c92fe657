/** Library mode: one HeartbeatModule sender manager watching every target with createTcpTarget. */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnTargetLost,
  type HeartbeatManager,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import {
  MONITOR_ID,
  MONITOR_MANAGER,
  report,
  TARGET_MANAGER,
  type MonitorConfig,
  type TargetAddress,
} from './protocol.js';
import type { Tally } from './tally.js';

const REGISTRATION_BATCH = 500;
const REGISTRATION_PAUSE_MS = 50;

/** The process's tally, for the handlers Nest calls. */
const TALLY = Symbol('tally');

@Injectable()
class LibraryMonitor {
  private readonly indexOf = new Map<string, number>();

  constructor(
    @InjectHeartbeatManager(MONITOR_MANAGER) private readonly targets: HeartbeatManager<unknown>,
    private readonly factory: HeartbeatTargetFactory,
    @Inject(TALLY) private readonly tally: Tally,
  ) {}

  /**
   * Targets register over time, as TaskManagers do: 500 every 50 ms, so that 10,000 first
   * connections are not all opened in one tick (and timed out while they queue).
   * Resolves with the class of the library's TCP targets, to say which client was measured.
   */
  async watch(targets: TargetAddress[]): Promise<string> {
    let client = '';
    targets.forEach(({ id }, index) => this.indexOf.set(id, index));
    for (let first = 0; first < targets.length; first += REGISTRATION_BATCH) {
      if (first > 0) {
        await new Promise((resolve) => setTimeout(resolve, REGISTRATION_PAUSE_MS));
      }
      for (const { id, host, port } of targets.slice(first, first + REGISTRATION_BATCH)) {
        const target = this.factory.createTcpTarget({ host, port, remoteManager: TARGET_MANAGER });
        client ||= target.constructor.name;
        this.targets.monitorTarget(id, target);
      }
    }
    return client;
  }

  @OnHeartbeatPayload(MONITOR_MANAGER)
  onHeartbeat(id: string): void {
    this.tally.heartbeat(this.indexOf.get(id) ?? -1);
  }

  @OnTargetLost(MONITOR_MANAGER)
  onLost(id: string, kind: TargetLossReason): void {
    const at = Date.now();
    report({ type: 'lost', id, kind, at, lastHeartbeat: this.targets.getLastHeartbeatFrom(id) });
    this.targets.unmonitorTarget(id);
  }
}

/** Prometheus's scrape, every second (its default is 15 s: this is the costlier end). */
const SCRAPE_PERIOD_MS = 1_000;

export async function startLibraryMonitor(
  config: MonitorConfig,
  tally: Tally,
): Promise<(targets: TargetAddress[]) => Promise<string>> {
  // Loaded only when measured: the other runs do not have prom-client in memory.
  const registry =
    config.observe === 'metrics' ? new (await import('prom-client')).Registry() : undefined;
  @Module({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: MONITOR_ID,
        managers: { [MONITOR_MANAGER]: 'sender' },
        interval: config.interval,
        timeout: config.timeout,
        rpcFailureThreshold: config.rpcFailureThreshold,
        requestTimeout: config.requestTimeout,
        ...(registry ? { metrics: { registry } } : {}),
      }),
    ],
    providers: [LibraryMonitor, { provide: TALLY, useValue: tally }],
  })
  class LibraryMonitorModule {}

  const app = await NestFactory.createApplicationContext(LibraryMonitorModule, {
    logger: ['error', 'warn'],
  });
  if (config.observe === 'events') {
    // The cheapest real subscriber: it looks at every event (so each is built) and counts it.
    let seen = 0;
    app
      .get(HeartbeatRegistry)
      .events()
      .subscribe(() => (seen += 1));
    process.on('exit', () => void seen);
  }
  if (registry) {
    setInterval(() => void registry.metrics(), SCRAPE_PERIOD_MS).unref();
  }
  const monitor = app.get(LibraryMonitor);
  return (targets) => monitor.watch(targets);
}

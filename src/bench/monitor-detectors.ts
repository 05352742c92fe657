/**
 * Detectors mode: one HeartbeatModule with three sender managers, one per failure detector (the
 * fixed timeout, phi-accrual with the library's defaults, Akka's, and phi-accrual tuned for fast
 * detection: `acceptableHeartbeatPause` 500 ms), at the same interval and timeout. Each watches
 * every target over a connection of its own (`createTcpTarget` per manager), so that all see the
 * same kills, in the same process, under the same host noise. The managers are declared, and each
 * target registered with them, in `config.detectorOrder`.
 */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  HeartbeatModule,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnTargetLost,
  resolveHeartbeatConfiguration,
  type HeartbeatDetector,
  type HeartbeatManager,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import {
  DETECTORS,
  MONITOR_ID,
  report,
  TARGET_MANAGER,
  type DetectorName,
  type MonitorConfig,
  type Report,
  type TargetAddress,
} from './protocol.js';
import type { Tally } from './tally.js';

/** What each manager is given: its name says which detector. */
const DETECTOR_OPTIONS: Readonly<Record<DetectorName, HeartbeatDetector>> = {
  fixed: 'fixed',
  'phi-accrual': { kind: 'phi-accrual' },
  'phi-accrual-fast': { kind: 'phi-accrual', acceptableHeartbeatPause: 500 },
};

const REGISTRATION_BATCH = 500;
const REGISTRATION_PAUSE_MS = 50;

const TALLY = Symbol('tally');
const ORDER = Symbol('detector order');

@Injectable()
class DetectorsMonitor {
  private readonly indexOf = new Map<string, number>();
  private readonly managers: Readonly<Record<DetectorName, HeartbeatManager<unknown>>>;

  constructor(
    @InjectHeartbeatManager('fixed') fixed: HeartbeatManager<unknown>,
    @InjectHeartbeatManager('phi-accrual') phi: HeartbeatManager<unknown>,
    @InjectHeartbeatManager('phi-accrual-fast') phiFast: HeartbeatManager<unknown>,
    private readonly factory: HeartbeatTargetFactory,
    @Inject(TALLY) private readonly tally: Tally,
    @Inject(ORDER) private readonly order: readonly DetectorName[],
  ) {
    this.managers = { fixed, 'phi-accrual': phi, 'phi-accrual-fast': phiFast };
  }

  /** Every target with each manager, in batches as in library mode; resolves with the client class. */
  async watch(targets: TargetAddress[]): Promise<string> {
    // Every manager's heartbeats are counted, the one at DETECTORS[k] as targets kn to (k + 1)n − 1.
    this.tally.track(DETECTORS.length * targets.length);
    let client = '';
    targets.forEach(({ id }, index) => this.indexOf.set(id, index));
    for (let first = 0; first < targets.length; first += REGISTRATION_BATCH) {
      if (first > 0) {
        await new Promise((resolve) => setTimeout(resolve, REGISTRATION_PAUSE_MS));
      }
      for (const { id, host, port } of targets.slice(first, first + REGISTRATION_BATCH)) {
        for (const name of this.order) {
          const target = this.factory.createTcpTarget({
            host,
            port,
            remoteManager: TARGET_MANAGER,
          });
          client ||= target.constructor.name;
          this.managers[name].monitorTarget(id, target);
        }
      }
    }
    return client;
  }

  @OnHeartbeatPayload('fixed')
  onFixedHeartbeat(id: string): void {
    this.heartbeat('fixed', id);
  }

  @OnHeartbeatPayload('phi-accrual')
  onPhiHeartbeat(id: string): void {
    this.heartbeat('phi-accrual', id);
  }

  @OnHeartbeatPayload('phi-accrual-fast')
  onPhiFastHeartbeat(id: string): void {
    this.heartbeat('phi-accrual-fast', id);
  }

  @OnTargetLost('fixed')
  onFixedLost(id: string, kind: TargetLossReason): void {
    this.lost('fixed', id, kind);
  }

  @OnTargetLost('phi-accrual')
  onPhiLost(id: string, kind: TargetLossReason): void {
    this.lost('phi-accrual', id, kind);
  }

  @OnTargetLost('phi-accrual-fast')
  onPhiFastLost(id: string, kind: TargetLossReason): void {
    this.lost('phi-accrual-fast', id, kind);
  }

  private heartbeat(detector: DetectorName, id: string): void {
    const index = this.indexOf.get(id);
    this.tally.heartbeat(
      index === undefined ? -1 : DETECTORS.indexOf(detector) * this.indexOf.size + index,
    );
  }

  private lost(detector: DetectorName, id: string, kind: TargetLossReason): void {
    const at = Date.now();
    const manager = this.managers[detector];
    report({
      type: 'lost',
      id,
      kind,
      at,
      lastHeartbeat: manager.getLastHeartbeatFrom(id),
      detector,
    });
    manager.unmonitorTarget(id);
  }
}

export async function startDetectorsMonitor(
  config: MonitorConfig,
  tally: Tally,
): Promise<(targets: TargetAddress[]) => Promise<Watching>> {
  const order = config.detectorOrder ?? DETECTORS;
  @Module({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: MONITOR_ID,
        managers: Object.fromEntries(
          order.map((name) => [
            name,
            { role: 'sender' as const, detector: DETECTOR_OPTIONS[name] },
          ]),
        ),
        interval: config.interval,
        timeout: config.timeout,
        rpcFailureThreshold: config.rpcFailureThreshold,
        requestTimeout: config.requestTimeout,
      }),
    ],
    providers: [
      DetectorsMonitor,
      { provide: TALLY, useValue: tally },
      { provide: ORDER, useValue: order },
    ],
  })
  class DetectorsMonitorModule {}

  const app = await NestFactory.createApplicationContext(DetectorsMonitorModule, {
    logger: ['error', 'warn'],
  });
  const monitor = app.get(DetectorsMonitor);
  const detectors = resolvedDetectors(config);
  return async (targets) => ({ client: await monitor.watch(targets), detectors });
}

type Watching = Omit<Extract<Report, { type: 'watching' }>, 'type'>;

/** Each manager's detector as the library resolves it (phi-accrual's defaults filled in). */
function resolvedDetectors(config: MonitorConfig): Record<DetectorName, unknown> {
  const resolve = (name: DetectorName) =>
    resolveHeartbeatConfiguration({
      interval: config.interval,
      timeout: config.timeout,
      rpcFailureThreshold: config.rpcFailureThreshold,
      detector: DETECTOR_OPTIONS[name],
    }).detector ?? 'fixed';
  return Object.fromEntries(DETECTORS.map((name) => [name, resolve(name)])) as Record<
    DetectorName,
    unknown
  >;
}

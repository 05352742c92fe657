/**
 * The monitoring process, in one of three modes over the same simulated targets:
 * - library: a HeartbeatModule sender manager watching every target with createTcpTarget;
 * - floor: the same messages with plain Nest (ClientTCP.send out, a @MessagePattern for answers);
 * - terminus: @nestjs/terminus's MicroserviceHealthIndicator.pingCheck polling every target.
 * Every mode sends to all targets once right away and then `interval` after each run.
 */
import 'reflect-metadata';
import { Controller, Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP, MessagePattern, Transport } from '@nestjs/microservices';
import { HealthCheckService, MicroserviceHealthIndicator, TerminusModule } from '@nestjs/terminus';
import type { AddressInfo, Server } from 'node:net';
import {
  HeartbeatModule,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnTargetLost,
  type HeartbeatManager,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import { MeasurementWindow } from './process-metrics.js';
import {
  MONITOR_ID,
  MONITOR_MANAGER,
  onCommand,
  report,
  TARGET_MANAGER,
  type MonitorConfig,
  type TargetAddress,
} from './protocol.js';

const REGISTRATION_BATCH = 500;
const REGISTRATION_PAUSE_MS = 50;
const config = JSON.parse(process.argv[2]) as MonitorConfig;
const counters = { rounds: 0, errors: 0 };
const window = new MeasurementWindow();

/** Runs `run` right away, then `interval` after each run (the sender manager's fixed delay). */
function everyInterval(run: () => void): void {
  const loop = () => {
    run();
    setTimeout(loop, config.interval);
  };
  setTimeout(loop, 0);
}

@Injectable()
class LibraryMonitor {
  constructor(
    @InjectHeartbeatManager(MONITOR_MANAGER) private readonly targets: HeartbeatManager<unknown>,
    private readonly factory: HeartbeatTargetFactory,
  ) {}

  /**
   * Targets register over time, as TaskManagers do: 500 every 50 ms, so that 10,000 first
   * connections are not all opened in one tick (and timed out while they queue).
   */
  async watch(targets: TargetAddress[]): Promise<void> {
    for (let first = 0; first < targets.length; first += REGISTRATION_BATCH) {
      if (first > 0) {
        await new Promise((resolve) => setTimeout(resolve, REGISTRATION_PAUSE_MS));
      }
      for (const { id, host, port } of targets.slice(first, first + REGISTRATION_BATCH)) {
        this.targets.monitorTarget(
          id,
          this.factory.createTcpTarget({ host, port, remoteManager: TARGET_MANAGER }),
        );
      }
    }
  }

  @OnHeartbeatPayload(MONITOR_MANAGER)
  onAnswer(): void {
    counters.rounds += 1;
  }

  @OnTargetLost(MONITOR_MANAGER)
  onLost(id: string, kind: TargetLossReason): void {
    const at = Date.now();
    report({ type: 'lost', id, kind, at, lastHeartbeat: this.targets.getLastHeartbeatFrom(id) });
    this.targets.unmonitorTarget(id);
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      resourceId: MONITOR_ID,
      managers: { [MONITOR_MANAGER]: 'sender' },
      interval: config.interval,
      timeout: config.timeout,
      rpcFailureThreshold: config.rpcFailureThreshold,
      requestTimeout: config.requestTimeout,
    }),
  ],
  providers: [LibraryMonitor],
})
class LibraryMonitorModule {}

@Controller()
class FloorAnswers {
  @MessagePattern('bench.pong')
  pong(): { accepted: true } {
    counters.rounds += 1;
    return { accepted: true };
  }
}

const countError = () => {
  counters.errors += 1;
};

/** The transport floor: the library's two messages sent with plain Nest clients. */
function watchWithPlainNest(targets: TargetAddress[]): void {
  const clients = targets.map(({ host, port }) => new ClientTCP({ host, port }));
  everyInterval(() => {
    for (const client of clients) {
      client
        .send('bench.ping', { manager: TARGET_MANAGER, origin: MONITOR_ID, payload: null })
        .subscribe({ error: countError });
    }
  });
}

@Module({ controllers: [FloorAnswers] })
class FloorMonitorModule {}

/** What a Nest user does without the library: a terminus ping check of every target. */
@Injectable()
class TerminusPoller {
  constructor(
    private readonly health: HealthCheckService,
    private readonly microservice: MicroserviceHealthIndicator,
  ) {}

  watch(targets: TargetAddress[]): void {
    const lastSuccess = new Map<string, number>();
    const reported = new Set<string>();
    const check = ({ id, host, port }: TargetAddress) =>
      this.health
        .check([
          () =>
            this.microservice.pingCheck(id, { transport: Transport.TCP, options: { host, port } }),
        ])
        .then(
          () => {
            counters.rounds += 1;
            lastSuccess.set(id, Date.now());
          },
          () => {
            counters.rounds += 1;
            counters.errors += 1;
            if (!reported.has(id)) {
              reported.add(id);
              const lastHeartbeat = lastSuccess.get(id) ?? 0;
              report({ type: 'lost', id, kind: 'check-failed', at: Date.now(), lastHeartbeat });
            }
          },
        );
    everyInterval(() => targets.forEach(check));
  }
}

@Module({ imports: [TerminusModule.forRoot({ logger: false })], providers: [TerminusPoller] })
class TerminusMonitorModule {}

async function start(): Promise<{ app: INestApplicationContext; port: number }> {
  if (config.mode === 'terminus') {
    const app = await NestFactory.createApplicationContext(TerminusMonitorModule, {
      logger: ['error'],
    });
    return { app, port: 0 };
  }
  const app = await NestFactory.createMicroservice(
    config.mode === 'library' ? LibraryMonitorModule : FloorMonitorModule,
    {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: 0 },
      logger: ['error', 'warn'],
    },
  );
  await app.listen();
  return { app, port: (app.unwrap<Server>().address() as AddressInfo).port };
}

const { app, port } = await start();
report({ type: 'ready', port });

onCommand(async (command) => {
  switch (command.type) {
    case 'watch':
      if (config.mode === 'library') {
        await app.get(LibraryMonitor).watch(command.targets);
      } else if (config.mode === 'terminus') {
        app.get(TerminusPoller).watch(command.targets);
      } else {
        watchWithPlainNest(command.targets);
      }
      report({ type: 'watching' });
      break;
    case 'measure-start':
      counters.rounds = 0;
      counters.errors = 0;
      window.start();
      break;
    case 'measure-stop':
      report({ type: 'metrics', metrics: window.stop(), ...counters });
      break;
    default:
      break;
  }
});

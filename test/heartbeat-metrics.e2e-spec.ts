import 'reflect-metadata';
import {
  Controller,
  Get,
  Inject,
  Res,
  type INestApplication,
  type ModuleMetadata,
} from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import {
  HeartbeatHealthIndicator,
  HeartbeatModule,
  HeartbeatRegistry,
  HeartbeatTargetFactory,
  type HeartbeatModuleOptions,
} from 'nestjs-heartbeat';
import { AppPool, type RunningApp } from './fixtures/heartbeat-apps.js';
import {
  childProcessEnv,
  resourcesLeftAbove,
  settledResourceCounts,
  waitFor,
} from './fixtures/e2e-utils.js';
import { histogramIn, parseSamples, valueIn, type Sample } from './fixtures/prometheus-samples.js';
import {
  RECEIVER_ID,
  RECEIVER_MANAGER,
  receiverModule,
  SENDER_ID,
  SENDER_MANAGER,
  SETTINGS,
} from './fixtures/sender-receiver.js';

/*
 * A sender that is an HTTP app (platform-express, loopback, port 0) heartbeating a receiver over
 * TCP: its metrics scraped over HTTP (from its own registry, and from @willsoto/nestjs-prometheus
 * on the global one) and its health checked by terminus, while the receiver runs and once it is
 * gone. The app with @willsoto/nestjs-prometheus (CommonJS, requiring Nest 12's ES modules) runs in
 * a child process: Node 20 loads it, jest's module runtime cannot.
 */

const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
const PROMETHEUS_MODULE_SENDER = fileURLToPath(
  new URL('./fixtures/metrics-children/prometheus-module-sender.cjs', import.meta.url),
);
const sender = { manager: SENDER_MANAGER };

/** What an app of its own serves for Prometheus: its registry's text. */
@Controller('metrics')
class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  async scrape(
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ): Promise<string> {
    response.setHeader('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly heartbeat: HeartbeatHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.heartbeat.isHealthy('heartbeat', { manager: SENDER_MANAGER, minLiveTargets: 1 }),
    ]);
  }
}

/** A scrape of `url`'s /metrics, as Prometheus reads it. */
async function scrapeOverHttp(url: string): Promise<{ contentType: string; samples: Sample[] }> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) {
    throw new Error(`GET ${url}/metrics answered ${response.status}`);
  }
  return {
    contentType: response.headers.get('content-type') ?? '',
    samples: parseSamples(await response.text()),
  };
}

interface HttpApp {
  readonly app: INestApplication;
  readonly url: string;
}

describe('heartbeat metrics and health over HTTP', () => {
  const tcpApps = new AppPool();
  const httpApps: INestApplication[] = [];
  let baseline: Record<string, number>;

  beforeEach(async () => {
    baseline = await settledResourceCounts();
  });

  afterEach(async () => {
    for (const app of httpApps.splice(0).toReversed()) {
      await app.close();
    }
    await tcpApps.closeAll();
    // Every app closed: no timer, socket or server of theirs is left.
    const leftover = await resourcesLeftAbove(baseline);
    if (Object.keys(leftover).length > 0) {
      throw new Error(`The closed apps left handles behind: ${JSON.stringify(leftover)}`);
    }
  });

  /** The sender, an HTTP app on loopback, heartbeating a receiver app (TCP) that monitors it. */
  async function startSenderAndReceiver(
    metadata: ModuleMetadata,
    options: Partial<HeartbeatModuleOptions>,
  ): Promise<{ sender: HttpApp; receiver: RunningApp }> {
    const receiver = await tcpApps.start(receiverModule());
    receiver.get(HeartbeatRegistry).getManager(RECEIVER_MANAGER).monitorTarget(SENDER_ID);
    const moduleRef = await Test.createTestingModule({
      ...metadata,
      imports: [
        HeartbeatModule.forRoot({
          resourceId: SENDER_ID,
          managers: { [SENDER_MANAGER]: 'sender' },
          ...SETTINGS,
          ...options,
        }),
        ...(metadata.imports ?? []),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    httpApps.push(app);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    app
      .get(HeartbeatRegistry)
      .getManager(SENDER_MANAGER)
      .monitorTarget(
        RECEIVER_ID,
        app.get(HeartbeatTargetFactory).createTcpTarget({
          host: '127.0.0.1',
          port: receiver.port,
          remoteManager: RECEIVER_MANAGER,
        }),
      );
    return { sender: { app, url: `http://127.0.0.1:${port}` }, receiver };
  }

  it("serves the sender's metrics from its own registry at /metrics, through a heartbeat and a timeout", async () => {
    const registry = new Registry();
    const { sender: app, receiver } = await startSenderAndReceiver(
      {
        controllers: [MetricsController],
        providers: [{ provide: METRICS_REGISTRY, useValue: registry }],
      },
      { metrics: { registry } },
    );

    const { contentType, samples } = await waitFor('three heartbeats in a scrape', async () => {
      const scraped = await scrapeOverHttp(app.url);
      const heartbeats = valueIn(scraped.samples, 'heartbeat_heartbeats_received_total', sender);
      return (heartbeats ?? 0) >= 3 && scraped;
    });
    expect(contentType).toBe(registry.contentType);
    expect(valueIn(samples, 'heartbeat_targets_monitored', sender)).toBe(1);
    const roundTrips = histogramIn(samples, 'heartbeat_round_trip_seconds', sender)!;
    expect(roundTrips.count).toBeGreaterThanOrEqual(3);
    expect(roundTrips.sum / roundTrips.count).toBeLessThan(SETTINGS.requestTimeout / 1_000);
    const ages = histogramIn(samples, 'heartbeat_time_since_last_heartbeat_seconds', sender)!;
    expect(ages.count).toBe(1);
    expect(ages.sum).toBeLessThan(SETTINGS.timeout / 1_000);
    expect(valueIn(samples, 'heartbeat_timeouts_total', sender)).toBe(0);

    await receiver.close();
    const afterLoss = await waitFor(
      'the timeout in a scrape',
      async () => {
        const scraped = (await scrapeOverHttp(app.url)).samples;
        return valueIn(scraped, 'heartbeat_timeouts_total', sender) === 1 && scraped;
      },
      { timeout: SETTINGS.timeout + 3_000 },
    );
    const failedRpcs = ['unreachable', 'timeout', 'rejected', 'other'].reduce(
      (sum, kind) =>
        sum + (valueIn(afterLoss, 'heartbeat_rpc_failures_total', { ...sender, kind }) ?? 0),
      0,
    );
    expect(failedRpcs).toBeGreaterThanOrEqual(1);
    expect(
      histogramIn(afterLoss, 'heartbeat_time_since_last_heartbeat_seconds', sender)!.sum,
    ).toBeGreaterThanOrEqual(SETTINGS.timeout / 1_000);
    expect(valueIn(afterLoss, 'heartbeat_targets_monitored', sender)).toBe(1); // lost, still monitored

    await app.app.close();
    httpApps.splice(0);
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  }, 15_000);

  it.each(['cjs', 'esm'])(
    "appears at @willsoto/nestjs-prometheus's /metrics, beside its default metrics, in a CommonJS app loading the %s build",
    async (build) => {
      const receiver = await tcpApps.start(receiverModule());
      receiver.get(HeartbeatRegistry).getManager(RECEIVER_MANAGER).monitorTarget(SENDER_ID);
      const child = spawn(
        process.execPath,
        [PROMETHEUS_MODULE_SENDER, build, String(receiver.port), RECEIVER_MANAGER],
        { env: childProcessEnv(), stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const exited = once(child, 'exit');
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const nextLine = async () => JSON.parse(((await lines.next()).value as string) ?? 'null');
      try {
        const { port } = (await nextLine()) as { port: number };
        const url = `http://127.0.0.1:${port}`;

        const samples = await waitFor('a heartbeat at /metrics', async () => {
          const scraped = (await scrapeOverHttp(url)).samples;
          const heartbeats = valueIn(scraped, 'heartbeat_heartbeats_received_total', sender);
          return (heartbeats ?? 0) >= 1 && scraped;
        });
        expect(valueIn(samples, 'heartbeat_targets_monitored', sender)).toBe(1);
        expect(
          histogramIn(samples, 'heartbeat_round_trip_seconds', sender)?.count,
        ).toBeGreaterThanOrEqual(1);
        expect(samples.some(({ name }) => name === 'process_cpu_user_seconds_total')).toBe(true);

        child.stdin!.end(); // closes the app
        expect(await nextLine()).toEqual({ closed: true, heartbeatMetricsLeft: [] });
        // It exits by itself: the closed app left nothing that keeps a process alive.
        expect(await exited).toEqual([0, null]);
      } finally {
        child.kill();
      }
    },
    15_000,
  );

  it("answers terminus's health check 200 while the receiver answers, then 503 once it is lost", async () => {
    const { sender: app, receiver } = await startSenderAndReceiver(
      { imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController] },
      {},
    );
    const health = async () => {
      const response = await fetch(`${app.url}/health`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const up = await waitFor('a 200', async () => {
      const answer = await health();
      return answer.status === 200 && answer;
    });
    expect(up.body).toMatchObject({
      status: 'ok',
      info: { heartbeat: { status: 'up', targets: 1, liveTargets: 1, lostInWindow: 0 } },
    });

    await receiver.close();
    const down = await waitFor(
      'a 503 that counts the loss',
      async () => {
        const answer = await health();
        const details = (answer.body.error as { heartbeat?: { lostInWindow: number } } | undefined)
          ?.heartbeat;
        return answer.status === 503 && details?.lostInWindow === 1 && answer;
      },
      { timeout: SETTINGS.timeout + 3_000 },
    );
    expect(down.body).toMatchObject({
      status: 'error',
      error: {
        heartbeat: {
          status: 'down',
          targets: 1,
          liveTargets: 0,
          lostInWindow: 1,
          lastStall: null,
          reason: `0 live target(s) (a heartbeat within the last ${SETTINGS.timeout} ms), fewer than the 1 required`,
        },
      },
    });
  }, 15_000);
});

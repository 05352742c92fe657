import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import * as promClient from 'prom-client';
import { Registry } from 'prom-client';
import { histogramIn, scrape, valueIn } from '../../../../test/fixtures/prometheus-samples.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { HeartbeatIngress } from '../transport/heartbeat-ingress.js';
import { HEARTBEAT_METRICS } from '../nest/heartbeat.constants.js';
import { HeartbeatModule } from '../nest/heartbeat.module.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import type { HeartbeatModuleOptions } from '../nest/interfaces/heartbeat-module-options.interface.js';
import { HeartbeatMetrics } from './heartbeat-metrics.js';

/* The module's `metrics` option: the metrics HeartbeatModule makes, where, and until when. */

const START = 3_000_000;
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A target that answers every request at once, as `origin`. */
const answering = (origin: string): HeartbeatTarget => ({
  requestHeartbeat: () => Promise.resolve({ origin, payload: null }),
  receiveHeartbeat: () => Promise.resolve(),
});

const heartbeatMetricNames = (registry: Registry) =>
  registry
    .getMetricsAsArray()
    .map((metric) => (metric as unknown as { name: string }).name)
    .filter((name) => name.includes('heartbeat'));

describe('HeartbeatModule metrics', () => {
  let clock: ManualClock;
  const opened: TestingModule[] = [];
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    clock = new ManualClock(START);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    for (const moduleRef of opened.splice(0)) {
      await moduleRef.close();
    }
    jest.restoreAllMocks();
  });

  async function close(moduleRef: TestingModule): Promise<void> {
    opened.splice(opened.indexOf(moduleRef), 1);
    await moduleRef.close();
  }

  async function start(options: Partial<HeartbeatModuleOptions>): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'rm-1',
          managers: { workers: 'sender', supervisor: 'receiver' },
          interval: 1_000,
          timeout: 5_000,
          clock,
          ...options,
        }),
      ],
    }).compile();
    opened.push(moduleRef);
    await moduleRef.init();
    return moduleRef;
  }

  it("metrics: true registers them on prom-client's global register, and the shutdown removes them", async () => {
    const moduleRef = await start({ metrics: true });
    const registry = moduleRef.get(HeartbeatRegistry);
    registry.getManager('workers').monitorTarget('tm-1', answering('tm-1'));
    for (const round of [0, 1, 2]) {
      clock.advance(START + round * 1_000 - clock.now());
      await flush(); // each round's answer comes at once
    }
    clock.advance(500);

    const samples = await scrape(promClient.register);
    expect(valueIn(samples, 'heartbeat_heartbeats_received_total', { manager: 'workers' })).toBe(3);
    expect(valueIn(samples, 'heartbeat_targets_monitored', { manager: 'workers' })).toBe(1);
    expect(valueIn(samples, 'heartbeat_targets_monitored', { manager: 'supervisor' })).toBe(0);
    // The age comes from the module's clock: 0.5 s of fake time since the last heartbeat.
    expect(
      histogramIn(samples, 'heartbeat_time_since_last_heartbeat_seconds', { manager: 'workers' }),
    ).toMatchObject({ count: 1, sum: 0.5 });

    await close(moduleRef);
    expect(heartbeatMetricNames(promClient.register)).toEqual([]);
  });

  it('makes none, and loads no prom-client, without the option', async () => {
    const moduleRef = await start({});
    expect(moduleRef.get(HEARTBEAT_METRICS)).toBeNull();
    expect(heartbeatMetricNames(promClient.register)).toEqual([]);

    const off = await start({ metrics: false });
    expect(off.get(HEARTBEAT_METRICS)).toBeNull();
  });

  it("takes forRootAsync's metrics options from the factory: the app's registry and prefix", async () => {
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRootAsync({
          managers: { workers: 'receiver' },
          useFactory: () => ({
            resourceId: 'tm-1',
            clock,
            metrics: { registry, prefix: 'tm_hb_' },
          }),
        }),
      ],
    }).compile();
    opened.push(moduleRef);
    await moduleRef.init();

    expect(moduleRef.get(HEARTBEAT_METRICS)).toBeInstanceOf(HeartbeatMetrics);
    const samples = await scrape(registry);
    expect(valueIn(samples, 'tm_hb_targets_monitored', { manager: 'workers' })).toBe(0);
    expect(heartbeatMetricNames(promClient.register)).toEqual([]);
  });

  it('counts the rejections of messages that named no manager of the app under manager ""', async () => {
    const registry = new Registry();
    const moduleRef = await start({ metrics: { registry } });
    const ingress = moduleRef.get(HeartbeatIngress);

    await ingress
      .handle('request', { manager: 'jobs', origin: 'x', payload: null })
      .catch(() => undefined);
    await ingress.handle('request', 'garbage').catch(() => undefined);
    await ingress.handle('request', { manager: 'supervisor', origin: 'stranger', payload: null });

    const samples = await scrape(registry);
    const rejected = (manager: string, reason: string) =>
      valueIn(samples, 'heartbeat_rejected_messages_total', { manager, reason });
    expect(rejected('', 'unknown-manager')).toBe(1);
    expect(rejected('', 'malformed')).toBe(1);
    expect(rejected('supervisor', 'unknown-origin')).toBe(1);
  });

  it('can be made again on one registry: after a shutdown, or while the first still runs', async () => {
    const registry = new Registry();
    const first = await start({ metrics: { registry } });
    await close(first);
    const second = await start({ metrics: { registry } });
    expect(warn).not.toHaveBeenCalled();

    // A third while the second runs (a hot reload that did not close the old app): it takes over.
    const third = await start({ metrics: { registry } });
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining(
        'made by an earlier HeartbeatMetrics on the same registry that was not closed',
      ),
    );
    await close(second);
    expect(heartbeatMetricNames(registry)).toHaveLength(10);
    third.get(HeartbeatRegistry).getManager('supervisor').monitorTarget('jm-1');
    const samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_targets_monitored', { manager: 'supervisor' })).toBe(1);
  });

  it('closes the metrics at shutdown', async () => {
    const registry = new Registry();
    const moduleRef = await start({ metrics: { registry } });
    const closeMetrics = jest.spyOn(moduleRef.get<HeartbeatMetrics>(HEARTBEAT_METRICS), 'close');

    await close(moduleRef);
    expect(closeMetrics).toHaveBeenCalledTimes(1);
    expect(heartbeatMetricNames(registry)).toEqual([]);
  });
});

import * as promClient from 'prom-client';
import { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import {
  histogramIn,
  scrape,
  seriesIn,
  valueIn,
} from '../../../../test/fixtures/prometheus-samples.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatEvent } from '../core/heartbeat-events.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { HeartbeatServices } from '../core/heartbeat-services.js';
import {
  flush,
  RecordingLogger,
  ScriptedTarget,
  silentListener,
} from '../../../../test/fixtures/scripted-heartbeats.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { HeartbeatMetrics } from './heartbeat-metrics.js';
import type {
  HeartbeatMetricsOptions,
  HeartbeatMetricsRegistry,
  PromClientModule,
} from './interfaces/heartbeat-metrics-options.interface.js';

/*
 * HeartbeatMetrics without Nest, on fake time with in-process targets: the value of every metric,
 * read back from a registry of its own as Prometheus would scrape it.
 */

// The structural type takes prom-client's own module (checked by the compiler).
const PROM_CLIENT: PromClientModule = promClient;

/** Epoch ms: late enough that the wall-clock steps back by hours below keep it above 0. */
const START = 24 * 3_600_000;
const INTERVAL = 100;
const TIMEOUT = 1_000;

const never = () => new Promise<never>(() => undefined);

function setUp(
  options: HeartbeatMetricsOptions = {},
  configuration: { stallThreshold?: number; rpcFailureThreshold?: number } = {},
) {
  const clock = new ManualClock(START);
  const logger = new RecordingLogger();
  const services = HeartbeatServices.fromConfiguration(
    { interval: INTERVAL, timeout: TIMEOUT, stallThreshold: -1, ...configuration },
    { clock, logger },
  );
  const workers = services.createSenderManager('rm-1', silentListener, { name: 'workers' });
  const supervisor = services.createReceiverManager('rm-1', silentListener, { name: 'supervisor' });
  const managers = new Map<string, HeartbeatManager>([
    ['workers', workers],
    ['supervisor', supervisor],
  ]);
  const registry = new Registry();
  const make = (extra: HeartbeatMetricsOptions = {}) =>
    new HeartbeatMetrics(
      PROM_CLIENT,
      { managers, clock, logger },
      { registry, ...options, ...extra },
    );
  return { clock, logger, services, workers, supervisor, managers, registry, make };
}

/** Advances fake time by `ms` in interval steps, letting the RPC outcomes settle after each. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(0);
  await flush();
  for (let elapsed = 0; elapsed < ms; elapsed += INTERVAL) {
    clock.advance(Math.min(INTERVAL, ms - elapsed));
    await flush();
  }
}

/**
 * Runs round `round` of a sender started at START (its requests due at START + round × INTERVAL)
 * and stops the clock when the answers come, `replyMs` later: a reply's promise settles only
 * once the clock stops, and the round trip is measured then.
 */
async function answerRound(clock: ManualClock, round: number, replyMs: number): Promise<void> {
  clock.advance(START + round * INTERVAL - clock.now());
  await flush();
  clock.advance(replyMs);
  await flush();
}

/** The names of the metrics in `registry`. */
const names = (registry: HeartbeatMetricsRegistry & Registry) =>
  registry.getMetricsAsArray().map((metric) => (metric as unknown as { name: string }).name);

const workers = { manager: 'workers' };
const supervisor = { manager: 'supervisor' };

describe('HeartbeatMetrics', () => {
  it('starts every series of each manager at 0, labelled by manager, with help and type', async () => {
    const { registry, make } = setUp();
    make();

    const samples = await scrape(registry);
    for (const labels of [workers, supervisor]) {
      for (const counter of [
        'heartbeat_heartbeats_received_total',
        'heartbeat_timeouts_total',
        'heartbeat_unreachable_total',
        'heartbeat_stalls_total',
      ]) {
        expect([counter, valueIn(samples, counter, labels)]).toEqual([counter, 0]);
      }
      for (const kind of ['unreachable', 'timeout', 'rejected', 'other']) {
        expect(valueIn(samples, 'heartbeat_rpc_failures_total', { ...labels, kind })).toBe(0);
      }
      for (const reason of ['malformed', 'unknown-manager', 'vetoed', 'unknown-origin']) {
        expect(valueIn(samples, 'heartbeat_rejected_messages_total', { ...labels, reason })).toBe(
          0,
        );
      }
      expect(valueIn(samples, 'heartbeat_targets_monitored', labels)).toBe(0);
      for (const histogram of [
        'heartbeat_round_trip_seconds',
        'heartbeat_time_since_last_heartbeat_seconds',
        'heartbeat_stall_seconds',
      ]) {
        expect(histogramIn(samples, histogram, labels)).toMatchObject({ count: 0, sum: 0 });
      }
    }
    const text = await registry.metrics();
    expect(text).toContain('# TYPE heartbeat_targets_monitored gauge');
    expect(text).toContain('# TYPE heartbeat_heartbeats_received_total counter');
    expect(text).toContain('# TYPE heartbeat_round_trip_seconds histogram');
    expect(text).toContain('# HELP heartbeat_timeouts_total Targets declared lost');
    // Bounded: no series per target unless perTarget asks for it.
    expect(registry.getSingleMetric('heartbeat_target_time_since_last_heartbeat_seconds')).toBe(
      undefined,
    );
    expect(text).not.toContain('target=');
  });

  it("counts heartbeats, and observes a sender's round trips in seconds (a receiver's have none)", async () => {
    const { clock, registry, make, workers: sender, supervisor: receiver } = setUp();
    make();
    const target = new ScriptedTarget(clock, 'tm-1');
    target.delayMs = 7;
    sender.monitorTarget('tm-1', target);
    receiver.monitorTarget('jm-1');
    sender.start();

    await answerRound(clock, 0, 7);
    await answerRound(clock, 1, 7);
    await receiver.requestHeartbeat('jm-1', null);
    await receiver.requestHeartbeat('jm-1', null);

    const samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_heartbeats_received_total', workers)).toBe(2);
    expect(valueIn(samples, 'heartbeat_heartbeats_received_total', supervisor)).toBe(2);
    const roundTrips = histogramIn(samples, 'heartbeat_round_trip_seconds', workers)!;
    expect(roundTrips.count).toBe(2);
    expect(roundTrips.sum).toBeCloseTo(0.014, 9);
    expect(roundTrips.buckets).toMatchObject({ '0.005': 0, '0.01': 2, '+Inf': 2 });
    expect(histogramIn(samples, 'heartbeat_round_trip_seconds', supervisor)?.count).toBe(0);

    await answerRound(clock, 2, 7);
    const later = await scrape(registry);
    expect(valueIn(later, 'heartbeat_heartbeats_received_total', workers)).toBe(3);
  });

  it('reads the monitored targets from the managers at each scrape, also those monitored before it was made', async () => {
    const { clock, registry, make, workers: sender, supervisor: receiver } = setUp();
    sender.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));
    make();
    sender.monitorTarget('tm-2', new ScriptedTarget(clock, 'tm-2'));
    receiver.monitorTarget('jm-1');

    let samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_targets_monitored', workers)).toBe(2);
    expect(valueIn(samples, 'heartbeat_targets_monitored', supervisor)).toBe(1);

    sender.unmonitorTarget('tm-1');
    samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_targets_monitored', workers)).toBe(1);
  });

  it("observes every target's time since its last heartbeat afresh at each scrape, in one histogram per manager", async () => {
    const { clock, registry, make, supervisor: receiver } = setUp();
    receiver.monitorTarget('early'); // before the metrics: its silence counts from their start
    clock.advance(200);
    make();
    clock.advance(100);
    receiver.monitorTarget('heard');
    receiver.monitorTarget('silent');
    clock.advance(100);
    await receiver.requestHeartbeat('heard', null); // at +400
    clock.advance(500); // now +900: heard 0.5 s ago, silent monitored 0.6 s ago, early 0.7 s

    const samples = await scrape(registry);
    const ages = histogramIn(samples, 'heartbeat_time_since_last_heartbeat_seconds', supervisor)!;
    expect(ages.count).toBe(3);
    expect(ages.sum).toBeCloseTo(0.5 + 0.6 + 0.7, 9);
    expect(ages.buckets).toMatchObject({ '0.25': 0, '0.5': 1, '1': 3, '+Inf': 3 });
    expect(
      histogramIn(samples, 'heartbeat_time_since_last_heartbeat_seconds', workers),
    ).toMatchObject({ count: 0 });

    // Not accumulated: the next scrape observes the same targets again, older.
    clock.advance(1_000);
    const later = await scrape(registry);
    const older = histogramIn(later, 'heartbeat_time_since_last_heartbeat_seconds', supervisor)!;
    expect(older.count).toBe(3);
    expect(older.sum).toBeCloseTo(1.5 + 1.6 + 1.7, 9);
  });

  it('with perTarget, also gives each monitored target its own gauge, gone once it is unmonitored', async () => {
    const { clock, registry, make, supervisor: receiver } = setUp({ perTarget: true });
    make();
    receiver.monitorTarget('jm-1');
    receiver.monitorTarget('jm-2');
    clock.advance(250);
    await receiver.requestHeartbeat('jm-1', null);
    clock.advance(750);

    let samples = await scrape(registry);
    const name = 'heartbeat_target_time_since_last_heartbeat_seconds';
    expect(valueIn(samples, name, { manager: 'supervisor', target: 'jm-1' })).toBeCloseTo(0.75, 9);
    expect(valueIn(samples, name, { manager: 'supervisor', target: 'jm-2' })).toBeCloseTo(1, 9);

    receiver.unmonitorTarget('jm-2');
    samples = await scrape(registry);
    expect(seriesIn(samples, name).map(({ labels }) => labels)).toEqual([
      { manager: 'supervisor', target: 'jm-1' },
    ]);
  });

  it('measures the time since each heartbeat on the monotonic clock: a wall-clock step does not change it', async () => {
    const { clock, registry, make, supervisor: receiver } = setUp({ perTarget: true });
    make();
    receiver.monitorTarget('jm-1');
    receiver.monitorTarget('jm-2');
    clock.advance(250);
    await receiver.requestHeartbeat('jm-1', null);
    clock.stepWallClock(3_600_000);
    clock.advance(250);
    clock.stepWallClock(-7_200_000);
    clock.advance(500);

    const samples = await scrape(registry);
    const name = 'heartbeat_target_time_since_last_heartbeat_seconds';
    expect(valueIn(samples, name, { manager: 'supervisor', target: 'jm-1' })).toBeCloseTo(0.75, 9);
    expect(valueIn(samples, name, { manager: 'supervisor', target: 'jm-2' })).toBeCloseTo(1, 9);
  });

  it('goes by the epoch time of another HeartbeatManager implementation, which has nothing else', async () => {
    const clock = new ManualClock(START);
    const registry = new Registry();
    const heardAt = START - 2_500;
    const foreign = {
      isStopped: false,
      getMonitoredTargets: () => ['tm-1'],
      getLastHeartbeatFrom: () => heardAt,
    } as unknown as HeartbeatManager;
    const metrics = new HeartbeatMetrics(
      PROM_CLIENT,
      { managers: new Map([['foreign', foreign]]), clock, events: new Subject<HeartbeatEvent>() },
      { registry, perTarget: true },
    );

    const samples = await scrape(registry);
    expect(
      valueIn(samples, 'heartbeat_target_time_since_last_heartbeat_seconds', {
        manager: 'foreign',
        target: 'tm-1',
      }),
    ).toBeCloseTo(2.5, 9);
    metrics.close();
  });

  it("goes by a manager's monotonic silence whatever build made it: duck-typed, not instanceof", async () => {
    // A manager of the package's other build (CJS beside ESM) is no instance of this build's
    // class, yet has its millisSinceLastHeartbeat: the wall clock's 1 h step must not count.
    const clock = new ManualClock(START);
    const registry = new Registry();
    const otherBuild = {
      isStopped: false,
      getMonitoredTargets: () => ['tm-1'],
      getLastHeartbeatFrom: () => START - 3_600_000,
      millisSinceLastHeartbeat: () => 1_500,
    } as unknown as HeartbeatManager;
    const metrics = new HeartbeatMetrics(
      PROM_CLIENT,
      { managers: new Map([['other', otherBuild]]), clock, events: new Subject<HeartbeatEvent>() },
      { registry, perTarget: true },
    );

    const samples = await scrape(registry);
    expect(
      valueIn(samples, 'heartbeat_target_time_since_last_heartbeat_seconds', {
        manager: 'other',
        target: 'tm-1',
      }),
    ).toBeCloseTo(1.5, 9);
    metrics.close();
  });

  it('counts timeouts and unreachable targets per manager, kept after the targets are unmonitored', async () => {
    const { clock, registry, make, workers: sender } = setUp({}, { rpcFailureThreshold: 2 });
    make();
    const silent = new ScriptedTarget(clock, 'silent');
    silent.reply = never;
    const refusing = new ScriptedTarget(clock, 'refusing');
    refusing.reply = () => Promise.reject(new RecipientUnreachableError('refusing', 'refused'));
    sender.monitorTarget('silent', silent);
    sender.monitorTarget('refusing', refusing);
    sender.start();

    await run(clock, TIMEOUT);
    sender.unmonitorTarget('silent');
    sender.unmonitorTarget('refusing');

    const samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_timeouts_total', workers)).toBe(1);
    expect(valueIn(samples, 'heartbeat_unreachable_total', workers)).toBe(1);
    expect(valueIn(samples, 'heartbeat_targets_monitored', workers)).toBe(0);
    expect(valueIn(samples, 'heartbeat_timeouts_total', supervisor)).toBe(0);
  });

  it('counts failed RPCs by kind, each failure whether or not it counts towards the threshold', async () => {
    const { clock, registry, make, workers: sender } = setUp({}, { rpcFailureThreshold: -1 });
    make();
    const flaky = new ScriptedTarget(clock, 'flaky');
    const failures = [
      new RecipientUnreachableError('flaky', 'refused'),
      Object.assign(new Error('no reply in time'), { heartbeatFailureKind: 'timeout' }),
      Object.assign(new Error('bad frame'), { heartbeatFailureKind: 'rejected' }),
      new Error('something else'),
      new RecipientUnreachableError('flaky', 'refused again'),
    ];
    flaky.reply = () => Promise.reject(failures.shift() ?? new Error('unexpected request'));
    sender.monitorTarget('flaky', flaky);
    sender.start();

    await run(clock, 4 * INTERVAL); // five rounds: +0 … +400

    const samples = await scrape(registry);
    const failed = (kind: string) =>
      valueIn(samples, 'heartbeat_rpc_failures_total', { manager: 'workers', kind });
    expect([failed('unreachable'), failed('timeout'), failed('rejected'), failed('other')]).toEqual(
      [2, 1, 1, 1],
    );
  });

  it('counts rejected messages by reason', async () => {
    const { clock, registry, supervisor: receiver, services } = setUp();
    const vetting = services.createSenderManager('rm-1', silentListener, {
      name: 'vetting',
      admitAnswer: () => ({ accepted: false, reason: 'stale fencing token' }),
    });
    const metrics = new HeartbeatMetrics(
      PROM_CLIENT,
      {
        managers: new Map<string, HeartbeatManager>([
          ['supervisor', receiver],
          ['vetting', vetting],
        ]),
        clock,
      },
      { registry },
    );
    vetting.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));
    vetting.start();

    await receiver.requestHeartbeat('stranger', null);
    await receiver.requestHeartbeat('stranger', null);
    await run(clock, INTERVAL); // two answers, both vetoed

    const samples = await scrape(registry);
    const rejected = (manager: string, reason: string) =>
      valueIn(samples, 'heartbeat_rejected_messages_total', { manager, reason });
    expect(rejected('supervisor', 'unknown-origin')).toBe(2);
    expect(rejected('vetting', 'vetoed')).toBe(2);
    expect(rejected('vetting', 'unknown-origin')).toBe(0);
    expect(valueIn(samples, 'heartbeat_heartbeats_received_total', { manager: 'vetting' })).toBe(0);
    metrics.close();
    vetting.stop();
  });

  it('counts stalls of the process and observes how long each lasted', async () => {
    const { clock, registry, make, workers: sender } = setUp({}, { stallThreshold: 100 });
    make();
    const stalls: HeartbeatEvent[] = [];
    sender.events.subscribe((event) => event.type === 'stalled' && stalls.push(event));
    sender.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));

    clock.stall(700);
    clock.advance(1_000);
    clock.stall(3_000);

    const samples = await scrape(registry);
    expect(stalls).toHaveLength(2);
    const lengths = stalls.map((event) => (event.type === 'stalled' ? event.stallMs : 0));
    expect(valueIn(samples, 'heartbeat_stalls_total', workers)).toBe(2);
    const stallSeconds = histogramIn(samples, 'heartbeat_stall_seconds', workers)!;
    expect(stallSeconds.count).toBe(2);
    expect(stallSeconds.sum).toBeCloseTo((lengths[0] + lengths[1]) / 1_000, 9);
    expect(stallSeconds.buckets).toMatchObject({ '0.5': 0, '1': 1, '2.5': 1, '5': 2 });
    sender.stop();
  });

  it('counts the events it is given, when given a stream (in Nest, the registry’s)', async () => {
    const { clock, registry, managers } = setUp();
    const events = new Subject<HeartbeatEvent>();
    const metrics = new HeartbeatMetrics(PROM_CLIENT, { managers, events, clock }, { registry });

    events.next({ type: 'timeout', manager: 'workers', at: START, target: 'x', lastHeartbeat: 0 });
    events.next({
      type: 'rejected',
      manager: '',
      at: START,
      peer: 'unknown',
      reason: 'malformed',
      detail: 'not a heartbeat message',
    });

    const samples = await scrape(registry);
    expect(valueIn(samples, 'heartbeat_timeouts_total', workers)).toBe(1);
    expect(
      valueIn(samples, 'heartbeat_rejected_messages_total', { manager: '', reason: 'malformed' }),
    ).toBe(1);
    metrics.close();
  });

  it('takes a prefix and histogram buckets', async () => {
    const {
      clock,
      registry,
      make,
      workers: sender,
    } = setUp({
      prefix: 'cluster_hb_',
      buckets: { roundTripSeconds: [0.002, 0.02], stallSeconds: [1] },
    });
    make();
    const target = new ScriptedTarget(clock, 'tm-1');
    target.delayMs = 5;
    sender.monitorTarget('tm-1', target);
    sender.start();
    await answerRound(clock, 0, 5);

    const samples = await scrape(registry);
    expect(valueIn(samples, 'cluster_hb_heartbeats_received_total', workers)).toBe(1);
    expect(histogramIn(samples, 'cluster_hb_round_trip_seconds', workers)?.buckets).toEqual({
      '0.002': 0,
      '0.02': 1,
      '+Inf': 1,
    });
    expect(Object.keys(histogramIn(samples, 'cluster_hb_stall_seconds', workers)!.buckets)).toEqual(
      ['1', '+Inf'],
    );
    // The one left at its default.
    expect(
      Object.keys(
        histogramIn(samples, 'cluster_hb_time_since_last_heartbeat_seconds', workers)!.buckets,
      ),
    ).toHaveLength(15);
    expect(samples.filter(({ name }) => name.startsWith('heartbeat_'))).toEqual([]);
  });

  describe('close and a second instance on one registry', () => {
    it('close() stops counting and removes its metrics from the registry; twice is harmless', async () => {
      const { clock, registry, make, workers: sender } = setUp({ perTarget: true });
      const metrics = make();
      const heartbeats = registry.getSingleMetric('heartbeat_heartbeats_received_total')!;
      expect(names(registry)).toHaveLength(11);

      metrics.close();
      metrics.close();
      const target = new ScriptedTarget(clock, 'tm-1');
      sender.monitorTarget('tm-1', target);
      sender.start();
      await run(clock, INTERVAL);

      expect(names(registry)).toEqual([]);
      const { values } = await heartbeats.get();
      expect(values.map(({ value }) => value)).toEqual([0, 0]);
      sender.stop();
    });

    it('replaces the metrics of a closed instance silently, keeping what the registry holds besides', async () => {
      const { registry, make, logger } = setUp();
      const appCounter = new promClient.Counter({
        name: 'app_requests_total',
        help: 'x',
        registers: [registry],
      });
      const first = make();
      first.close();

      make();
      expect(registry.getSingleMetric('app_requests_total')).toBe(appCounter);
      expect(names(registry).filter((name) => name.startsWith('heartbeat_'))).toHaveLength(10);
      expect(logger.warnings).toEqual([]);
    });

    it('replaces the metrics of an instance not closed with a warning, and that one closing later leaves them be', async () => {
      const { registry, make, logger, supervisor: receiver } = setUp();
      const first = make();
      const second = make();

      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(
        /^Heartbeat metrics: replacing heartbeat_targets_monitored, .*heartbeat_rpc_failures_total, made by an earlier HeartbeatMetrics on the same registry that was not closed/,
      );
      first.close();
      expect(names(registry).filter((name) => name.startsWith('heartbeat_'))).toHaveLength(10);
      receiver.monitorTarget('jm-1');
      await receiver.requestHeartbeat('jm-1', null);
      const samples = await scrape(registry);
      expect(valueIn(samples, 'heartbeat_heartbeats_received_total', supervisor)).toBe(1);
      second.close();
    });

    it('refuses a name taken by a metric it did not make, naming it, and leaves the registry as it was', () => {
      const { registry, make } = setUp();
      const first = make();
      registry.removeSingleMetric('heartbeat_timeouts_total');
      const theirs = new promClient.Counter({
        name: 'heartbeat_timeouts_total',
        help: 'the app’s own',
        registers: [registry],
      });

      expect(() => make()).toThrow(
        'The metrics registry already has a metric named heartbeat_timeouts_total, which nestjs-heartbeat did not make; give the heartbeat metrics another prefix or registry',
      );
      expect(registry.getSingleMetric('heartbeat_timeouts_total')).toBe(theirs);
      expect(names(registry).filter((name) => name.startsWith('heartbeat_'))).toHaveLength(10);
      first.close();
    });
  });

  describe('checks its options', () => {
    const cases: [string, HeartbeatMetricsOptions, string, string][] = [
      [
        'a prefix that cannot start a metric name',
        { prefix: '9lives_' },
        'prefix',
        'must be a string of letters, digits, "_" and ":" that does not start with a digit (it starts Prometheus metric names), got "9lives_"',
      ],
      [
        'a registry that is not one',
        { registry: {} as HeartbeatMetricsRegistry },
        'registry',
        'must be a prom-client Registry (an object with registerMetric, getSingleMetric and removeSingleMetric), got {}',
      ],
      [
        'perTarget that is not a boolean',
        { perTarget: 'yes' as never },
        'perTarget',
        'must be true or false, got "yes"',
      ],
      [
        'buckets out of order',
        { buckets: { stallSeconds: [1, 0.5] } },
        'buckets.stallSeconds',
        'must be a non-empty array of increasing finite numbers > 0 (seconds), got [1,0.5]',
      ],
      [
        'an unknown bucket setting',
        { buckets: { roundTrip: [1] } as never },
        'buckets.roundTrip',
        'must be left out: known settings are roundTripSeconds, timeSinceLastHeartbeatSeconds, stallSeconds, got [1]',
      ],
      [
        'an unknown setting',
        { prefixes: 'x' } as never,
        'prefixes',
        'must be left out: known settings are registry, prefix, perTarget, buckets, got "x"',
      ],
    ];

    it.each(cases)('%s', (_, options, setting, rule) => {
      const { make } = setUp();
      let error: unknown;
      try {
        make(options);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect((error as Error).message).toBe(`Invalid HeartbeatMetrics option ${setting}: ${rule}`);
      expect((error as HeartbeatConfigurationError).problems).toEqual([
        expect.objectContaining({ setting }),
      ]);
    });

    it('needs the managers', () => {
      expect(
        () => new HeartbeatMetrics(PROM_CLIENT, {} as never, { registry: new Registry() }),
      ).toThrow(
        new TypeError(
          'HeartbeatMetrics needs sources.managers, a Map of the managers by name, got undefined',
        ),
      );
    });
  });

  it('defaults to prom-client’s global register', async () => {
    const { managers, clock } = setUp();
    const metrics = new HeartbeatMetrics(PROM_CLIENT, { managers, clock });
    try {
      const samples = await scrape(promClient.register);
      expect(valueIn(samples, 'heartbeat_timeouts_total', workers)).toBe(0);
    } finally {
      metrics.close();
    }
    expect(promClient.register.getSingleMetric('heartbeat_timeouts_total')).toBeUndefined();
  });
});

import { Test, type TestingModule } from '@nestjs/testing';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { ManualClock } from '../core/manual-clock.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type {
  HeartbeatModuleExtras,
  HeartbeatModuleOptions,
} from './interfaces/heartbeat-module-options.interface.js';
import {
  declareHeartbeatManagers,
  resolveHeartbeatOptions,
} from './heartbeat-options.validation.js';

type Managers = HeartbeatModuleExtras['managers'];

describe('HeartbeatModule options validation', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;

  beforeEach(() => {
    clock = new ManualClock();
    moduleRef = undefined;
  });

  afterEach(async () => {
    await moduleRef?.close();
  });

  /** Compiles and starts a module with forRoot; resolves to the start-up error, or null. */
  async function startupError(
    options: Partial<HeartbeatModuleOptions>,
    managers: Managers = { workers: 'sender' },
  ) {
    try {
      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRoot({
            resourceId: 'node-a',
            clock,
            scheduler: clock,
            managers,
            ...options,
          }),
        ],
      }).compile();
      await moduleRef.init();
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  /** The same through forRootAsync, with the options made by the factory. */
  async function asyncStartupError(
    options: Partial<HeartbeatModuleOptions>,
    managers: Managers = { workers: 'sender' },
  ) {
    try {
      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRootAsync({
            managers,
            useFactory: () =>
              ({
                resourceId: 'node-a',
                clock,
                scheduler: clock,
                ...options,
              }) as HeartbeatModuleOptions,
          }),
        ],
      }).compile();
      await moduleRef.init();
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  it('starts with valid options (sanity check of the helpers)', async () => {
    expect(await startupError({})).toBeNull();
    expect(await asyncStartupError({})).toBeNull();
  });

  describe('static declarations, rejected by forRoot / forRootAsync themselves', () => {
    it('rejects a module without managers', () => {
      const message =
        'HeartbeatModule needs at least one manager: pass managers: { <name>: "sender" | "receiver" } to forRoot/forRootAsync';
      expect(() => HeartbeatModule.forRoot({ resourceId: 'node-a', managers: {} })).toThrow(
        message,
      );
      expect(() => HeartbeatModule.forRoot({ resourceId: 'node-a' } as never)).toThrow(message);
      expect(() =>
        HeartbeatModule.forRootAsync({ useFactory: () => ({ resourceId: 'node-a' }) }),
      ).toThrow(message);
      expect(() => HeartbeatModule.forRoot({ resourceId: 'node-a', managers: {} })).toThrow(
        HeartbeatConfigurationError,
      );
    });

    it.each([
      [
        'a bad role string',
        { workers: 'both' },
        'Heartbeat manager "workers" has role "both"; expected "sender" or "receiver"',
      ],
      [
        'a bad role in a definition',
        { workers: { role: 'Sender' } },
        'Heartbeat manager "workers" has role "Sender"; expected "sender" or "receiver"',
      ],
      [
        'a definition without role',
        { workers: { interval: 5 } },
        'Heartbeat manager "workers" has role undefined; expected "sender" or "receiver"',
      ],
      [
        'a null definition',
        { ok: 'receiver', workers: null },
        'Heartbeat manager "workers" has role undefined; expected "sender" or "receiver"',
      ],
    ])('rejects %s', (_case, managers, message) => {
      expect(() =>
        HeartbeatModule.forRoot({ resourceId: 'node-a', managers: managers as never }),
      ).toThrow(message);
      expect(() =>
        HeartbeatModule.forRootAsync({
          managers: managers as never,
          useFactory: () => ({ resourceId: 'x' }),
        }),
      ).toThrow(message);
    });
  });

  describe('runtime options, rejected at start-up', () => {
    it.each<[string, Partial<HeartbeatModuleOptions>, Managers | undefined, string]>([
      [
        'an empty resourceId',
        { resourceId: '' },
        undefined,
        'Invalid HeartbeatModule option resourceId: must be a non-empty string of at most 256 characters, got ""',
      ],
      [
        'a blank resourceId',
        { resourceId: '   ' },
        undefined,
        'Invalid HeartbeatModule option resourceId: must be a non-empty string of at most 256 characters, got "   "',
      ],
      [
        'a missing resourceId',
        { resourceId: undefined },
        undefined,
        'Invalid HeartbeatModule option resourceId: must be a non-empty string of at most 256 characters, got undefined',
      ],
      [
        "an empty manager's resourceId",
        {},
        { workers: { role: 'sender', resourceId: '' } },
        'Invalid HeartbeatModule option managers.workers.resourceId: must be a non-empty string of at most 256 characters, got ""',
      ],
      [
        'interval > timeout',
        { interval: 60_000 },
        undefined,
        'Invalid HeartbeatModule configuration: interval (60000 ms) must not be greater than timeout (50000 ms)',
      ],
      [
        'interval > timeout in a per-manager override',
        { interval: 1_000, timeout: 5_000 },
        { ok: 'receiver', workers: { role: 'sender', timeout: 500 } },
        'Invalid heartbeat manager "workers" configuration: interval (1000 ms) must not be greater than timeout (500 ms)',
      ],
      [
        'interval 0',
        { interval: 0 },
        undefined,
        'Invalid HeartbeatModule configuration: interval (heartbeat.interval) must be a number of ms > 0 and <= 2147483647, got 0',
      ],
      [
        'threshold 0',
        { rpcFailureThreshold: 0 },
        undefined,
        'Invalid HeartbeatModule configuration: rpcFailureThreshold (heartbeat.rpc-failure-threshold) must be an integer > 0, or -1 to disable, got 0',
      ],
      [
        'a per-manager threshold 0',
        {},
        { workers: { role: 'receiver', rpcFailureThreshold: 0 } },
        'rpcFailureThreshold (heartbeat.rpc-failure-threshold) must be an integer > 0, or -1 to disable, got 0',
      ],
      [
        'requestTimeout -1',
        { requestTimeout: -1 },
        undefined,
        'Invalid HeartbeatModule option requestTimeout: must be a number > 0, got -1',
      ],
      [
        'requestTimeout 0',
        { requestTimeout: 0 },
        undefined,
        'Invalid HeartbeatModule option requestTimeout: must be a number > 0, got 0',
      ],
      [
        'clientLimits.maxBufferSize 0',
        { clientLimits: { maxBufferSize: 0 } },
        undefined,
        'Invalid HeartbeatModule option clientLimits.maxBufferSize: must be an integer > 0, got 0',
      ],
      [
        'clientLimits.maxSendBufferSize -1',
        { clientLimits: { maxSendBufferSize: -1 } },
        undefined,
        'Invalid HeartbeatModule option clientLimits.maxSendBufferSize: must be an integer > 0, got -1',
      ],
      [
        'a string requestTimeout',
        { requestTimeout: '500' as never },
        undefined,
        'Invalid HeartbeatModule option requestTimeout: must be a number > 0, got "500"',
      ],
      [
        'metrics that are neither a boolean nor options',
        { metrics: 'yes' as never },
        undefined,
        'Invalid HeartbeatModule option metrics: must be true, false or an object of metrics options, got "yes"',
      ],
      [
        'metrics: null (e.g. from a JSON config in forRootAsync)',
        { metrics: null as never },
        undefined,
        'Invalid HeartbeatModule option metrics: must be true, false or an object of metrics options, got null',
      ],
      [
        'a metrics prefix that cannot start a metric name',
        { metrics: { prefix: 'heart-beat_' } },
        undefined,
        'Invalid HeartbeatModule option metrics.prefix: must be a string of letters, digits, "_" and ":" that does not start with a digit (it starts Prometheus metric names), got "heart-beat_"',
      ],
      [
        'a metrics registry that is not a prom-client Registry',
        { metrics: { registry: { metrics: () => '' } as never } },
        undefined,
        'Invalid HeartbeatModule option metrics.registry: must be a prom-client Registry (an object with registerMetric, getSingleMetric and removeSingleMetric), got {}',
      ],
      [
        'empty metrics buckets',
        { metrics: { buckets: { roundTripSeconds: [] } } },
        undefined,
        'Invalid HeartbeatModule option metrics.buckets.roundTripSeconds: must be a non-empty array of increasing finite numbers > 0 (seconds), got []',
      ],
      [
        'a misspelt metrics setting',
        { metrics: { perTargets: true } as never },
        undefined,
        'Invalid HeartbeatModule option metrics.perTargets: must be left out: known settings are registry, prefix, perTarget, buckets, got true',
      ],
    ])('rejects %s with a message naming the value', async (_case, options, managers, message) => {
      const viaForRoot = await startupError(options, managers);
      expect(viaForRoot).toBeInstanceOf(HeartbeatConfigurationError);
      expect(viaForRoot?.message).toContain(message);

      const viaForRootAsync = await asyncStartupError(options, managers);
      expect(viaForRootAsync).toBeInstanceOf(HeartbeatConfigurationError);
      expect(viaForRootAsync?.message).toContain(message);
    });

    it('reports every module-wide configuration problem at once, naming the module, not a manager', async () => {
      const error = await startupError({ interval: 0, timeout: -5, rpcFailureThreshold: 1.5 });
      expect(error?.message).toMatch(/^Invalid HeartbeatModule configuration: /);
      expect(error?.message).toContain(
        'interval (heartbeat.interval) must be a number of ms > 0 and <= 2147483647, got 0',
      );
      expect(error?.message).toContain(
        'timeout (heartbeat.timeout) must be a number of ms > 0 and <= 2147483647, got -5',
      );
      expect(error?.message).toContain('must be an integer > 0, or -1 to disable, got 1.5');
    });

    it('accepts threshold -1 and a per-manager resourceId when the module-wide one is missing', async () => {
      expect(
        await startupError(
          { resourceId: undefined, rpcFailureThreshold: -1 },
          { workers: { role: 'sender', resourceId: 'own-id' } },
        ),
      ).toBeNull();
    });
  });

  describe('resolveHeartbeatOptions (what the module injects)', () => {
    it("fills in the defaults: Flink's heartbeat settings, requestTimeout 10 s and small client frame limits", () => {
      const resolved = resolveHeartbeatOptions(
        { resourceId: 'node-a' },
        declareHeartbeatManagers({ workers: 'sender', tm: 'receiver' }),
      );
      expect(resolved).toEqual({
        managers: [
          {
            name: 'workers',
            role: 'sender',
            resourceId: 'node-a',
            configuration: {
              interval: 10_000,
              timeout: 50_000,
              rpcFailureThreshold: 2,
              stallThreshold: 2_000,
            },
          },
          {
            name: 'tm',
            role: 'receiver',
            resourceId: 'node-a',
            configuration: {
              interval: 10_000,
              timeout: 50_000,
              rpcFailureThreshold: 2,
              stallThreshold: 2_000,
            },
          },
        ],
        requestTimeout: 10_000,
        clientLimits: {
          maxBufferSize: 65_536,
          incompleteMessageTimeout: 5_000,
          maxSendBufferSize: 262_144,
        },
        clock: undefined,
        scheduler: undefined,
        metrics: null,
      });
    });

    it('resolves metrics: true to the defaults, and options to the defaults with what they give', () => {
      const declarations = declareHeartbeatManagers({ workers: 'sender' });
      const defaults = resolveHeartbeatOptions({ resourceId: 'a', metrics: true }, declarations);
      expect(defaults.metrics).toEqual({
        registry: undefined,
        prefix: 'heartbeat_',
        perTarget: false,
        buckets: {
          roundTripSeconds: [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
          ],
          timeSinceLastHeartbeatSeconds: [
            0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120, 300,
          ],
          stallSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        },
      });
      const given = resolveHeartbeatOptions(
        { resourceId: 'a', metrics: { perTarget: true, buckets: { stallSeconds: [0.1, 1] } } },
        declarations,
      );
      expect(given.metrics).toMatchObject({
        prefix: 'heartbeat_',
        perTarget: true,
        buckets: {
          stallSeconds: [0.1, 1],
          roundTripSeconds: defaults.metrics!.buckets.roundTripSeconds,
        },
      });
      expect(
        resolveHeartbeatOptions({ resourceId: 'a', metrics: false }, declarations).metrics,
      ).toBeNull();
    });

    it('names the problem of a bad metrics option in its problems, as the options name it', () => {
      let error: unknown;
      try {
        resolveHeartbeatOptions(
          { resourceId: 'a', metrics: { buckets: { stallSeconds: [2, 1] } } },
          declareHeartbeatManagers({ workers: 'sender' }),
        );
      } catch (thrown) {
        error = thrown;
      }
      expect((error as HeartbeatConfigurationError).problems).toEqual([
        {
          setting: 'metrics.buckets.stallSeconds',
          rule: 'a non-empty array of increasing finite numbers > 0 (seconds)',
          value: [2, 1],
        },
      ]);
    });

    it('keeps given client limits and lets undefined ones fall back to the defaults', () => {
      const resolved = resolveHeartbeatOptions(
        {
          resourceId: 'node-a',
          requestTimeout: 750,
          clientLimits: { maxBufferSize: 4_096, maxSendBufferSize: undefined },
        },
        declareHeartbeatManagers({ workers: 'sender' }),
      );
      expect(resolved.requestTimeout).toBe(750);
      expect(resolved.clientLimits).toEqual({
        maxBufferSize: 4_096,
        incompleteMessageTimeout: 5_000,
        maxSendBufferSize: 262_144,
      });
    });

    it('rejects options that are not an object (e.g. a factory returning nothing)', () => {
      expect(() =>
        resolveHeartbeatOptions(
          undefined as never,
          declareHeartbeatManagers({ workers: 'sender' }),
        ),
      ).toThrow('Invalid HeartbeatModule option options: must be an object, got undefined');
    });
  });

  describe('limits that protect the wire and the timers', () => {
    it('rejects a requestTimeout above the timer limit (2147483647 ms), as it does for interval and timeout', async () => {
      // Above the limit Node fires the timer after ~1 ms: every heartbeat RPC would time out.
      const error = await startupError({ requestTimeout: 2 ** 31 });
      expect(error?.message).toContain('requestTimeout');
    });

    it('names a non-finite value as it is (NaN / Infinity), not as "null"', async () => {
      const error = await startupError({ requestTimeout: Number.NaN });
      expect(error?.message).toBe(
        'Invalid HeartbeatModule option requestTimeout: must be a number > 0, got NaN',
      );
    });

    it('rejects clientLimits: null (e.g. from a JSON config in forRootAsync) with a message naming it', async () => {
      const error = await asyncStartupError({ clientLimits: null as never });
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect(error?.message).toContain('clientLimits');
    });

    it('rejects a resourceId that the wire format cannot carry (more than 256 characters)', async () => {
      // Every peer would reject its heartbeats: the wire carries origins of 1 to 256 characters.
      const error = await startupError({ resourceId: 'n'.repeat(257) });
      expect(error?.message).toContain('resourceId');
    });
  });

  describe('declarations and clocks', () => {
    it('rejects a misspelt manager setting instead of ignoring it', async () => {
      const error = await startupError({}, { workers: { role: 'sender', intervall: 5 } as never });
      expect(error?.message).toBe(
        'Heartbeat manager "workers" has an unknown setting "intervall"; known: role, resourceId, interval, timeout, rpcFailureThreshold, stallThreshold, detector',
      );
    });

    it('rejects a manager name the wire format cannot carry', async () => {
      const error = await startupError({}, { ['m'.repeat(257)]: 'sender' });
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect(error?.message).toContain('must be 1 to 256 characters');
    });

    it('rejects an unknown clientLimits key', async () => {
      const error = await startupError({
        clientLimits: { maxBufferSize: 10, maxBuffer: 5 } as never,
      });
      expect(error?.message).toContain('clientLimits.maxBuffer');
    });

    it('passes clock and scheduler on as given: HeartbeatServices completes them, as it does outside Nest', () => {
      const resolved = resolveHeartbeatOptions(
        { resourceId: 'node-a', clock },
        declareHeartbeatManagers({ workers: 'sender' }),
      );
      expect(resolved.clock).toBe(clock);
      expect(resolved.scheduler).toBeUndefined();
    });

    it('uses a ManualClock passed only as clock as the scheduler too, so time stays fake', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRoot({ resourceId: 'node-a', clock, managers: { workers: 'sender' } }),
        ],
      }).compile();
      await moduleRef.init();
      // The sender loop's first run is scheduled on the fake clock, not on a real timer.
      expect(clock.pendingTasks).toBeGreaterThan(0);
    });

    it('uses a ManualClock passed only as scheduler as the clock too: heartbeats get fake times', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRoot({
            resourceId: 'node-a',
            scheduler: clock,
            managers: { supervisor: 'receiver' },
          }),
        ],
      }).compile();
      await moduleRef.init();
      const supervisor = moduleRef.get(HeartbeatRegistry).getManager('supervisor');
      supervisor.monitorTarget('rm', {
        requestHeartbeat: () => Promise.resolve(),
        receiveHeartbeat: () => Promise.resolve(),
      });
      clock.advance(10);
      await supervisor.receiveHeartbeat('rm', null);

      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
    });
  });

  describe('structured problems', () => {
    it.each<[string, Partial<HeartbeatModuleOptions>, Managers | undefined, unknown[]]>([
      [
        'a module-wide interval > timeout',
        { interval: 60_000 },
        undefined,
        [
          {
            setting: 'interval',
            rule: 'at most timeout (50000 ms)',
            value: 60_000,
            atMost: { setting: 'timeout', value: 50_000 },
          },
        ],
      ],
      [
        'a per-manager threshold 0, named as the options name it',
        {},
        { workers: { role: 'receiver', rpcFailureThreshold: 0 } },
        [
          {
            setting: 'managers.workers.rpcFailureThreshold',
            rule: 'an integer > 0, or -1 to disable',
            value: 0,
          },
        ],
      ],
      [
        'a per-manager timeout below the module-wide interval',
        { interval: 1_000, timeout: 5_000 },
        { ok: 'receiver', workers: { role: 'sender', timeout: 500 } },
        [
          {
            setting: 'interval',
            rule: 'at most managers.workers.timeout (500 ms)',
            value: 1_000,
            atMost: { setting: 'managers.workers.timeout', value: 500 },
          },
        ],
      ],
      [
        'a per-manager timeout below the default interval',
        {},
        { jobMasters: { role: 'sender', timeout: 5_000 } },
        [
          {
            setting: 'interval',
            rule: 'at most managers.jobMasters.timeout (5000 ms)',
            value: 10_000,
            atMost: { setting: 'managers.jobMasters.timeout', value: 5_000 },
          },
        ],
      ],
      [
        "a manager's own interval above its own timeout",
        { interval: 100, timeout: 5_000 },
        { workers: { role: 'sender', interval: 2_000, timeout: 1_000 } },
        [
          {
            setting: 'managers.workers.interval',
            rule: 'at most managers.workers.timeout (1000 ms)',
            value: 2_000,
            atMost: { setting: 'managers.workers.timeout', value: 1_000 },
          },
        ],
      ],
      [
        "a manager's own interval above the module-wide timeout",
        { interval: 100, timeout: 1_000 },
        { workers: { role: 'sender', interval: 2_000 } },
        [
          {
            setting: 'managers.workers.interval',
            rule: 'at most timeout (1000 ms)',
            value: 2_000,
            atMost: { setting: 'timeout', value: 1_000 },
          },
        ],
      ],
      [
        'requestTimeout 0',
        { requestTimeout: 0 },
        undefined,
        [{ setting: 'requestTimeout', rule: 'a number > 0', value: 0 }],
      ],
      [
        'a clientLimits value that is not an integer',
        { clientLimits: { maxBufferSize: 1.5 } },
        undefined,
        [{ setting: 'clientLimits.maxBufferSize', rule: 'an integer > 0', value: 1.5 }],
      ],
      [
        "an empty manager's resourceId",
        {},
        { workers: { role: 'sender', resourceId: '' } },
        [
          {
            setting: 'managers.workers.resourceId',
            rule: 'a non-empty string of at most 256 characters',
            value: '',
          },
        ],
      ],
    ])('lists { setting, rule, value } for %s', async (_case, options, managers, problems) => {
      const error = await startupError(options, managers);
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect((error as HeartbeatConfigurationError).problems).toEqual(problems);
    });

    it('lists the problem of a bad declaration too', () => {
      let caught: unknown;
      try {
        declareHeartbeatManagers({ workers: { role: 'leader' as never } });
      } catch (error) {
        caught = error;
      }
      expect((caught as HeartbeatConfigurationError).problems).toEqual([
        { setting: 'managers.workers.role', rule: '"sender" or "receiver"', value: 'leader' },
      ]);
    });
  });

  describe('detector', () => {
    const PHI_DEFAULTS = {
      kind: 'phi-accrual',
      threshold: 8,
      minStdDeviation: 100,
      acceptableHeartbeatPause: 3_000,
      maxSampleSize: 1_000,
    };
    const detectorsOf = (options: Partial<HeartbeatModuleOptions>, managers: Managers) =>
      Object.fromEntries(
        resolveHeartbeatOptions(
          { resourceId: 'node-a', ...options },
          declareHeartbeatManagers(managers),
        ).managers.map(({ name, configuration }) => [name, configuration.detector]),
      );

    it('is per manager: a module-wide detector, overridden by a manager, "fixed" included', () => {
      expect(
        detectorsOf(
          { detector: { kind: 'phi-accrual', threshold: 10 } },
          {
            inherits: 'sender',
            own: { role: 'receiver', detector: { kind: 'phi-accrual', maxSampleSize: 50 } },
            flink: { role: 'sender', detector: 'fixed' },
          },
        ),
      ).toEqual({
        inherits: { ...PHI_DEFAULTS, threshold: 10 },
        own: { ...PHI_DEFAULTS, maxSampleSize: 50 },
        flink: undefined,
      });
      expect(detectorsOf({}, { workers: 'sender' })).toEqual({ workers: undefined });
    });

    it("gives the module's managers the detector they were declared with", async () => {
      expect(
        await startupError(
          { interval: 1_000, timeout: 10_000 },
          { workers: { role: 'sender', detector: { kind: 'phi-accrual' } }, tm: 'receiver' },
        ),
      ).toBeNull();
      const registry = moduleRef!.get(HeartbeatRegistry);
      const configurationOf = (name: string) =>
        (registry.getManager(name) as unknown as { configuration: { detector?: unknown } })
          .configuration;
      expect(configurationOf('workers').detector).toEqual(PHI_DEFAULTS);
      expect(configurationOf('tm').detector).toBeUndefined();
    });

    it.each<[string, Partial<HeartbeatModuleOptions>, Managers, unknown[]]>([
      [
        "a manager's own bad threshold",
        {},
        { workers: { role: 'sender', detector: { kind: 'phi-accrual', threshold: 0 } } },
        [{ setting: 'managers.workers.detector.threshold', rule: 'a finite number > 0', value: 0 }],
      ],
      [
        "a manager's own unknown detector key and bad maxSampleSize",
        {},
        {
          workers: {
            role: 'receiver',
            detector: { kind: 'phi-accrual', maxSampleSize: 0, pause: 1 } as never,
          },
        },
        [
          {
            setting: 'managers.workers.detector.pause',
            rule: 'left out: known settings are kind, threshold, minStdDeviation, acceptableHeartbeatPause, maxSampleSize',
            value: 1,
          },
          {
            setting: 'managers.workers.detector.maxSampleSize',
            rule: 'an integer from 1 to 10000',
            value: 0,
          },
        ],
      ],
      [
        "a manager's unknown detector",
        {},
        { workers: { role: 'sender', detector: 'adaptive' as never } },
        [
          {
            setting: 'managers.workers.detector',
            rule: '"fixed" or { kind: "phi-accrual", threshold?, minStdDeviation?, acceptableHeartbeatPause?, maxSampleSize? }',
            value: 'adaptive',
          },
        ],
      ],
      [
        'a module-wide bad acceptableHeartbeatPause, by its plain name',
        { detector: { kind: 'phi-accrual', acceptableHeartbeatPause: -5 } },
        { workers: 'sender' },
        [
          {
            setting: 'detector.acceptableHeartbeatPause',
            rule: 'a number of ms >= 0 and <= 2147483647',
            value: -5,
          },
        ],
      ],
    ])('lists the problem of %s', async (_case, options, managers, problems) => {
      const error = await startupError(options, managers);
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect((error as HeartbeatConfigurationError).problems).toEqual(problems);
    });

    it('is checked through forRootAsync too', async () => {
      const error = await asyncStartupError({
        detector: { kind: 'phi-accrual', minStdDeviation: 0 },
      });
      expect((error as HeartbeatConfigurationError).problems).toEqual([
        {
          setting: 'detector.minStdDeviation',
          rule: 'a number of ms > 0 and <= 2147483647',
          value: 0,
        },
      ]);
    });
  });
});

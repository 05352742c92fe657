import {
  DEFAULT_HEARTBEAT_CONFIGURATION,
  effectiveStallThreshold,
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
} from './heartbeat-configuration.js';

/** Lets a test pass values the type forbids, as untyped configuration (env, JSON) would. */
const untyped = (value: unknown) => value as Partial<HeartbeatConfiguration>;

function problemWith(overrides: Partial<HeartbeatConfiguration>): HeartbeatConfigurationError {
  let caught: unknown;
  try {
    resolveHeartbeatConfiguration(overrides);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HeartbeatConfigurationError);
  return caught as HeartbeatConfigurationError;
}

describe('resolveHeartbeatConfiguration', () => {
  describe('defaults (Flink: heartbeat.interval 10 s, heartbeat.timeout 50 s, rpc-failure-threshold 2)', () => {
    it('uses the defaults when nothing is given', () => {
      expect(resolveHeartbeatConfiguration()).toEqual({
        interval: 10_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
      expect(resolveHeartbeatConfiguration({})).toEqual(DEFAULT_HEARTBEAT_CONFIGURATION);
    });

    it('keeps the defaults for keys given as undefined', () => {
      expect(
        resolveHeartbeatConfiguration({
          interval: undefined,
          timeout: undefined,
          rpcFailureThreshold: undefined,
        }),
      ).toEqual({
        interval: 10_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
    });

    it('overrides only the keys given', () => {
      expect(resolveHeartbeatConfiguration({ interval: 1_000 })).toEqual({
        interval: 1_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
      expect(resolveHeartbeatConfiguration({ timeout: 20_000, rpcFailureThreshold: 5 })).toEqual({
        interval: 10_000,
        timeout: 20_000,
        rpcFailureThreshold: 5,
        stallThreshold: 2_000,
      });
    });

    it('returns a frozen object and does not modify the defaults', () => {
      const resolved = resolveHeartbeatConfiguration({ interval: 5 });
      expect(Object.isFrozen(resolved)).toBe(true);
      expect(DEFAULT_HEARTBEAT_CONFIGURATION).toEqual({
        interval: 10_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
    });
  });

  describe('interval: > 0 and <= timeout', () => {
    it.each([
      ['0', 0, 'got 0'],
      ['negative', -1, 'got -1'],
      ['NaN', Number.NaN, 'got NaN'],
      ['Infinity', Number.POSITIVE_INFINITY, 'got Infinity'],
    ])('rejects a %s interval, naming the value', (_label, interval, named) => {
      const error = problemWith({ interval });
      expect(error.message).toContain('interval (heartbeat.interval)');
      expect(error.message).toContain(named);
    });

    it('rejects a non-number interval, naming the value', () => {
      const error = problemWith(untyped({ interval: '1000' }));
      expect(error.message).toContain('interval (heartbeat.interval)');
      expect(error.message).toContain('got "1000"');
    });

    it('rejects a null interval, naming the value', () => {
      const error = problemWith(untyped({ interval: null }));
      expect(error.message).toContain('interval (heartbeat.interval)');
      expect(error.message).toContain('got null');
    });

    it('rejects an interval greater than the timeout, naming both values', () => {
      const error = problemWith({ interval: 2_000, timeout: 1_000 });
      expect(error.message).toContain(
        'interval (2000 ms) must not be greater than timeout (1000 ms)',
      );
    });

    it('rejects a default interval greater than a small timeout', () => {
      const error = problemWith({ timeout: 5_000 });
      expect(error.message).toContain(
        'interval (10000 ms) must not be greater than timeout (5000 ms)',
      );
    });

    it('accepts an interval equal to the timeout', () => {
      expect(resolveHeartbeatConfiguration({ interval: 1_000, timeout: 1_000 })).toMatchObject({
        interval: 1_000,
        timeout: 1_000,
      });
    });

    it('accepts a tiny interval', () => {
      expect(resolveHeartbeatConfiguration({ interval: 1 }).interval).toBe(1);
    });
  });

  describe('timeout: > 0', () => {
    it.each([
      ['0', 0, 'got 0'],
      ['negative', -5, 'got -5'],
      ['NaN', Number.NaN, 'got NaN'],
    ])('rejects a %s timeout, naming the value', (_label, timeout, named) => {
      const error = problemWith({ timeout });
      expect(error.message).toContain('timeout (heartbeat.timeout)');
      expect(error.message).toContain(named);
    });

    it('rejects a non-number timeout, naming the value', () => {
      const error = problemWith(untyped({ timeout: 'soon' }));
      expect(error.message).toContain('timeout (heartbeat.timeout)');
      expect(error.message).toContain('got "soon"');
    });

    it("rejects a timeout too long for Node's timers", () => {
      const error = problemWith({ timeout: 2_147_483_648 });
      expect(error.message).toContain('timeout (heartbeat.timeout)');
      expect(error.message).toContain('got 2147483648');
    });
  });

  describe('rpcFailureThreshold: an integer > 0, or -1 to disable', () => {
    it.each([
      ['0', 0, 'got 0'],
      ['-2', -2, 'got -2'],
      ['1.5', 1.5, 'got 1.5'],
      ['NaN', Number.NaN, 'got NaN'],
    ])('rejects %s, naming the value', (_label, rpcFailureThreshold, named) => {
      const error = problemWith({ rpcFailureThreshold });
      expect(error.message).toContain('rpcFailureThreshold (heartbeat.rpc-failure-threshold)');
      expect(error.message).toContain(named);
    });

    it('rejects a non-number threshold, naming the value', () => {
      const error = problemWith(untyped({ rpcFailureThreshold: '2' }));
      expect(error.message).toContain('rpcFailureThreshold (heartbeat.rpc-failure-threshold)');
      expect(error.message).toContain('got "2"');
    });

    it.each([-1, 1, 2, 5, 100])('accepts %i', (rpcFailureThreshold) => {
      expect(resolveHeartbeatConfiguration({ rpcFailureThreshold }).rpcFailureThreshold).toBe(
        rpcFailureThreshold,
      );
    });
  });

  describe('error reporting', () => {
    it('is a HeartbeatConfigurationError, an Error named after its class', () => {
      const error = problemWith({ interval: 0 });
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('HeartbeatConfigurationError');
    });

    it('names the context and lists every problem at once', () => {
      let caught: unknown;
      try {
        resolveHeartbeatConfiguration(
          { interval: 0, timeout: -1, rpcFailureThreshold: 0 },
          'workers',
        );
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HeartbeatConfigurationError);
      const message = (caught as Error).message;
      expect(message).toMatch(/^Invalid workers configuration: /);
      expect(message).toContain('interval (heartbeat.interval)');
      expect(message).toContain('timeout (heartbeat.timeout)');
      expect(message).toContain('rpcFailureThreshold (heartbeat.rpc-failure-threshold)');
    });

    it('uses "heartbeat" as the default context', () => {
      expect(() => resolveHeartbeatConfiguration({ interval: -1 })).toThrow(
        /^Invalid heartbeat configuration: /,
      );
    });
  });

  describe('stallThreshold (not in Flink): the stall guard', () => {
    it.each([
      [1_500, 375],
      [200, 100],
      [50_000, 2_000],
    ])('defaults to a quarter of a %i ms timeout, within 100 to 2,000 ms', (timeout, expected) => {
      expect(resolveHeartbeatConfiguration({ interval: 10, timeout }).stallThreshold).toBe(
        expected,
      );
    });

    it('keeps a value given, and -1 to switch the guard off', () => {
      expect(resolveHeartbeatConfiguration({ stallThreshold: 50 }).stallThreshold).toBe(50);
      expect(resolveHeartbeatConfiguration({ stallThreshold: -1 }).stallThreshold).toBe(-1);
    });

    it.each([
      ['0', 0, 'got 0'],
      ['below 50 ms', 49, 'got 49'],
      ['fractional', 50.5, 'got 50.5'],
      ['-2', -2, 'got -2'],
      ['string', '100', 'got "100"'],
    ])('rejects a %s stallThreshold, naming the value', (_label, stallThreshold, named) => {
      const error = problemWith(untyped({ stallThreshold }));
      expect(error.message).toContain('stallThreshold must be an integer number of ms from 50 to');
      expect(error.message).toContain(named);
    });

    it('blames only the timeout when the timeout is bad and the threshold not given', () => {
      const error = problemWith({ timeout: Number.NaN });
      expect(error.message).toContain('timeout (heartbeat.timeout)');
      expect(error.message).not.toContain('stallThreshold');
    });
  });

  describe('structured problems, for callers that report them under their own names', () => {
    it('gives each broken rule as { setting, rule, value }, in the order of the message', () => {
      const error = problemWith(
        untyped({ interval: 0, timeout: 'soon', rpcFailureThreshold: 1.5, stallThreshold: 20 }),
      );
      expect(error.problems).toEqual([
        { setting: 'interval', rule: 'a number of ms > 0 and <= 2147483647', value: 0 },
        { setting: 'timeout', rule: 'a number of ms > 0 and <= 2147483647', value: 'soon' },
        { setting: 'rpcFailureThreshold', rule: 'an integer > 0, or -1 to disable', value: 1.5 },
        {
          setting: 'stallThreshold',
          rule: 'an integer number of ms from 50 to 2147483647, or -1 to disable',
          value: 20,
        },
      ]);
      expect(error.message).toBe(
        'Invalid heartbeat configuration: ' +
          'interval (heartbeat.interval) must be a number of ms > 0 and <= 2147483647, got 0; ' +
          'timeout (heartbeat.timeout) must be a number of ms > 0 and <= 2147483647, got "soon"; ' +
          'rpcFailureThreshold (heartbeat.rpc-failure-threshold) must be an integer > 0, or -1 to disable, got 1.5; ' +
          'stallThreshold must be an integer number of ms from 50 to 2147483647, or -1 to disable, got 20',
      );
    });

    it('names the bounding setting of "interval at most timeout", with its value', () => {
      expect(problemWith({ interval: 2_000, timeout: 1_000 }).problems).toEqual([
        {
          setting: 'interval',
          rule: 'at most timeout (1000 ms)',
          value: 2_000,
          atMost: { setting: 'timeout', value: 1_000 },
        },
      ]);
    });

    it('gives the value a default had when the setting was not given', () => {
      expect(problemWith({ timeout: 5_000 }).problems).toEqual([
        expect.objectContaining({ setting: 'interval', value: 10_000 }),
      ]);
    });
  });
});

describe('resolveHeartbeatConfiguration: detector', () => {
  it("leaves Flink's settings exactly as they were for the fixed timeout, given or by default", () => {
    expect(resolveHeartbeatConfiguration({ detector: 'fixed' })).toEqual(
      DEFAULT_HEARTBEAT_CONFIGURATION,
    );
    expect(Object.keys(resolveHeartbeatConfiguration({ detector: 'fixed' }))).toEqual([
      'interval',
      'timeout',
      'rpcFailureThreshold',
      'stallThreshold',
    ]);
    expect(resolveHeartbeatConfiguration({ detector: undefined }).detector).toBeUndefined();
  });

  it("fills in Akka's defaults for phi-accrual, frozen", () => {
    const { detector } = resolveHeartbeatConfiguration({ detector: { kind: 'phi-accrual' } });
    expect(detector).toEqual({
      kind: 'phi-accrual',
      threshold: 8,
      minStdDeviation: 100,
      acceptableHeartbeatPause: 3_000,
      maxSampleSize: 1_000,
    });
    expect(Object.isFrozen(detector)).toBe(true);
  });

  it('keeps the settings given, and does not keep the object given', () => {
    const given = { kind: 'phi-accrual', threshold: 12, maxSampleSize: 200 } as const;
    const { detector } = resolveHeartbeatConfiguration({ detector: given });
    expect(detector).toEqual({
      kind: 'phi-accrual',
      threshold: 12,
      minStdDeviation: 100,
      acceptableHeartbeatPause: 3_000,
      maxSampleSize: 200,
    });
    expect(detector).not.toBe(given);
    expect(Object.isFrozen(given)).toBe(false);
  });

  it('accepts an acceptableHeartbeatPause of 0 and a maxSampleSize of 1 or 10,000', () => {
    for (const settings of [
      { acceptableHeartbeatPause: 0, maxSampleSize: 1 },
      { maxSampleSize: 10_000 },
    ]) {
      expect(
        resolveHeartbeatConfiguration({ detector: { kind: 'phi-accrual', ...settings } }).detector,
      ).toMatchObject(settings);
    }
  });

  it.each<[string, unknown, string, string]>([
    ['threshold', 0, 'detector.threshold', 'a finite number > 0'],
    ['threshold', Number.POSITIVE_INFINITY, 'detector.threshold', 'a finite number > 0'],
    ['threshold', '8', 'detector.threshold', 'a finite number > 0'],
    ['minStdDeviation', 0, 'detector.minStdDeviation', 'a number of ms > 0 and <= 2147483647'],
    [
      'acceptableHeartbeatPause',
      -1,
      'detector.acceptableHeartbeatPause',
      'a number of ms >= 0 and <= 2147483647',
    ],
    ['maxSampleSize', 0, 'detector.maxSampleSize', 'an integer from 1 to 10000'],
    ['maxSampleSize', 2.5, 'detector.maxSampleSize', 'an integer from 1 to 10000'],
    ['maxSampleSize', 10_001, 'detector.maxSampleSize', 'an integer from 1 to 10000'],
  ])('rejects %s %p, naming it %s', (key, value, setting, rule) => {
    const error = problemWith(untyped({ detector: { kind: 'phi-accrual', [key]: value } }));
    expect(error.problems).toEqual([{ setting, rule, value }]);
  });

  it('lists a problem per bad field, in its message too', () => {
    const error = problemWith(
      untyped({
        detector: { kind: 'phi-accrual', threshold: -1, minStdDeviation: Number.NaN, tresh: 8 },
      }),
    );
    expect(error.problems.map(({ setting }) => setting)).toEqual([
      'detector.tresh',
      'detector.threshold',
      'detector.minStdDeviation',
    ]);
    expect(error.problems[0].rule).toBe(
      'left out: known settings are kind, threshold, minStdDeviation, acceptableHeartbeatPause, maxSampleSize',
    );
    expect(error.message).toBe(
      'Invalid heartbeat configuration: ' +
        'detector.tresh must be left out: known settings are kind, threshold, minStdDeviation, acceptableHeartbeatPause, maxSampleSize, got 8; ' +
        'detector.threshold must be a finite number > 0, got -1; ' +
        'detector.minStdDeviation must be a number of ms > 0 and <= 2147483647, got NaN',
    );
  });

  it.each([
    ['an unknown kind', { kind: 'gossip' }],
    ['an unknown name', 'phi'],
    ['no kind', { threshold: 8 }],
    ['null', null],
  ])('rejects %s', (_case, detector) => {
    expect(problemWith(untyped({ detector })).problems).toEqual([
      {
        setting: 'detector',
        rule: '"fixed" or { kind: "phi-accrual", threshold?, minStdDeviation?, acceptableHeartbeatPause?, maxSampleSize? }',
        value: detector,
      },
    ]);
  });

  it("reports the detector's problems with the other settings'", () => {
    const error = problemWith(
      untyped({ interval: 0, detector: { kind: 'phi-accrual', threshold: 0 } }),
    );
    expect(error.problems.map(({ setting }) => setting)).toEqual([
      'interval',
      'detector.threshold',
    ]);
  });
});

const effective = (overrides: Partial<HeartbeatConfiguration>) =>
  effectiveStallThreshold(resolveHeartbeatConfiguration(overrides));
const phiWithPause = (acceptableHeartbeatPause: number) =>
  ({ kind: 'phi-accrual', acceptableHeartbeatPause }) as const;

describe('effectiveStallThreshold: what the stall guard uses', () => {
  it('is the configured threshold for the fixed timeout, however small a pause would be', () => {
    expect(effective({ stallThreshold: 5_000, timeout: 60_000 })).toBe(5_000);
    expect(effective({})).toBe(2_000);
    expect(effective({ stallThreshold: -1 })).toBe(-1);
  });

  it('is capped at acceptableHeartbeatPause / 1.5 with phi-accrual, never below 50 ms, and -1 stays -1', () => {
    // Akka's default pause (3 s) leaves the default threshold (at most 2 s) as it is.
    expect(effective({ detector: { kind: 'phi-accrual' } })).toBe(2_000);
    expect(
      effective({ stallThreshold: 2_000, timeout: 30_000, detector: phiWithPause(1_500) }),
    ).toBe(1_000);
    expect(effective({ stallThreshold: 500, detector: phiWithPause(1_500) })).toBe(500);
    expect(effective({ stallThreshold: 2_000, detector: phiWithPause(1_000) })).toBe(666);
    expect(effective({ stallThreshold: 2_000, detector: phiWithPause(0) })).toBe(50);
    expect(effective({ stallThreshold: -1, detector: phiWithPause(0) })).toBe(-1);
  });

  it('leaves the resolved configuration as given: resolution does not throw for it', () => {
    const configuration = resolveHeartbeatConfiguration({
      stallThreshold: 2_000,
      detector: { kind: 'phi-accrual', acceptableHeartbeatPause: 100 },
    });
    expect(configuration.stallThreshold).toBe(2_000);
    expect(effectiveStallThreshold(configuration)).toBe(66);
  });
});

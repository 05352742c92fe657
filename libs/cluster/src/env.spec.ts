import { EnvironmentError, readHeartbeatSettings } from './env.js';

/** The message `readHeartbeatSettings` fails with for `env` (and that it fails with an EnvironmentError). */
function failureOf(env: Record<string, string>): string {
  let caught: unknown;
  try {
    readHeartbeatSettings(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EnvironmentError);
  return (caught as Error).message;
}

describe('readHeartbeatSettings', () => {
  it("uses the library's defaults (Flink's) for what is not set, blank counting as not set", () => {
    const defaults = {
      interval: 10_000,
      timeout: 50_000,
      rpcFailureThreshold: 2,
      stallThreshold: 2_000,
    };
    expect(readHeartbeatSettings({})).toEqual(defaults);
    expect(readHeartbeatSettings({ HEARTBEAT_TIMEOUT_MS: '  ' })).toEqual(defaults);
  });

  it('reads every variable, and derives the stall threshold from the timeout as the library does', () => {
    expect(
      readHeartbeatSettings({
        HEARTBEAT_INTERVAL_MS: '200',
        HEARTBEAT_TIMEOUT_MS: ' 1500 ',
        HEARTBEAT_RPC_FAILURE_THRESHOLD: '-1',
      }),
    ).toEqual({ interval: 200, timeout: 1_500, rpcFailureThreshold: -1, stallThreshold: 375 });
    expect(readHeartbeatSettings({ HEARTBEAT_STALL_THRESHOLD_MS: '-1' }).stallThreshold).toBe(-1);
  });

  it.each([
    ['HEARTBEAT_INTERVAL_MS', 'abc'],
    ['HEARTBEAT_TIMEOUT_MS', '1.5'],
    ['HEARTBEAT_RPC_FAILURE_THRESHOLD', 'two'],
    ['HEARTBEAT_STALL_THRESHOLD_MS', '1e3'],
  ])('rejects %s=%s: not an integer', (variable, value) => {
    expect(failureOf({ [variable]: value })).toBe(`${variable} must be an integer, got "${value}"`);
  });

  it.each([
    [
      'HEARTBEAT_INTERVAL_MS',
      '0',
      'HEARTBEAT_INTERVAL_MS must be a number of ms > 0 and <= 2147483647, got "0"',
    ],
    [
      'HEARTBEAT_TIMEOUT_MS',
      '2147483648',
      'HEARTBEAT_TIMEOUT_MS must be a number of ms > 0 and <= 2147483647, got "2147483648"',
    ],
    [
      'HEARTBEAT_RPC_FAILURE_THRESHOLD',
      '0',
      'HEARTBEAT_RPC_FAILURE_THRESHOLD must be an integer > 0, or -1 to disable, got "0"',
    ],
    [
      'HEARTBEAT_STALL_THRESHOLD_MS',
      '20',
      'HEARTBEAT_STALL_THRESHOLD_MS must be an integer number of ms from 50 to 2147483647, or -1 to disable, got "20"',
    ],
  ])(
    "reports the library's rule for %s=%s under the variable's name",
    (variable, value, message) => {
      expect(failureOf({ [variable]: value })).toBe(message);
    },
  );

  it('reads HEARTBEAT_DETECTOR: the fixed timeout by default, or phi-accrual with the defaults', () => {
    expect(readHeartbeatSettings({}).detector).toBeUndefined();
    expect(readHeartbeatSettings({ HEARTBEAT_DETECTOR: 'fixed' }).detector).toBeUndefined();
    expect(readHeartbeatSettings({ HEARTBEAT_DETECTOR: ' phi-accrual ' }).detector).toEqual({
      kind: 'phi-accrual',
      threshold: 8,
      minStdDeviation: 100,
      acceptableHeartbeatPause: 3_000,
      maxSampleSize: 1_000,
    });
    expect(failureOf({ HEARTBEAT_DETECTOR: 'phi' })).toBe(
      'HEARTBEAT_DETECTOR must be fixed or phi-accrual, got "phi"',
    );
  });

  it('names both variables when the interval exceeds the timeout', () => {
    expect(failureOf({ HEARTBEAT_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '1000' })).toBe(
      'HEARTBEAT_INTERVAL_MS must be at most HEARTBEAT_TIMEOUT_MS (1000), got "5000"',
    );
  });

  it('says so when the value at fault is a default, and gives the other way out', () => {
    expect(failureOf({ HEARTBEAT_TIMEOUT_MS: '5000' })).toBe(
      'HEARTBEAT_INTERVAL_MS must be at most HEARTBEAT_TIMEOUT_MS (5000), got 10000 (its default); ' +
        'set HEARTBEAT_INTERVAL_MS or raise HEARTBEAT_TIMEOUT_MS',
    );
  });

  it('lists every problem at once', () => {
    expect(
      failureOf({ HEARTBEAT_RPC_FAILURE_THRESHOLD: '0', HEARTBEAT_STALL_THRESHOLD_MS: '10' }),
    ).toBe(
      'HEARTBEAT_RPC_FAILURE_THRESHOLD must be an integer > 0, or -1 to disable, got "0"; ' +
        'HEARTBEAT_STALL_THRESHOLD_MS must be an integer number of ms from 50 to 2147483647, or -1 to disable, got "10"',
    );
  });
});

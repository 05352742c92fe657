import { describeValue, isTimerDelay, MAX_TIMER_DELAY_MS, withoutUndefined } from './values.js';

/** Flink's heartbeat settings, in milliseconds. */
export interface HeartbeatConfiguration {
  /** `heartbeat.interval`: time between two requests of a sender. */
  readonly interval: number;
  /** `heartbeat.timeout`: silence after which a target is declared dead. */
  readonly timeout: number;
  /** `heartbeat.rpc-failure-threshold`: consecutive unreachable RPCs that mark a target unreachable; -1 disables. */
  readonly rpcFailureThreshold: number;
}

export const DEFAULT_HEARTBEAT_CONFIGURATION: HeartbeatConfiguration = Object.freeze({
  interval: 10_000,
  timeout: 50_000,
  rpcFailureThreshold: 2,
});

export class HeartbeatConfigurationError extends Error {
  override readonly name = 'HeartbeatConfigurationError';
}

/** Fills in Flink's defaults and validates the result; throws a {@link HeartbeatConfigurationError} naming the bad value. */
export function resolveHeartbeatConfiguration(
  overrides: Partial<HeartbeatConfiguration> = {},
  context = 'heartbeat',
): HeartbeatConfiguration {
  const merged = { ...DEFAULT_HEARTBEAT_CONFIGURATION, ...withoutUndefined(overrides) };
  const problems: string[] = [];
  if (!isTimerDelay(merged.interval)) {
    problems.push(
      `interval (heartbeat.interval) must be a number of ms > 0 and <= ${MAX_TIMER_DELAY_MS}, got ${describeValue(merged.interval)}`,
    );
  }
  if (!isTimerDelay(merged.timeout)) {
    problems.push(
      `timeout (heartbeat.timeout) must be a number of ms > 0 and <= ${MAX_TIMER_DELAY_MS}, got ${describeValue(merged.timeout)}`,
    );
  }
  if (
    isTimerDelay(merged.interval) &&
    isTimerDelay(merged.timeout) &&
    merged.interval > merged.timeout
  ) {
    problems.push(
      `interval (${merged.interval} ms) must not be greater than timeout (${merged.timeout} ms)`,
    );
  }
  const threshold = merged.rpcFailureThreshold;
  if (!(Number.isInteger(threshold) && (threshold > 0 || threshold === -1))) {
    problems.push(
      `rpcFailureThreshold (heartbeat.rpc-failure-threshold) must be an integer > 0, or -1 to disable, got ${describeValue(threshold)}`,
    );
  }
  if (problems.length > 0) {
    throw new HeartbeatConfigurationError(
      `Invalid ${context} configuration: ${problems.join('; ')}`,
    );
  }
  return Object.freeze(merged);
}

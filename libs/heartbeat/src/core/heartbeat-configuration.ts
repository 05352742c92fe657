import { describeValue, isTimerDelay, MAX_TIMER_DELAY_MS, withoutUndefined } from './values.js';

/** Flink's heartbeat settings, in milliseconds. */
export interface HeartbeatConfiguration {
  /** `heartbeat.interval`: time between two requests of a sender. */
  readonly interval: number;
  /** `heartbeat.timeout`: silence after which a target is declared dead. */
  readonly timeout: number;
  /** `heartbeat.rpc-failure-threshold`: consecutive unreachable RPCs that mark a target unreachable; -1 disables. */
  readonly rpcFailureThreshold: number;
  /**
   * Not in Flink: how late this process's own timers may run (a blocked event loop, a GC pause)
   * before the manager treats it as a stall of its own and gives the timeouts falling due in or
   * just after it a fresh window; at least 50, or -1 to disable. Default: a quarter of the timeout,
   * within 100 to 2,000 ms.
   */
  readonly stallThreshold: number;
}

/** The settings' names, for option checks and messages. */
export const HEARTBEAT_CONFIGURATION_KEYS = Object.freeze([
  'interval',
  'timeout',
  'rpcFailureThreshold',
  'stallThreshold',
] as const satisfies readonly (keyof HeartbeatConfiguration)[]);

const FLINK_DEFAULTS = { interval: 10_000, timeout: 50_000, rpcFailureThreshold: 2 } as const;

/** Below this, ordinary event-loop jitter would count as stalls (and the guard tick too often). */
const MIN_STALL_THRESHOLD = 50;

/** A stall long enough to matter is well under the timeout, yet longer than ordinary GC pauses. */
function defaultStallThreshold(timeout: number): number {
  return Math.min(2_000, Math.max(100, Math.floor(timeout / 4)));
}

export const DEFAULT_HEARTBEAT_CONFIGURATION: HeartbeatConfiguration = Object.freeze({
  ...FLINK_DEFAULTS,
  stallThreshold: defaultStallThreshold(FLINK_DEFAULTS.timeout),
});

export class HeartbeatConfigurationError extends Error {
  override readonly name = 'HeartbeatConfigurationError';
}

/** Fills in Flink's defaults and validates the result; throws a {@link HeartbeatConfigurationError} naming the bad value. */
export function resolveHeartbeatConfiguration(
  overrides: Partial<HeartbeatConfiguration> = {},
  context = 'heartbeat',
): HeartbeatConfiguration {
  const given = { ...FLINK_DEFAULTS, ...withoutUndefined(overrides) };
  const merged = {
    ...given,
    stallThreshold:
      given.stallThreshold ??
      defaultStallThreshold(isTimerDelay(given.timeout) ? given.timeout : FLINK_DEFAULTS.timeout),
  };
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
  const stall = merged.stallThreshold;
  if (!(
    stall === -1 ||
    (isTimerDelay(stall) && Number.isInteger(stall) && stall >= MIN_STALL_THRESHOLD)
  )) {
    problems.push(
      `stallThreshold must be an integer number of ms from ${MIN_STALL_THRESHOLD} to ${MAX_TIMER_DELAY_MS}, or -1 to disable, got ${describeValue(stall)}`,
    );
  }
  if (problems.length > 0) {
    throw new HeartbeatConfigurationError(
      `Invalid ${context} configuration: ${problems.join('; ')}`,
    );
  }
  return Object.freeze(merged);
}

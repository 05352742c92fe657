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

declare const resolved: unique symbol;

/**
 * What `resolveHeartbeatConfiguration` returns: a configuration filled in and validated, frozen.
 * The brand is only a type (a spread or a copy of one keeps it), so `HeartbeatServices` does not
 * trust it: it takes as is only the objects the resolver returned, and resolves anything else.
 */
export type ResolvedHeartbeatConfiguration = HeartbeatConfiguration & {
  readonly [resolved]: true;
};

/** The objects `resolveHeartbeatConfiguration` returned: the only ones known to be valid. */
const resolvedConfigurations = new WeakSet<object>();

/**
 * Whether `value` is an object `resolveHeartbeatConfiguration` returned (frozen, so still valid),
 * not merely something of its type.
 */
export function isResolvedHeartbeatConfiguration(
  value: unknown,
): value is ResolvedHeartbeatConfiguration {
  return typeof value === 'object' && value !== null && resolvedConfigurations.has(value);
}

/** One broken rule: which setting, what it must be, what it is. */
export interface HeartbeatConfigurationProblem {
  /**
   * The setting at fault, as the options name it: `interval`, `requestTimeout`,
   * `managers.workers.role`, … A Nest manager's own setting (an override in its definition) is
   * `managers.<name>.<setting>`, e.g. `managers.jobMasters.timeout`; a module-wide one (or its
   * default) keeps its plain name. `resolveHeartbeatConfiguration` names its four settings plainly.
   */
  readonly setting: string;
  /** What it must be, in the words that follow "must be": `an integer > 0, or -1 to disable`. */
  readonly rule: string;
  /** The value it has (its default, if none was given). */
  readonly value: unknown;
  /**
   * Set when the rule bounds the setting by another one (`interval` must be at most `timeout`): that
   * setting, named as `setting` is, and its value. `rule` then reads `at most timeout (50000 ms)`
   * (or `at most managers.jobMasters.timeout (5000 ms)`).
   */
  readonly atMost?: { readonly setting: string; readonly value: number };
}

/** The rule of a setting bounded by another: `at most timeout (50000 ms)`. */
function atMostRule(setting: string, value: number): string {
  return `at most ${setting} (${value} ms)`;
}

/**
 * The same problems with their settings (and the bounding ones) renamed by `nameOf`, e.g. a Nest
 * manager's own overrides to `managers.<name>.<setting>`; the `atMost` rule follows the rename.
 */
export function renameProblems(
  problems: readonly HeartbeatConfigurationProblem[],
  nameOf: (setting: string) => string,
): HeartbeatConfigurationProblem[] {
  return problems.map(({ setting, rule, value, atMost }) =>
    atMost
      ? {
          setting: nameOf(setting),
          rule: atMostRule(nameOf(atMost.setting), atMost.value),
          value,
          atMost: { setting: nameOf(atMost.setting), value: atMost.value },
        }
      : { setting: nameOf(setting), rule, value },
  );
}

/**
 * A configuration or option that breaks a rule. `problems` lists each broken rule in a structured
 * form (empty only for TLS options, whose values are not repeated), so that a caller can report
 * them under its own names, e.g. environment variables.
 */
export class HeartbeatConfigurationError extends Error {
  override readonly name = 'HeartbeatConfigurationError';

  constructor(
    message: string,
    readonly problems: readonly HeartbeatConfigurationProblem[] = [],
  ) {
    super(message);
  }
}

/** How the messages name each setting: with Flink's key where Flink has one. */
const SETTING_LABELS: Readonly<Record<keyof HeartbeatConfiguration, string>> = {
  interval: 'interval (heartbeat.interval)',
  timeout: 'timeout (heartbeat.timeout)',
  rpcFailureThreshold: 'rpcFailureThreshold (heartbeat.rpc-failure-threshold)',
  stallThreshold: 'stallThreshold',
};

const TIMER_DELAY_RULE = `a number of ms > 0 and <= ${MAX_TIMER_DELAY_MS}`;

function describeProblem(
  problem: HeartbeatConfigurationProblem & { readonly setting: keyof HeartbeatConfiguration },
): string {
  if (problem.atMost) {
    return `${problem.setting} (${describeValue(problem.value)} ms) must not be greater than ${problem.atMost.setting} (${problem.atMost.value} ms)`;
  }
  return `${SETTING_LABELS[problem.setting]} must be ${problem.rule}, got ${describeValue(problem.value)}`;
}

/**
 * Fills in Flink's defaults and validates the result: the one place where the heartbeat rules live.
 * Throws a {@link HeartbeatConfigurationError} listing every broken rule (`context` names the
 * configuration in its message, e.g. `heartbeat manager "workers"`).
 */
export function resolveHeartbeatConfiguration(
  overrides: Partial<HeartbeatConfiguration> = {},
  context = 'heartbeat',
): ResolvedHeartbeatConfiguration {
  const given = { ...FLINK_DEFAULTS, ...withoutUndefined(overrides) };
  const merged: HeartbeatConfiguration = {
    ...given,
    stallThreshold:
      given.stallThreshold ??
      defaultStallThreshold(isTimerDelay(given.timeout) ? given.timeout : FLINK_DEFAULTS.timeout),
  };
  const problems: (HeartbeatConfigurationProblem & {
    readonly setting: keyof HeartbeatConfiguration;
  })[] = [];
  const { interval, timeout, rpcFailureThreshold: threshold, stallThreshold: stall } = merged;
  if (!isTimerDelay(interval)) {
    problems.push({ setting: 'interval', rule: TIMER_DELAY_RULE, value: interval });
  }
  if (!isTimerDelay(timeout)) {
    problems.push({ setting: 'timeout', rule: TIMER_DELAY_RULE, value: timeout });
  }
  if (isTimerDelay(interval) && isTimerDelay(timeout) && interval > timeout) {
    problems.push({
      setting: 'interval',
      rule: atMostRule('timeout', timeout),
      value: interval,
      atMost: { setting: 'timeout', value: timeout },
    });
  }
  if (!(Number.isInteger(threshold) && (threshold > 0 || threshold === -1))) {
    problems.push({
      setting: 'rpcFailureThreshold',
      rule: 'an integer > 0, or -1 to disable',
      value: threshold,
    });
  }
  if (!(
    stall === -1 ||
    (isTimerDelay(stall) && Number.isInteger(stall) && stall >= MIN_STALL_THRESHOLD)
  )) {
    problems.push({
      setting: 'stallThreshold',
      rule: `an integer number of ms from ${MIN_STALL_THRESHOLD} to ${MAX_TIMER_DELAY_MS}, or -1 to disable`,
      value: stall,
    });
  }
  if (problems.length > 0) {
    throw new HeartbeatConfigurationError(
      `Invalid ${context} configuration: ${problems.map(describeProblem).join('; ')}`,
      problems,
    );
  }
  const result = Object.freeze(merged) as ResolvedHeartbeatConfiguration;
  resolvedConfigurations.add(result);
  return result;
}

/** Flink's defaults (interval 10 s, timeout 50 s, threshold 2) and the stall guard's (2 s). */
export const DEFAULT_HEARTBEAT_CONFIGURATION = resolveHeartbeatConfiguration();

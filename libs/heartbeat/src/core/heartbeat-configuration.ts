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
   * within 100 to 2,000 ms. With the phi-accrual detector, a manager's stall guard uses at most
   * `acceptableHeartbeatPause / 1.5` (never below 50 ms), so that a stall it cannot see is covered
   * by that pause; the configuration keeps the value given.
   */
  readonly stallThreshold: number;
  /**
   * Not in Flink: how a monitor decides that a silent target is lost. Absent (the default) or
   * `'fixed'`: Flink's fixed timeout, declared after `timeout` of silence. `{ kind: 'phi-accrual' }`:
   * Akka's phi-accrual detector, which learns the heartbeats' inter-arrival times and declares a
   * target lost as soon as its silence is improbable under them, `timeout` staying an upper bound.
   * See {@link HeartbeatDetector} for when to choose which.
   */
  readonly detector?: HeartbeatDetector;
}

/**
 * Akka cluster's phi-accrual failure detector (Hayashibara et al.), for one manager: each monitor
 * keeps the inter-arrival times of its target's heartbeats and computes phi, how improbable the
 * present silence is under them: phi = -log10(the chance that a heartbeat still comes). A target is
 * declared lost (reason `'timeout'`, as with the fixed timeout) once phi exceeds `threshold`, or once
 * silent for `timeout`, which stays an upper bound. Until its first heartbeat a monitor has only
 * the fixed timeout. Every value is in milliseconds except `threshold` and `maxSampleSize`.
 */
export interface PhiAccrualDetectorOptions {
  readonly kind: 'phi-accrual';
  /**
   * The phi above which a target is declared lost; > 0, default 8 (Akka's). Phi 8 means a chance of
   * about 1e-8 that the heartbeat is merely late under the distribution observed so far; each unit
   * lower detects sooner and is ten times as likely to declare a live target lost.
   */
  readonly threshold?: number;
  /**
   * The least standard deviation assumed, > 0, default 100 ms: very regular heartbeats would
   * otherwise make a few ms of delay look improbable.
   */
  readonly minStdDeviation?: number;
  /**
   * Silence taken as normal on top of the mean inter-arrival time, >= 0, default 3,000 ms: it covers
   * the peer's GC pauses and bursty links. Pauses of this process itself are excused by the stall
   * guard, but only those it sees: it notices a stall once its timers run `stallThreshold` late,
   * so a stall of up to about 1.5 × `stallThreshold` can go unseen, and only this margin covers it.
   * Keep 1.5 × `stallThreshold` below this pause plus a few `minStdDeviation`; a manager caps its
   * stall guard's threshold so that it holds (see `HeartbeatConfiguration.stallThreshold`).
   */
  readonly acceptableHeartbeatPause?: number;
  /**
   * How many of the latest inter-arrival times phi is computed from: an integer 1 to 10,000,
   * default 1,000. Each monitor holds them in a buffer made once, of 8 bytes a sample.
   */
  readonly maxSampleSize?: number;
}

/**
 * A manager's failure detector: `'fixed'` (the default, Flink's), or the phi-accrual detector.
 *
 * Choose `'fixed'` for Flink's exact behaviour, or when heartbeats are rare or irregular (few
 * samples, no stable distribution to learn). Choose `{ kind: 'phi-accrual' }` to detect a dead
 * target sooner than a generous `timeout` would, without lowering that timeout for everyone: once
 * heartbeats arrive at a steady rhythm, a target is declared about mean + acceptableHeartbeatPause
 * + 5 deviations after its last one (interval 1 s with Akka's defaults: about 4.5 s), however
 * long the timeout. Phi-accrual managers judge their monitors with one sweep timer per manager,
 * every tenth of `interval` (at least every 5 ms), rather than a timer per target, so a verdict
 * (the timeout's too) may come up to one such period late.
 */
export type HeartbeatDetector = 'fixed' | PhiAccrualDetectorOptions;

/** A phi-accrual detector as resolution leaves it: every setting filled in, frozen. */
export type ResolvedPhiAccrualDetector = Readonly<Required<PhiAccrualDetectorOptions>>;

/** Akka cluster's defaults (`akka.cluster.failure-detector`). */
const PHI_ACCRUAL_DEFAULTS = {
  threshold: 8,
  minStdDeviation: 100,
  acceptableHeartbeatPause: 3_000,
  maxSampleSize: 1_000,
} as const satisfies Omit<ResolvedPhiAccrualDetector, 'kind'>;

/** Each monitor preallocates its ring of this many samples: bounded so that a typo cannot exhaust memory. */
const MAX_PHI_SAMPLE_SIZE = 10_000;

const PHI_ACCRUAL_KEYS: readonly (keyof PhiAccrualDetectorOptions)[] = [
  'kind',
  'threshold',
  'minStdDeviation',
  'acceptableHeartbeatPause',
  'maxSampleSize',
];

/** The settings' names, for option checks and messages. */
export const HEARTBEAT_CONFIGURATION_KEYS = Object.freeze([
  'interval',
  'timeout',
  'rpcFailureThreshold',
  'stallThreshold',
  'detector',
] as const satisfies readonly (keyof HeartbeatConfiguration)[]);

const FLINK_DEFAULTS = { interval: 10_000, timeout: 50_000, rpcFailureThreshold: 2 } as const;

/** Below this, ordinary event-loop jitter would count as stalls (and the guard tick too often). */
const MIN_STALL_THRESHOLD = 50;

/**
 * The threshold a manager's stall guard uses: the configured one, but with the phi-accrual detector
 * at most `acceptableHeartbeatPause / 1.5` (never below the 50 ms minimum), since a stall up to
 * about 1.5 thresholds can go unseen and only that pause would then cover it. -1 stays disabled.
 * @internal
 */
export function effectiveStallThreshold(configuration: ResolvedHeartbeatConfiguration): number {
  const { stallThreshold, detector } = configuration;
  if (!detector || stallThreshold === -1) {
    return stallThreshold;
  }
  const cap = Math.max(MIN_STALL_THRESHOLD, Math.floor(detector.acceptableHeartbeatPause / 1.5));
  return Math.min(stallThreshold, cap);
}

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
export type ResolvedHeartbeatConfiguration = Omit<HeartbeatConfiguration, 'detector'> & {
  /**
   * Absent for the fixed timeout (also when `'fixed'` was given), so that a fixed configuration is
   * exactly Flink's settings; otherwise the phi-accrual detector with its defaults filled in.
   */
  readonly detector?: ResolvedPhiAccrualDetector;
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
   * default) keeps its plain name. `resolveHeartbeatConfiguration` names its settings plainly, and
   * those of the detector under it: `detector.threshold`.
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

/** How the messages name the settings Flink has: with Flink's key. The others go by their own name. */
const SETTING_LABELS: Readonly<Record<string, string>> = {
  interval: 'interval (heartbeat.interval)',
  timeout: 'timeout (heartbeat.timeout)',
  rpcFailureThreshold: 'rpcFailureThreshold (heartbeat.rpc-failure-threshold)',
};

const TIMER_DELAY_RULE = `a number of ms > 0 and <= ${MAX_TIMER_DELAY_MS}`;

function describeProblem(problem: HeartbeatConfigurationProblem): string {
  if (problem.atMost) {
    return `${problem.setting} (${describeValue(problem.value)} ms) must not be greater than ${problem.atMost.setting} (${problem.atMost.value} ms)`;
  }
  const label = SETTING_LABELS[problem.setting] ?? problem.setting;
  return `${label} must be ${problem.rule}, got ${describeValue(problem.value)}`;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The detector resolved: `undefined` for the fixed timeout, or the phi-accrual settings with
 * Akka's defaults, frozen. Every broken rule is added to `problems`, named `detector.<setting>`.
 */
function resolveDetector(
  detector: unknown,
  problems: HeartbeatConfigurationProblem[],
): ResolvedPhiAccrualDetector | undefined {
  if (detector === undefined || detector === 'fixed') {
    return undefined;
  }
  if (
    typeof detector !== 'object' ||
    detector === null ||
    (detector as { kind?: unknown }).kind !== 'phi-accrual'
  ) {
    problems.push({
      setting: 'detector',
      rule: `"fixed" or { kind: "phi-accrual", threshold?, minStdDeviation?, acceptableHeartbeatPause?, maxSampleSize? }`,
      value: detector,
    });
    return undefined;
  }
  const given = detector as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(PHI_ACCRUAL_KEYS as readonly string[]).includes(key)) {
      problems.push({
        setting: `detector.${key}`,
        rule: `left out: known settings are ${PHI_ACCRUAL_KEYS.join(', ')}`,
        value: given[key],
      });
    }
  }
  const merged = {
    ...PHI_ACCRUAL_DEFAULTS,
    ...withoutUndefined(given),
  } as Required<PhiAccrualDetectorOptions>;
  const { threshold, minStdDeviation, acceptableHeartbeatPause, maxSampleSize } = merged;
  const count = problems.length;
  if (!(isFiniteNumber(threshold) && threshold > 0)) {
    problems.push({ setting: 'detector.threshold', rule: 'a finite number > 0', value: threshold });
  }
  if (!isTimerDelay(minStdDeviation)) {
    problems.push({
      setting: 'detector.minStdDeviation',
      rule: TIMER_DELAY_RULE,
      value: minStdDeviation,
    });
  }
  if (!(acceptableHeartbeatPause === 0 || isTimerDelay(acceptableHeartbeatPause))) {
    problems.push({
      setting: 'detector.acceptableHeartbeatPause',
      rule: `a number of ms >= 0 and <= ${MAX_TIMER_DELAY_MS}`,
      value: acceptableHeartbeatPause,
    });
  }
  if (!(
    Number.isInteger(maxSampleSize) &&
    maxSampleSize >= 1 &&
    maxSampleSize <= MAX_PHI_SAMPLE_SIZE
  )) {
    problems.push({
      setting: 'detector.maxSampleSize',
      rule: `an integer from 1 to ${MAX_PHI_SAMPLE_SIZE}`,
      value: maxSampleSize,
    });
  }
  if (problems.length > count) {
    return undefined;
  }
  return Object.freeze({
    kind: 'phi-accrual',
    threshold,
    minStdDeviation,
    acceptableHeartbeatPause,
    maxSampleSize,
  });
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
  const { detector: givenDetector, ...given } = {
    ...FLINK_DEFAULTS,
    ...withoutUndefined(overrides),
  };
  const merged = {
    ...given,
    stallThreshold:
      given.stallThreshold ??
      defaultStallThreshold(isTimerDelay(given.timeout) ? given.timeout : FLINK_DEFAULTS.timeout),
  };
  const problems: HeartbeatConfigurationProblem[] = [];
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
  const detector = resolveDetector(givenDetector, problems);
  if (problems.length > 0) {
    throw new HeartbeatConfigurationError(
      `Invalid ${context} configuration: ${problems.map(describeProblem).join('; ')}`,
      problems,
    );
  }
  // The fixed timeout leaves no `detector` key: the configuration stays exactly Flink's settings.
  const result = Object.freeze(
    detector ? { ...merged, detector } : merged,
  ) as ResolvedHeartbeatConfiguration;
  resolvedConfigurations.add(result);
  return result;
}

/** Flink's defaults (interval 10 s, timeout 50 s, threshold 2) and the stall guard's (2 s). */
export const DEFAULT_HEARTBEAT_CONFIGURATION = resolveHeartbeatConfiguration();

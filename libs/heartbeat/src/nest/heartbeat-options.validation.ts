import type { Clock, Scheduler } from '../core/clock.js';
import {
  HEARTBEAT_CONFIGURATION_KEYS,
  HeartbeatConfigurationError,
  renameProblems,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type ResolvedHeartbeatConfiguration,
} from '../core/heartbeat-configuration.js';
import { isTimerDelay, MAX_TIMER_DELAY_MS, withoutUndefined } from '../core/values.js';
import {
  checkHeartbeatMetricsOptions,
  type ResolvedHeartbeatMetricsOptions,
} from '../metrics/heartbeat-metrics-options.js';
import {
  HEARTBEAT_FRAME_LIMITS,
  MAX_NAME_LENGTH,
  type HeartbeatClientLimits,
} from '../transport/heartbeat-wire.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type {
  HeartbeatModuleExtras,
  HeartbeatModuleOptions,
  HeartbeatRole,
} from './interfaces/heartbeat-module-options.interface.js';

/** A manager declaration as given, checked for shape when the module is imported. */
export interface HeartbeatManagerDeclaration {
  readonly name: string;
  readonly role: HeartbeatRole;
  readonly resourceId?: string;
  readonly overrides: Partial<HeartbeatConfiguration>;
}

export interface ResolvedHeartbeatManager {
  readonly name: string;
  readonly role: HeartbeatRole;
  readonly resourceId: string;
  readonly configuration: ResolvedHeartbeatConfiguration;
}

export interface ResolvedHeartbeatOptions {
  readonly managers: readonly ResolvedHeartbeatManager[];
  readonly requestTimeout: number;
  readonly clientLimits: Required<HeartbeatClientLimits>;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  /** `null`: metrics are off (and prom-client is not loaded). */
  readonly metrics: ResolvedHeartbeatMetricsOptions | null;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const CONFIGURATION_KEYS: ReadonlySet<string> = new Set(HEARTBEAT_CONFIGURATION_KEYS);
const DEFAULT_CLIENT_LIMITS: Required<HeartbeatClientLimits> = HEARTBEAT_FRAME_LIMITS;

/** Checks the static `managers` map given to `forRoot` / `forRootAsync`. */
export function declareHeartbeatManagers(
  managers: HeartbeatModuleExtras['managers'] | undefined,
): HeartbeatManagerDeclaration[] {
  const entries = Object.entries(managers ?? {});
  if (entries.length === 0) {
    throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.noManagers(), [
      { setting: 'managers', rule: 'at least one manager', value: managers },
    ]);
  }
  return entries.map(([name, definition]) => {
    if (name.trim().length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidManagerName(name), [
        {
          setting: 'managers',
          rule: `names of 1 to ${MAX_NAME_LENGTH} characters, not all blank`,
          value: name,
        },
      ]);
    }
    const { role, resourceId, ...overrides } =
      typeof definition === 'string' ? { role: definition } : (definition ?? ({} as never));
    if (role !== 'sender' && role !== 'receiver') {
      throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidRole(name, role), [
        { setting: `managers.${name}.role`, rule: '"sender" or "receiver"', value: role },
      ]);
    }
    const unknownKey = Object.keys(overrides).find((key) => !CONFIGURATION_KEYS.has(key));
    if (unknownKey !== undefined) {
      throw new HeartbeatConfigurationError(
        HEARTBEAT_MESSAGES.unknownManagerKey(name, unknownKey),
        [
          {
            setting: `managers.${name}.${unknownKey}`,
            rule: `left out: known settings are role, resourceId, ${HEARTBEAT_CONFIGURATION_KEYS.join(', ')}`,
            value: (overrides as Record<string, unknown>)[unknownKey],
          },
        ],
      );
    }
    return { name, role, resourceId, overrides };
  });
}

/** Validates the runtime options against the declarations; every error names the bad value. */
export function resolveHeartbeatOptions(
  options: HeartbeatModuleOptions,
  declarations: readonly HeartbeatManagerDeclaration[],
): ResolvedHeartbeatOptions {
  if (typeof options !== 'object' || options === null) {
    throw optionError('options', 'an object', options);
  }
  const { resourceId, requestTimeout = DEFAULT_REQUEST_TIMEOUT_MS, clientLimits = {} } = options;
  const defaults = withoutUndefined<Partial<HeartbeatConfiguration>>(
    Object.fromEntries(HEARTBEAT_CONFIGURATION_KEYS.map((key) => [key, options[key]])),
  );
  // Module-wide settings are checked on their own, so that an error blames them and not a manager.
  resolveHeartbeatConfiguration(defaults, 'HeartbeatModule');
  const managers = declarations.map((declaration) => {
    const ownId = declaration.resourceId ?? resourceId;
    requireName(
      declaration.resourceId === undefined
        ? 'resourceId'
        : `managers.${declaration.name}.resourceId`,
      ownId,
    );
    const configuration = resolveManagerConfiguration(declaration, defaults);
    return { name: declaration.name, role: declaration.role, resourceId: ownId, configuration };
  });
  requireRequestTimeout('requestTimeout', requestTimeout);
  if (typeof clientLimits !== 'object' || clientLimits === null) {
    throw optionError('clientLimits', 'an object', clientLimits);
  }
  const limits = { ...DEFAULT_CLIENT_LIMITS, ...withoutUndefined(clientLimits) };
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_CLIENT_LIMITS)) {
      throw optionError(
        `clientLimits.${key}`,
        'one of maxBufferSize, incompleteMessageTimeout, maxSendBufferSize',
        value,
      );
    }
    requirePositiveInteger(`clientLimits.${key}`, value);
  }
  const metrics = resolveMetricsOption(options.metrics);
  // As given: HeartbeatServices lets one ManualClock, given once, serve as clock and scheduler.
  const { clock, scheduler } = options;
  return { managers, requestTimeout, clientLimits: limits, clock, scheduler, metrics };
}

/** `metrics`: off (absent or false), the defaults (true), or options checked against their shape. */
function resolveMetricsOption(
  metrics: HeartbeatModuleOptions['metrics'],
): ResolvedHeartbeatMetricsOptions | null {
  if (metrics === undefined || metrics === false) {
    return null;
  }
  if (metrics !== true && (typeof metrics !== 'object' || metrics === null)) {
    throw optionError('metrics', 'true, false or an object of metrics options', metrics);
  }
  const checked = checkHeartbeatMetricsOptions(metrics === true ? {} : metrics);
  if (!checked.ok) {
    const { setting, rule, value } = checked.problem;
    throw optionError(setting ? `metrics.${setting}` : 'metrics', rule, value);
  }
  return checked.options;
}

/**
 * A manager's configuration: the module-wide settings with its own overrides. A problem with one
 * of its own settings names it as the options do, `managers.<name>.<setting>`; one with a
 * module-wide setting (or its default) keeps the plain name.
 */
function resolveManagerConfiguration(
  { name, overrides }: HeartbeatManagerDeclaration,
  defaults: Partial<HeartbeatConfiguration>,
): ResolvedHeartbeatConfiguration {
  const own = withoutUndefined(overrides);
  try {
    return resolveHeartbeatConfiguration({ ...defaults, ...own }, `heartbeat manager "${name}"`);
  } catch (error) {
    if (!(error instanceof HeartbeatConfigurationError)) {
      throw error;
    }
    // `detector.threshold` is the manager's own when its `detector` is.
    const nameOf = (setting: string) =>
      Object.hasOwn(own, setting.split('.', 1)[0]) ? `managers.${name}.${setting}` : setting;
    throw new HeartbeatConfigurationError(error.message, renameProblems(error.problems, nameOf));
  }
}

/** A name that travels in heartbeats (a resource id or a manager name): 1 to 256 characters. */
export function requireName(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > MAX_NAME_LENGTH) {
    throw optionError(name, `a non-empty string of at most ${MAX_NAME_LENGTH} characters`, value);
  }
}

/** How long one heartbeat RPC may take: a timer delay, so not above Node's timer limit. */
export function requireRequestTimeout(name: string, value: unknown): asserts value is number {
  if (!isTimerDelay(value)) {
    const rule =
      typeof value === 'number' && value > MAX_TIMER_DELAY_MS
        ? `at most ${MAX_TIMER_DELAY_MS} ms`
        : 'a number > 0';
    throw optionError(name, rule, value);
  }
}

function requirePositiveInteger(name: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw optionError(name, 'an integer > 0', value);
  }
}

/** An option that breaks its rule, named as the options name it (`clientLimits.maxBufferSize`). */
function optionError(setting: string, rule: string, value: unknown): HeartbeatConfigurationError {
  return new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidOption(setting, rule, value), [
    { setting, rule, value },
  ]);
}

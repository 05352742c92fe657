import {
  HEARTBEAT_FRAME_LIMITS,
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatClientLimits,
  type HeartbeatConfiguration,
  type HeartbeatDetector,
} from 'nestjs-heartbeat';

/** Reads and checks environment variables; every error names the variable and the bad value. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function fail(name: string, rule: string, value: string): never {
  throw new EnvironmentError(`${name} must be ${rule}, got "${value}"`);
}

export function readInteger(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = raw(env, name);
  if (value === undefined) {
    return fallback;
  }
  const parsed = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    fail(name, `an integer from ${min} to ${max}`, value);
  }
  return parsed;
}

export function readPort(env: Env, name: string, fallback: number): number {
  return readInteger(env, name, fallback, 0, 65_535);
}

const HOST_PATTERN = /^[A-Za-z0-9.:-]{1,253}$/;

export function readHost(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  return HOST_PATTERN.test(value) ? value : fail(name, 'a host name or IP address', value);
}

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function readId(env: Env, name: string, fallback: () => string): string {
  const value = raw(env, name) ?? fallback();
  return ID_PATTERN.test(value)
    ? value
    : fail(name, `1 to 128 characters of A-Z a-z 0-9 . _ : -`, value);
}

/** The heartbeat settings both apps share: the library's configuration, resolved. */
export type HeartbeatSettings = HeartbeatConfiguration;

/** The variable of each heartbeat setting. */
export const HEARTBEAT_VARIABLES = Object.freeze({
  interval: 'HEARTBEAT_INTERVAL_MS',
  timeout: 'HEARTBEAT_TIMEOUT_MS',
  rpcFailureThreshold: 'HEARTBEAT_RPC_FAILURE_THRESHOLD',
  stallThreshold: 'HEARTBEAT_STALL_THRESHOLD_MS',
  detector: 'HEARTBEAT_DETECTOR',
} as const satisfies Record<keyof HeartbeatConfiguration, string>);

/** The values of HEARTBEAT_DETECTOR: the fixed timeout, or phi-accrual with Akka's defaults. */
const DETECTORS: Readonly<Record<string, HeartbeatDetector>> = {
  fixed: 'fixed',
  'phi-accrual': { kind: 'phi-accrual' },
};

type HeartbeatSetting = keyof typeof HEARTBEAT_VARIABLES;

const isHeartbeatSetting = (setting: string): setting is HeartbeatSetting =>
  Object.hasOwn(HEARTBEAT_VARIABLES, setting);

/**
 * HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS, HEARTBEAT_RPC_FAILURE_THRESHOLD and
 * HEARTBEAT_STALL_THRESHOLD_MS, integers, and HEARTBEAT_DETECTOR (`fixed` or `phi-accrual`),
 * resolved and checked by the library itself (Flink's defaults for what is not set): the library's
 * errors are reported under the variables' names.
 */
export function readHeartbeatSettings(env: Env): HeartbeatSettings {
  const given = new Map<HeartbeatSetting, string>();
  const overrides: { -readonly [K in HeartbeatSetting]?: HeartbeatConfiguration[K] } = {};
  for (const [setting, variable] of Object.entries(HEARTBEAT_VARIABLES) as [
    HeartbeatSetting,
    string,
  ][]) {
    const value = raw(env, variable);
    if (value === undefined) {
      continue;
    }
    given.set(setting, value);
    if (setting === 'detector') {
      overrides.detector = Object.hasOwn(DETECTORS, value)
        ? DETECTORS[value]
        : fail(variable, Object.keys(DETECTORS).join(' or '), value);
    } else {
      overrides[setting] = /^-?\d+$/.test(value)
        ? Number(value)
        : fail(variable, 'an integer', value);
    }
  }
  try {
    return resolveHeartbeatConfiguration(overrides);
  } catch (error) {
    if (!(error instanceof HeartbeatConfigurationError)) {
      throw error;
    }
    const nameOf = (setting: string) =>
      isHeartbeatSetting(setting) ? HEARTBEAT_VARIABLES[setting] : setting;
    throw new EnvironmentError(
      error.problems
        .map(({ setting, rule, value, atMost }) => {
          const text = isHeartbeatSetting(setting) ? given.get(setting) : undefined;
          const must = atMost ? `at most ${nameOf(atMost.setting)} (${atMost.value})` : rule;
          const got = text === undefined ? `${String(value)} (its default)` : `"${text}"`;
          // A default at fault is not the only way out: the bound can move instead.
          const wayOut =
            text === undefined && atMost
              ? `; set ${nameOf(setting)} or raise ${nameOf(atMost.setting)}`
              : '';
          return `${nameOf(setting)} must be ${must}, got ${got}${wayOut}`;
        })
        .join('; '),
    );
  }
}

/** Frame limits of the apps' TCP endpoints and clients (Nest's `maxBufferSize` and `incompleteMessageTimeout`). */
export type FrameLimits = Required<HeartbeatClientLimits>;

/** TCP_MAX_BUFFER_SIZE and TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS, defaulting to the library's heartbeat-sized limits. */
export function readFrameLimits(env: Env): FrameLimits {
  const maxBufferSize = readInteger(
    env,
    'TCP_MAX_BUFFER_SIZE',
    HEARTBEAT_FRAME_LIMITS.maxBufferSize,
    1_024,
    134_217_728,
  );
  return {
    maxBufferSize,
    incompleteMessageTimeout: readInteger(
      env,
      'TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS',
      HEARTBEAT_FRAME_LIMITS.incompleteMessageTimeout,
      100,
      600_000,
    ),
    // Replies queued towards a peer that does not read: a few frames' worth.
    maxSendBufferSize: Math.max(HEARTBEAT_FRAME_LIMITS.maxSendBufferSize, 4 * maxBufferSize),
  };
}

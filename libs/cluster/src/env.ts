import { HEARTBEAT_FRAME_LIMITS, type HeartbeatClientLimits } from 'nestjs-heartbeat';

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

/** The heartbeat settings both apps share, with Flink's defaults. */
export interface HeartbeatSettings {
  readonly interval: number;
  readonly timeout: number;
  readonly rpcFailureThreshold: number;
  /** The library's stall guard; its default (timeout / 4, within 100 to 2,000 ms) when absent. */
  readonly stallThreshold?: number;
}

export function readHeartbeatSettings(env: Env): HeartbeatSettings {
  const interval = readInteger(env, 'HEARTBEAT_INTERVAL_MS', 10_000, 1, 2_147_483_647);
  const timeout = readInteger(env, 'HEARTBEAT_TIMEOUT_MS', 50_000, 1, 2_147_483_647);
  const rpcFailureThreshold = readInteger(env, 'HEARTBEAT_RPC_FAILURE_THRESHOLD', 2, -1, 1_000_000);
  if (interval > timeout) {
    fail('HEARTBEAT_INTERVAL_MS', `at most HEARTBEAT_TIMEOUT_MS (${timeout})`, String(interval));
  }
  if (rpcFailureThreshold === 0) {
    fail('HEARTBEAT_RPC_FAILURE_THRESHOLD', 'an integer > 0, or -1 to disable', '0');
  }
  const stallThreshold = readInteger(env, 'HEARTBEAT_STALL_THRESHOLD_MS', 0, -1, 2_147_483_647);
  const stallGiven = raw(env, 'HEARTBEAT_STALL_THRESHOLD_MS');
  if (stallGiven !== undefined && stallThreshold !== -1 && stallThreshold < 50) {
    fail(
      'HEARTBEAT_STALL_THRESHOLD_MS',
      'an integer from 50 to 2147483647, or -1 to disable',
      stallGiven,
    );
  }
  return {
    interval,
    timeout,
    rpcFailureThreshold,
    ...(stallThreshold === 0 ? {} : { stallThreshold }),
  };
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

import {
  EnvironmentError,
  readFrameLimits,
  readHaSettings,
  readHeartbeatSettings,
  readHost,
  readMutualTls,
  readPort,
  type FrameLimits,
  type HaSettings,
  type HeartbeatSettings,
  type MutualTls,
} from '#cluster';

export const RESOURCE_MANAGER_CONFIG = Symbol('RESOURCE_MANAGER_CONFIG');

/** The longest delay Node's timers take (a longer one fires at once). */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

export interface ResourceManagerConfig {
  readonly host: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly heartbeat: HeartbeatSettings;
  /**
   * The timeout of its `jobMasters` manager (JM_HEARTBEAT_TIMEOUT_MS, default HEARTBEAT_TIMEOUT_MS):
   * a JobMaster's loss releases its jobs' slots, which may call for more patience than a
   * TaskManager's. The interval is the shared HEARTBEAT_INTERVAL_MS.
   */
  readonly jobMasterHeartbeatTimeout: number;
  readonly frameLimits: FrameLimits;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
  /** High availability (HA_MODE and the HA_* variables): `none`, or leader election on etcd. */
  readonly ha: HaSettings;
}

/**
 * Reads RM_HOST, RM_TCP_PORT, RM_HTTP_PORT, the HEARTBEAT_*, JM_HEARTBEAT_TIMEOUT_MS, TCP_*, TLS_* and
 * HA_* variables; throws naming a bad one.
 */
export function readResourceManagerConfig(
  env: NodeJS.ProcessEnv = process.env,
): ResourceManagerConfig {
  const heartbeat = readHeartbeatSettings(env);
  const config = {
    host: readHost(env, 'RM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'RM_TCP_PORT', 6123),
    httpPort: readPort(env, 'RM_HTTP_PORT', 8081),
    heartbeat,
    jobMasterHeartbeatTimeout: readJobMasterHeartbeatTimeout(env, heartbeat),
    frameLimits: readFrameLimits(env),
    tls: readMutualTls(env),
    ha: readHaSettings(env),
  };
  // A leader publishes its addresses in etcd for the others to find: they must be fixed ones.
  for (const [variable, port] of [
    ['RM_TCP_PORT', config.tcpPort],
    ['RM_HTTP_PORT', config.httpPort],
  ] as const) {
    if (config.ha.mode === 'etcd' && port === 0) {
      throw new EnvironmentError(`${variable} must be a fixed port (not 0) with HA_MODE=etcd`);
    }
  }
  return config;
}

/**
 * JM_HEARTBEAT_TIMEOUT_MS: a timer delay, and at least the interval (the library's rule for any
 * manager: a timeout shorter than the interval would declare every JobMaster lost between two
 * requests). Unset or blank: the HEARTBEAT_TIMEOUT_MS value.
 */
function readJobMasterHeartbeatTimeout(
  env: NodeJS.ProcessEnv,
  heartbeat: HeartbeatSettings,
): number {
  const variable = 'JM_HEARTBEAT_TIMEOUT_MS';
  const value = env[variable]?.trim();
  if (value === undefined || value === '') {
    return heartbeat.timeout;
  }
  if (!/^-?\d+$/.test(value)) {
    throw new EnvironmentError(`${variable} must be an integer, got "${value}"`);
  }
  const timeout = Number(value);
  if (!(timeout > 0 && timeout <= MAX_TIMER_DELAY_MS)) {
    throw new EnvironmentError(
      `${variable} must be a number of ms > 0 and <= ${MAX_TIMER_DELAY_MS}, got "${value}"`,
    );
  }
  if (timeout < heartbeat.interval) {
    throw new EnvironmentError(
      `${variable} must be at least HEARTBEAT_INTERVAL_MS (${heartbeat.interval}), got "${value}"`,
    );
  }
  return timeout;
}

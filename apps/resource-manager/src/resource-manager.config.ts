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

export interface ResourceManagerConfig {
  readonly host: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly heartbeat: HeartbeatSettings;
  readonly frameLimits: FrameLimits;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
  /** High availability (HA_MODE and the HA_* variables): `none`, or leader election on etcd. */
  readonly ha: HaSettings;
}

/**
 * Reads RM_HOST, RM_TCP_PORT, RM_HTTP_PORT, the HEARTBEAT_*, TCP_*, TLS_* and HA_* variables; throws
 * naming a bad one.
 */
export function readResourceManagerConfig(
  env: NodeJS.ProcessEnv = process.env,
): ResourceManagerConfig {
  const config = {
    host: readHost(env, 'RM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'RM_TCP_PORT', 6123),
    httpPort: readPort(env, 'RM_HTTP_PORT', 8081),
    heartbeat: readHeartbeatSettings(env),
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

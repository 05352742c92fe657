import {
  readFrameLimits,
  readHeartbeatSettings,
  readHost,
  readMutualTls,
  readPort,
  type FrameLimits,
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
}

/** Reads RM_HOST, RM_TCP_PORT, RM_HTTP_PORT, the HEARTBEAT_*, TCP_* and TLS_* variables; throws naming a bad one. */
export function readResourceManagerConfig(
  env: NodeJS.ProcessEnv = process.env,
): ResourceManagerConfig {
  return {
    host: readHost(env, 'RM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'RM_TCP_PORT', 6123),
    httpPort: readPort(env, 'RM_HTTP_PORT', 8081),
    heartbeat: readHeartbeatSettings(env),
    frameLimits: readFrameLimits(env),
    tls: readMutualTls(env),
  };
}

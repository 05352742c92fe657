import {
  readFrameLimits,
  readHeartbeatSettings,
  readHost,
  readPort,
  type FrameLimits,
  type HeartbeatSettings,
} from '#cluster';

export const RESOURCE_MANAGER_CONFIG = Symbol('RESOURCE_MANAGER_CONFIG');

export interface ResourceManagerConfig {
  readonly host: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly heartbeat: HeartbeatSettings;
  readonly frameLimits: FrameLimits;
}

/** Reads RM_HOST, RM_TCP_PORT, RM_HTTP_PORT, the HEARTBEAT_* and TCP_* variables; throws naming a bad one. */
export function readResourceManagerConfig(
  env: NodeJS.ProcessEnv = process.env,
): ResourceManagerConfig {
  return {
    host: readHost(env, 'RM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'RM_TCP_PORT', 6123),
    httpPort: readPort(env, 'RM_HTTP_PORT', 8081),
    heartbeat: readHeartbeatSettings(env),
    frameLimits: readFrameLimits(env),
  };
}

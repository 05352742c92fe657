import { randomUUID } from 'node:crypto';
import {
  readFrameLimits,
  readHaSettings,
  readHeartbeatSettings,
  readHost,
  readId,
  readMutualTls,
  readPort,
  type FrameLimits,
  type HaSettings,
  type HeartbeatSettings,
  type MutualTls,
  type ResourceManagerLookup,
} from '#cluster';

export const JOB_MASTER_CONFIG = Symbol('JOB_MASTER_CONFIG');

export interface JobMasterConfig extends ResourceManagerLookup {
  readonly id: string;
  readonly host: string;
  /** 0: any free port. The ResourceManager heartbeats it there. */
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly heartbeat: HeartbeatSettings;
  readonly frameLimits: FrameLimits;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
  readonly ha: HaSettings;
}

/**
 * Reads JM_ID, JM_HOST, JM_TCP_PORT, JM_HTTP_PORT, RM_HOST and RM_TCP_PORT (not needed with
 * HA_MODE=etcd), the HEARTBEAT_*, TCP_*, TLS_* and HA_* variables; throws naming a bad one.
 */
export function readJobMasterConfig(env: NodeJS.ProcessEnv = process.env): JobMasterConfig {
  return {
    id: readId(env, 'JM_ID', () => `jobmaster-${randomUUID().slice(0, 8)}`),
    host: readHost(env, 'JM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'JM_TCP_PORT', 0),
    httpPort: readPort(env, 'JM_HTTP_PORT', 8082),
    resourceManager: {
      host: readHost(env, 'RM_HOST', '127.0.0.1'),
      port: readPort(env, 'RM_TCP_PORT', 6123),
    },
    heartbeat: readHeartbeatSettings(env),
    frameLimits: readFrameLimits(env),
    tls: readMutualTls(env),
    ha: readHaSettings(env),
  };
}

import { randomUUID } from 'node:crypto';
import {
  readHeartbeatSettings,
  readHost,
  readId,
  readInteger,
  readMutualTls,
  readPort,
  MAX_SLOTS,
  type HeartbeatSettings,
  type MutualTls,
} from '#cluster';

export const TASK_MANAGER_CONFIG = Symbol('TASK_MANAGER_CONFIG');

export interface TaskManagerConfig {
  readonly id: string;
  readonly host: string;
  /** 0: any free port; the bound one is advertised. */
  readonly tcpPort: number;
  readonly slots: number;
  readonly resourceManager: { readonly host: string; readonly port: number };
  readonly heartbeat: HeartbeatSettings;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
}

/** Reads TM_ID, TM_HOST, TM_TCP_PORT, TM_SLOTS, RM_HOST, RM_TCP_PORT and the HEARTBEAT_* and TLS_* variables. */
export function readTaskManagerConfig(env: NodeJS.ProcessEnv = process.env): TaskManagerConfig {
  return {
    id: readId(env, 'TM_ID', () => `taskmanager-${randomUUID().slice(0, 8)}`),
    host: readHost(env, 'TM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'TM_TCP_PORT', 0),
    slots: readInteger(env, 'TM_SLOTS', 2, 1, MAX_SLOTS),
    resourceManager: {
      host: readHost(env, 'RM_HOST', '127.0.0.1'),
      port: readPort(env, 'RM_TCP_PORT', 6123),
    },
    heartbeat: readHeartbeatSettings(env),
    tls: readMutualTls(env),
  };
}

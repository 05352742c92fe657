import { randomUUID } from 'node:crypto';
import {
  EnvironmentError,
  largestTaskManagerFrame,
  readFrameLimits,
  readHaSettings,
  readHeartbeatSettings,
  readHost,
  readId,
  readInteger,
  readMutualTls,
  readPort,
  MAX_SLOTS,
  type FrameLimits,
  type HaSettings,
  type HeartbeatSettings,
  type MutualTls,
} from '#cluster';

export const TASK_MANAGER_CONFIG = Symbol('TASK_MANAGER_CONFIG');

export interface TaskManagerConfig {
  readonly id: string;
  readonly host: string;
  /** 0: any free port. */
  readonly tcpPort: number;
  readonly slots: number;
  /** What it tells the ResourceManager to connect to (e.g. a proxy or NAT in front of it). */
  readonly advertised: {
    /** Defaults to `host`. */
    readonly host: string;
    /** 0: the bound port. */
    readonly port: number;
  };
  /** The ResourceManager's fixed address; with HA it is learnt from etcd instead. */
  readonly resourceManager: { readonly host: string; readonly port: number };
  /** High availability (HA_MODE and the HA_* variables): `none`, or the leader found on etcd. */
  readonly ha: HaSettings;
  readonly heartbeat: HeartbeatSettings;
  readonly frameLimits: FrameLimits;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
}

/**
 * Reads TM_ID, TM_HOST, TM_TCP_PORT, TM_SLOTS, TM_ADVERTISED_HOST, TM_ADVERTISED_PORT, RM_HOST,
 * RM_TCP_PORT (not needed with HA_MODE=etcd), the HEARTBEAT_*, TCP_*, TLS_* and HA_* variables.
 */
export function readTaskManagerConfig(env: NodeJS.ProcessEnv = process.env): TaskManagerConfig {
  const host = readHost(env, 'TM_HOST', '127.0.0.1');
  const config = {
    id: readId(env, 'TM_ID', () => `taskmanager-${randomUUID().slice(0, 8)}`),
    host,
    tcpPort: readPort(env, 'TM_TCP_PORT', 0),
    slots: readInteger(env, 'TM_SLOTS', 2, 1, MAX_SLOTS),
    advertised: {
      host: readHost(env, 'TM_ADVERTISED_HOST', host),
      port: readPort(env, 'TM_ADVERTISED_PORT', 0),
    },
    resourceManager: {
      host: readHost(env, 'RM_HOST', '127.0.0.1'),
      port: readPort(env, 'RM_TCP_PORT', 6123),
    },
    heartbeat: readHeartbeatSettings(env),
    frameLimits: readFrameLimits(env),
    tls: readMutualTls(env),
    ha: readHaSettings(env),
  };
  // Its heartbeats and registrations must fit the frame limit, or they would be cut off and it declared lost.
  const needed = largestTaskManagerFrame(config.slots);
  if (needed > config.frameLimits.maxBufferSize) {
    throw new EnvironmentError(
      `TCP_MAX_BUFFER_SIZE must be at least ${needed} for TM_SLOTS=${config.slots} (its largest heartbeat or registration), got "${config.frameLimits.maxBufferSize}"`,
    );
  }
  return config;
}

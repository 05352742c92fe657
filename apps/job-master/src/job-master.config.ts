import { randomUUID } from 'node:crypto';
import { heartbeatFrameLength } from 'nestjs-heartbeat';
import {
  EnvironmentError,
  JobMasterToResourceManagerPatterns,
  MAX_JOBS_PER_JOB_MASTER,
  MAX_SLOTS,
  MAX_TEXT_LENGTH,
  readFrameLimits,
  readHaSettings,
  readHeartbeatSettings,
  readHost,
  readId,
  readMutualTls,
  readPort,
  RESOURCE_MANAGER_HEARTBEATS,
  type FrameLimits,
  type HaSettings,
  type HeartbeatSettings,
  type JobMasterHeartbeat,
  type JobMasterRegistrationRequest,
  type SlotRequestAnswer,
  type MutualTls,
  type ResourceManagerLookup,
} from '#cluster';

export const JOB_MASTER_CONFIG = Symbol('JOB_MASTER_CONFIG');

export interface JobMasterConfig extends ResourceManagerLookup {
  readonly id: string;
  /** Where it listens, and what it tells the ResourceManager to heartbeat it at. */
  readonly host: string;
  /** 0: any free port. The ResourceManager heartbeats it there. */
  readonly tcpPort: number;
  /** Its HTTP API (jobs); 0: any free port. */
  readonly httpPort: number;
  /** The ResourceManager's fixed address; with HA it is learnt from etcd instead. */
  readonly resourceManager: { readonly host: string; readonly port: number };
  /** High availability (HA_MODE and the HA_* variables): `none`, or the leader found on etcd. */
  readonly ha: HaSettings;
  readonly heartbeat: HeartbeatSettings;
  readonly frameLimits: FrameLimits;
  /**
   * The limits its clients read answers with (the ResourceManager's slot grants, the TaskManagers'
   * heartbeat answers): `frameLimits`, raised to the largest answer a job of `MAX_SLOTS` slots can
   * bring, so that no grant is cut off (and granted again and again) on a big cluster.
   */
  readonly answerLimits: FrameLimits;
  /** Mutual TLS for its TCP endpoint and clients (TLS_CA, TLS_CERT, TLS_KEY); null: plain TCP. */
  readonly tls: MutualTls | null;
}

/**
 * Reads JM_ID, JM_HOST, JM_TCP_PORT, JM_HTTP_PORT, RM_HOST and RM_TCP_PORT (not needed with
 * HA_MODE=etcd), the HEARTBEAT_*, TCP_*, TLS_* and HA_* variables; throws an `EnvironmentError`
 * naming a bad one.
 */
export function readJobMasterConfig(env: NodeJS.ProcessEnv = process.env): JobMasterConfig {
  const frameLimits = readFrameLimits(env);
  const config: JobMasterConfig = {
    id: readId(env, 'JM_ID', () => `jobmaster-${randomUUID().slice(0, 8)}`),
    host: readHost(env, 'JM_HOST', '127.0.0.1'),
    tcpPort: readPort(env, 'JM_TCP_PORT', 0),
    httpPort: readPort(env, 'JM_HTTP_PORT', 8082),
    resourceManager: {
      host: readHost(env, 'RM_HOST', '127.0.0.1'),
      port: readPort(env, 'RM_TCP_PORT', 6123),
    },
    heartbeat: readHeartbeatSettings(env),
    frameLimits,
    answerLimits: {
      ...frameLimits,
      maxBufferSize: Math.max(frameLimits.maxBufferSize, largestAnswerToJobMaster()),
    },
    tls: readMutualTls(env),
    ha: readHaSettings(env),
  };
  // Its registration and heartbeats (its jobs, at most MAX_JOBS_PER_JOB_MASTER) must fit the frame
  // limit, or they would be cut off and it declared lost.
  const needed = largestJobMasterFrame();
  if (needed > config.frameLimits.maxBufferSize) {
    throw new EnvironmentError(
      `TCP_MAX_BUFFER_SIZE must be at least ${needed} for a JobMaster (its largest heartbeat or registration), got "${config.frameLimits.maxBufferSize}"`,
    );
  }
  return config;
}

const longest = (length: number) => 'x'.repeat(length);

/**
 * Length in characters of the largest answer a JobMaster reads: a grant of `MAX_SLOTS` slots with
 * every string at its longest, in Nest's reply frame (a TaskManager's heartbeat answer, which
 * lists fewer fields per slot, is smaller).
 */
export function largestAnswerToJobMaster(): number {
  const answer: SlotRequestAnswer = {
    granted: true,
    slots: Array.from({ length: MAX_SLOTS }, () => ({
      taskManagerId: longest(MAX_TEXT_LENGTH),
      host: longest(253),
      port: 65_535,
      slotIndex: MAX_SLOTS - 1,
      allocationId: longest(MAX_TEXT_LENGTH),
    })),
  };
  const frame = JSON.stringify({ id: randomUUID(), response: answer, isDisposed: true });
  return `${frame.length}#${frame}`.length;
}

/**
 * Length in characters of the largest frame a JobMaster sends the ResourceManager: its
 * registration or its heartbeat, with the most jobs, every string at its longest.
 */
export function largestJobMasterFrame(): number {
  const jobs = Array.from({ length: MAX_JOBS_PER_JOB_MASTER }, () => longest(MAX_TEXT_LENGTH));
  const heartbeat: JobMasterHeartbeat = {
    fencingToken: '9'.repeat(20),
    credential: longest(MAX_TEXT_LENGTH),
    jobs,
  };
  const registration: JobMasterRegistrationRequest = {
    jobMasterId: longest(MAX_TEXT_LENGTH),
    host: longest(253),
    port: 65_535,
    credential: longest(MAX_TEXT_LENGTH),
    jobs,
  };
  const registrationFrame = JSON.stringify({
    pattern: JobMasterToResourceManagerPatterns.register,
    data: registration,
    id: randomUUID(),
  });
  return Math.max(
    heartbeatFrameLength({
      manager: RESOURCE_MANAGER_HEARTBEATS,
      origin: longest(MAX_TEXT_LENGTH),
      payload: heartbeat,
    }),
    `${registrationFrame.length}#${registrationFrame}`.length,
  );
}

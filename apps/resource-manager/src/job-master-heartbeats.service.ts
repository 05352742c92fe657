import { Injectable } from '@nestjs/common';
import {
  JOB_MASTER_HEARTBEATS,
  jobMasterHeartbeatSchema,
  parseMessage,
  ProtocolError,
  type JobMasterHeartbeat,
  type ResourceManagerHeartbeat,
} from '#cluster';
import {
  acceptHeartbeat,
  OnHeartbeatPayload,
  OnIncomingHeartbeat,
  OnTargetLost,
  ProvideHeartbeatPayload,
  type AcceptedHeartbeat,
  type IncomingHeartbeat,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import { JobMasterRegistrations } from './job-master-registrations.service.js';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';

/**
 * The ResourceManager's handlers of the `jobMasters` heartbeat manager: what its requests carry,
 * which heartbeats count, where the JobMasters' lists of jobs go, and what a lost JobMaster means.
 */
@Injectable()
export class JobMasterHeartbeats {
  constructor(
    private readonly registrations: JobMasterRegistrations,
    private readonly leadership: ResourceManagerLeadership,
  ) {}

  /** Every heartbeat request to a JobMaster says which leadership asks, and proves it. */
  @ProvideHeartbeatPayload(JOB_MASTER_HEARTBEATS)
  heartbeatPayload(jobMasterId: string): ResourceManagerHeartbeat | null {
    // A leader whose lease lapsed steps down right here and lets every JobMaster go.
    if (!this.leadership.isLeader()) {
      return null;
    }
    const registration = this.registrations.get(jobMasterId);
    return registration ? this.registrations.proofFor(registration) : null;
  }

  /**
   * Vets every heartbeat before the manager sees it: it must come from a registered JobMaster,
   * carry this ResourceManager's fencing token and that registration's credential, so that no one
   * else keeps a dead JobMaster (and its jobs' slots) alive. Parsed here, once.
   */
  @OnIncomingHeartbeat<unknown, JobMasterHeartbeat>(JOB_MASTER_HEARTBEATS)
  vetHeartbeat({ origin, payload }: IncomingHeartbeat): AcceptedHeartbeat<JobMasterHeartbeat> {
    const heartbeat = parseMessage(jobMasterHeartbeatSchema, payload, 'heartbeat payload');
    const refusal = this.registrations.refusal(
      origin,
      heartbeat.fencingToken,
      heartbeat.credential,
    );
    if (refusal) {
      throw new ProtocolError(refusal);
    }
    return acceptHeartbeat(heartbeat);
  }

  /** The payload as `vetHeartbeat` parsed it: the JobMaster says which jobs it runs. */
  @OnHeartbeatPayload<JobMasterHeartbeat>(JOB_MASTER_HEARTBEATS)
  onJobs(jobMasterId: string, payload: JobMasterHeartbeat): void {
    this.registrations.updateJobs(jobMasterId, payload.jobs);
  }

  /** A lost JobMaster goes at once, and its jobs' slots are released on every TaskManager. */
  @OnTargetLost(JOB_MASTER_HEARTBEATS)
  onJobMasterLost(jobMasterId: string, reason: TargetLossReason): void {
    this.registrations.release(jobMasterId, reason);
  }
}

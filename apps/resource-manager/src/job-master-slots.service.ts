import { Injectable, Logger } from '@nestjs/common';
import type {
  JobSlotReleaseAnswer,
  JobSlotReleaseRequest,
  SlotRequest,
  SlotRequestAnswer,
} from '#cluster';
import {
  countOf,
  JobMasterRegistrations,
  type JobMasterRegistration,
} from './job-master-registrations.service.js';
import { SlotPool, SlotRequestError } from './slot-pool.service.js';

/** A JobMaster's slot request or release the ResourceManager turns down; the message is its error reply. */
export class JobMasterRequestRefused extends Error {
  override readonly name = 'JobMasterRequestRefused';
}

/**
 * The slot requests and releases of the registered JobMasters: each proven by its registration's
 * fencing token and credential, for a job no other live JobMaster runs. A granted job becomes the
 * JobMaster's, so that its loss releases the job's slots.
 */
@Injectable()
export class JobMasterSlots {
  private readonly logger = new Logger('ResourceManager');

  constructor(
    private readonly registrations: JobMasterRegistrations,
    private readonly slotPool: SlotPool,
  ) {}

  /**
   * `count` more slots for a job of the JobMaster, all or nothing: `{ granted: true, slots }` with
   * where each TaskManager listens, or `{ granted: false, reason }` when the cluster cannot give
   * them (not enough free slots, a TaskManager refused). Throws (an error reply) when the request
   * is not the JobMaster's own, the job is another's, or this ResourceManager does not lead.
   */
  async requestSlots(request: SlotRequest): Promise<SlotRequestAnswer> {
    const { jobMasterId, jobId, count, heartbeatSecret } = request;
    const what = `${countOf(count, 'slot')} for job ${jobId}`;
    const registration = this.requireJobMaster(request, what);
    const owner = this.registrations.ownerOf(jobId);
    if (owner && owner !== registration) {
      throw this.refuse(jobMasterId, what, runBy(jobId, owner));
    }
    // Claimed before the allocation runs, so that no other JobMaster's request takes it meanwhile,
    // and so that the JobMaster's loss during the allocation releases what it got.
    const claimedNow = !registration.jobs.has(jobId);
    if (claimedNow) {
      registration.jobs.set(jobId, 'granted');
    }
    try {
      const slots = await this.slotPool.allocateFor({ jobMasterId, heartbeatSecret }, jobId, count);
      this.registrations.claim(jobMasterId, jobId);
      const where = [...new Set(slots.map(({ taskManagerId }) => taskManagerId))].join(', ');
      this.logger.log(
        `Granted ${countOf(slots.length, 'slot')} to job ${jobId} of JobMaster ${jobMasterId} (on ${where})`,
      );
      return { granted: true, slots };
    } catch (error) {
      // A job that got nothing is not kept (the JobMaster answers 409 and forgets it), unless the
      // JobMaster has listed it meanwhile.
      if (claimedNow && registration.jobs.get(jobId) === 'granted') {
        registration.jobs.delete(jobId);
      }
      if (error instanceof SlotRequestError) {
        // The JobMaster retries after this, for replacements: not worth a line each time.
        this.logger.debug(
          `Not granted ${countOf(count, 'slot')} to job ${jobId} of JobMaster ${jobMasterId}: ${error.message}`,
        );
        return { granted: false, reason: error.message };
      }
      throw error;
    }
  }

  /**
   * Frees the slots of a job of the JobMaster everywhere, or only the given allocations of it. The
   * job stays the JobMaster's unless all of it was released.
   */
  async releaseSlots(request: JobSlotReleaseRequest): Promise<JobSlotReleaseAnswer> {
    const { jobMasterId, jobId, allocationIds } = request;
    const what = allocationIds
      ? `the release of ${countOf(allocationIds.length, 'allocation')} of job ${jobId}`
      : `the release of job ${jobId}`;
    const registration = this.requireJobMaster(request, what);
    const owner = this.registrations.ownerOf(jobId);
    if (owner !== registration) {
      throw this.refuse(
        jobMasterId,
        what,
        owner ? runBy(jobId, owner) : `job ${jobId} is not a job of ${jobMasterId}`,
      );
    }
    const released = await this.slotPool.release(jobId, allocationIds);
    if (!allocationIds && this.registrations.isCurrent(registration)) {
      registration.jobs.delete(jobId);
    }
    this.logger.log(
      `Released ${countOf(released, 'slot')} of job ${jobId} of JobMaster ${jobMasterId}` +
        (allocationIds ? '' : ' (the job is done with)'),
    );
    return { released };
  }

  /** The registration whose fencing token and credential the request carries; throws if none. */
  private requireJobMaster(
    request: SlotRequest | JobSlotReleaseRequest,
    what: string,
  ): JobMasterRegistration {
    const { jobMasterId, fencingToken, credential } = request;
    const refusal = this.registrations.refusal(jobMasterId, fencingToken, credential);
    if (refusal) {
      throw this.refuse(jobMasterId, what, refusal);
    }
    return this.registrations.get(jobMasterId)!;
  }

  private refuse(jobMasterId: string, what: string, reason: string): JobMasterRequestRefused {
    this.logger.warn(`Refused ${what} asked by JobMaster ${jobMasterId}: ${reason}`);
    return new JobMasterRequestRefused(reason);
  }
}

function runBy(jobId: string, owner: JobMasterRegistration): string {
  return `job ${jobId} is run by JobMaster ${owner.id}`;
}

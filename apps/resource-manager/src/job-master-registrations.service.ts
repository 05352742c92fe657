import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { pairwise, startWith, type Subscription } from 'rxjs';
import {
  clientTlsOptions,
  describeError,
  JOB_MASTER_HEARTBEATS,
  RESOURCE_MANAGER_HEARTBEATS,
  type JobMasterHeartbeat,
  type JobMasterRegistrationRequest,
  type JobMasterUnregistrationRequest,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
} from '#cluster';
import {
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  type HeartbeatManager,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import {
  describeSilence,
  RegistrationFence,
  RegistrationRefused,
  type RegistrationCredentials,
} from './registration-fence.js';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from './resource-manager-identity.js';
import { SlotPool } from './slot-pool.service.js';

/**
 * How the ResourceManager knows that a job is a JobMaster's: `listed` by the JobMaster (in its
 * registration or a heartbeat), or only `granted` (slots were granted for it, and the JobMaster
 * has not listed it yet: a heartbeat sent before it learnt of the grant does not drop it).
 */
export type JobClaim = 'listed' | 'granted';

/** What the ResourceManager knows of one registered JobMaster. */
export interface JobMasterRegistration extends RegistrationCredentials {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly registeredAt: number;
  /** Its jobs, by id: no other live JobMaster may take slots for them. */
  readonly jobs: Map<string, JobClaim>;
}

/**
 * Why a JobMaster's registration ended: its heartbeats stopped or could not reach it, it said
 * goodbye, it registered again, or this ResourceManager stopped leading.
 */
export type JobMasterReleaseReason = TargetLossReason | 'goodbye' | 'replaced' | 'stepped-down';

/**
 * How each release is logged, and whether the JobMaster's jobs lose their slots: one that is lost
 * or left takes its jobs with it; one that registered again keeps them (its new registration lists
 * them), and so does one whose registration a stepping-down leader lets go (it registers with the
 * new leader, jobs and all).
 */
const RELEASES: Readonly<Record<JobMasterReleaseReason, { logged: string; freeSlots: boolean }>> = {
  timeout: { logged: 'heartbeat timeout', freeSlots: true },
  unreachable: { logged: 'unreachable', freeSlots: true },
  goodbye: { logged: 'left (goodbye)', freeSlots: true },
  replaced: { logged: 'registered again', freeSlots: false },
  'stepped-down': { logged: 'this ResourceManager stepped down as leader', freeSlots: false },
};

/** "1 slot", "3 slots". */
export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "2 jobs (job-1, job-2)", "no jobs". */
function describeJobs(jobs: Iterable<string>): string {
  const ids = [...jobs];
  if (ids.length === 0) {
    return 'no jobs';
  }
  const shown = ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');
  return `${countOf(ids.length, 'job')} (${shown})`;
}

/**
 * The JobMasters registered with this ResourceManager: who may register (the credential of a live
 * registration, jobs no other JobMaster runs), the credentials that fence off everyone else, the
 * `jobMasters` heartbeat monitoring of each, which jobs are whose, and the release of a JobMaster
 * with (if it was lost) every slot of its jobs.
 */
@Injectable()
export class JobMasterRegistrations implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ResourceManager');
  private readonly registrations = new Map<string, JobMasterRegistration>();
  private readonly fence: RegistrationFence;
  private followingLeadership: Subscription | null = null;

  constructor(
    @Inject(RESOURCE_MANAGER_IDENTITY) private readonly identity: ResourceManagerIdentity,
    @Inject(RESOURCE_MANAGER_CONFIG) private readonly config: ResourceManagerConfig,
    @InjectHeartbeatManager(JOB_MASTER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<JobMasterHeartbeat, ResourceManagerHeartbeat>,
    private readonly targets: HeartbeatTargetFactory,
    private readonly slotPool: SlotPool,
    private readonly leadership: ResourceManagerLeadership,
  ) {
    this.fence = new RegistrationFence(leadership, 'JobMaster');
  }

  /**
   * A leader that steps down lets every registration go, slots untouched: the JobMasters register
   * with the new leader, bringing their jobs, whose slots the TaskManagers report to it.
   */
  onModuleInit(): void {
    this.followingLeadership = this.leadership.leadership$
      .pipe(startWith(null), pairwise())
      .subscribe(([before, now]) => {
        if (before?.leader && !now?.leader) {
          for (const registration of this.all()) {
            this.release(registration.id, 'stepped-down');
          }
        }
      });
  }

  /**
   * Registers a JobMaster with the jobs it runs; throws a `RegistrationRefused` naming the reason
   * if it may not. As for TaskManagers, a live registration is replaced only by a request
   * presenting its credential.
   */
  register(request: JobMasterRegistrationRequest): RegistrationResponse {
    const address = `${request.host}:${request.port}`;
    const refusal = this.registrationRefusal(request);
    if (refusal) {
      this.logger.warn(
        `Refused the registration of JobMaster ${request.jobMasterId} from ${address}: ${refusal}`,
      );
      throw new RegistrationRefused(refusal);
    }
    const fencingToken = this.leadership.requireLeadership();
    const replacing = this.registrations.has(request.jobMasterId);
    if (replacing) {
      this.release(request.jobMasterId, 'replaced');
    }
    const credentials = this.fence.issue(replacing, request.credential);
    this.registrations.set(request.jobMasterId, {
      id: request.jobMasterId,
      host: request.host,
      port: request.port,
      registeredAt: Date.now(),
      ...credentials,
      jobs: new Map(request.jobs.map((jobId) => [jobId, 'listed'])),
    });
    this.heartbeats.monitorTarget(
      request.jobMasterId,
      this.targets.createTcpTarget({
        host: request.host,
        port: request.port,
        remoteManager: RESOURCE_MANAGER_HEARTBEATS,
        tlsOptions: clientTlsOptions(this.config.tls),
      }),
    );
    this.logger.log(
      `JobMaster ${request.jobMasterId} registered from ${address} with ${describeJobs(request.jobs)}`,
    );
    return {
      resourceManagerId: this.identity.resourceManagerId,
      fencingToken,
      credential: credentials.credential,
    };
  }

  /** A JobMaster says goodbye: release it, and its jobs' slots, now instead of at its timeout. */
  unregister({ jobMasterId, fencingToken, credential }: JobMasterUnregistrationRequest): boolean {
    const refusal = this.refusal(jobMasterId, fencingToken, credential);
    if (refusal) {
      this.logger.warn(`Ignored a goodbye from JobMaster ${jobMasterId}: ${refusal}`);
      return false;
    }
    this.release(jobMasterId, 'goodbye');
    return true;
  }

  /**
   * Ends a registration, if there is one: stops monitoring it and drops it with its jobs at once
   * (so `GET /jobmasters` no longer shows it, and another JobMaster may take its jobs), logs one
   * line, then, if it was lost or left, releases every slot of its jobs on every TaskManager.
   */
  release(jobMasterId: string, reason: JobMasterReleaseReason): void {
    const registration = this.registrations.get(jobMasterId);
    if (!registration) {
      return;
    }
    const { logged, freeSlots } = RELEASES[reason];
    const lastHeartbeat = this.heartbeats.getLastHeartbeatFrom(jobMasterId);
    const silence = describeSilence(lastHeartbeat, registration.registeredAt, Date.now());
    this.heartbeats.unmonitorTarget(jobMasterId);
    this.registrations.delete(jobMasterId);
    const jobs = [...registration.jobs.keys()];
    // Only a leader may order anything: one that stepped down just lets go.
    const releasing = freeSlots && this.leadership.isLeader();
    const held = jobs.reduce((sum, jobId) => sum + this.slotPool.heldSlots(jobId), 0);
    this.logger.warn(
      `JobMaster ${jobMasterId} lost: ${logged}, ${silence}; ` +
        (releasing
          ? `releasing ${countOf(held, 'slot')} of its ${describeJobs(jobs)}`
          : `keeping ${countOf(held, 'slot')} of its ${describeJobs(jobs)}`),
    );
    if (releasing) {
      for (const jobId of jobs) {
        this.releaseSlotsOf(jobMasterId, jobId);
      }
    }
  }

  get(jobMasterId: string): JobMasterRegistration | undefined {
    return this.registrations.get(jobMasterId);
  }

  /** Every live registration, in the order they registered. */
  all(): JobMasterRegistration[] {
    return [...this.registrations.values()];
  }

  /** False once a registration was released or replaced. */
  isCurrent(registration: JobMasterRegistration): boolean {
    return this.registrations.get(registration.id) === registration;
  }

  /** The live JobMaster whose job `jobId` is, if any. */
  ownerOf(jobId: string): JobMasterRegistration | undefined {
    return this.all().find((registration) => registration.jobs.has(jobId));
  }

  /**
   * Records that slots were granted for `jobId` to the JobMaster `jobMasterId` (its registration
   * now, which may have replaced the one that asked), unless the job is another's or already its.
   */
  claim(jobMasterId: string, jobId: string): void {
    const registration = this.registrations.get(jobMasterId);
    const owner = this.ownerOf(jobId);
    if (registration && owner === undefined) {
      registration.jobs.set(jobId, 'granted');
    }
  }

  /**
   * The jobs a JobMaster's heartbeat lists: it is the truth of which jobs it runs. A job it listed
   * before and lists no more is dropped (it let the job go); a job only granted stays until listed
   * (the heartbeat may predate the grant); a job of another live JobMaster is not taken.
   */
  updateJobs(jobMasterId: string, listed: readonly string[]): void {
    const registration = this.registrations.get(jobMasterId);
    if (!registration) {
      return;
    }
    const now = new Set(listed);
    for (const [jobId, claim] of registration.jobs) {
      if (claim === 'listed' && !now.has(jobId)) {
        registration.jobs.delete(jobId);
      }
    }
    for (const jobId of now) {
      const owner = this.ownerOf(jobId);
      if (owner === undefined || owner === registration) {
        registration.jobs.set(jobId, 'listed');
      }
    }
  }

  /**
   * What every heartbeat request to a registered JobMaster carries: the fencing token of our
   * leadership, and its credential. Throws a `NotLeaderError` when this ResourceManager does not lead.
   */
  proofFor(registration: JobMasterRegistration): ResourceManagerHeartbeat {
    return this.fence.proofFor(registration);
  }

  /** Why a message in the name of `jobMasterId` is refused, or undefined if it is its own. */
  refusal(jobMasterId: string, fencingToken: string, credential: string): string | undefined {
    return this.fence.refusal(
      jobMasterId,
      this.registrations.get(jobMasterId),
      fencingToken,
      credential,
    );
  }

  onApplicationShutdown(): void {
    this.followingLeadership?.unsubscribe();
    this.registrations.clear();
  }

  /** Why a registration is refused, or undefined if it may go ahead. */
  private registrationRefusal(request: JobMasterRegistrationRequest): string | undefined {
    const live = this.registrations.get(request.jobMasterId);
    const refusal =
      this.fence.notLeading() ??
      this.fence.replacementRefusal(request.jobMasterId, live, request.credential);
    if (refusal) {
      return refusal;
    }
    for (const jobId of request.jobs) {
      const owner = this.ownerOf(jobId);
      if (owner && owner.id !== request.jobMasterId) {
        return `job ${jobId} is run by JobMaster ${owner.id}, registered from ${owner.host}:${owner.port}`;
      }
    }
    return undefined;
  }

  /** Best effort: the TaskManagers free the job's slots themselves when they lose the JobMaster too. */
  private releaseSlotsOf(jobMasterId: string, jobId: string): void {
    this.slotPool.release(jobId).catch((error: unknown) => {
      this.logger.warn(
        `Could not release every slot of job ${jobId} of lost JobMaster ${jobMasterId}: ${describeError(error)}`,
      );
    });
  }
}

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import {
  clientTlsOptions,
  describeError,
  JOB_MASTER_HEARTBEATS,
  jobSlotReleaseAnswerSchema,
  JobMasterToResourceManagerPatterns,
  MAX_JOBS_PER_JOB_MASTER,
  parseMessage,
  ProtocolError,
  RetryBackoff,
  slotRequestAnswerSchema,
  TASK_MANAGER_HEARTBEATS,
  taskManagerToJobMasterHeartbeatSchema,
  type GrantedSlot,
  type HeldSlot,
  type JobMasterToTaskManagerHeartbeat,
  type SlotRequestAnswer,
  type TaskManagerToJobMasterHeartbeat,
} from '#cluster';
import {
  acceptHeartbeat,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnIncomingHeartbeat,
  OnTargetLost,
  ProvideHeartbeatPayload,
  type AcceptedHeartbeat,
  type HeartbeatManager,
  type IncomingHeartbeat,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import { JOB_MASTER_CONFIG, type JobMasterConfig } from './job-master.config.js';
import {
  countOf,
  describeSlots,
  JobTable,
  type Job,
  type JobSlotView,
  type JobView,
} from './job-table.service.js';
import {
  errorReplyOf,
  NotRegisteredError,
  ResourceManagerLink,
} from './resource-manager-link.service.js';

/** A job the cluster cannot run now, or a job id already taken (the HTTP API answers 409). */
export class JobConflictError extends Error {
  override readonly name = 'JobConflictError';
}

/** No job with that id (404). */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';
}

/** The ResourceManager refused a request, or did not answer it (503: try again later). */
export class ResourceManagerError extends Error {
  override readonly name = 'ResourceManagerError';
}

/** The pending replacement request's name in the `SchedulerRegistry`: at most one is pending. */
export const REPLACEMENT_RETRY = 'job-master-replacement-retry';

/** What the ResourceManager says when another live JobMaster runs the job (see its JobMasterSlots). */
const RUN_BY_ANOTHER = / is run by JobMaster /;

/**
 * The JobMaster's jobs: submission (slots from the ResourceManager), release, and the
 * `taskManagers` sender that watches every TaskManager holding its slots. Its heartbeats list the
 * slots held there (the TaskManager frees any it no longer lists); its answers list what the
 * TaskManager holds for us. A slot lost (its TaskManager lost, or no longer holding it) is asked
 * for again, with capped backoff, until every job has its full count.
 */
@Injectable()
export class JobsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobMaster');
  /**
   * Given with every slot request, so that the TaskManagers take heartbeats for our slots only
   * with it: new for every run of this JobMaster (a restarted one does not speak for the former).
   */
  readonly heartbeatSecret = randomUUID();
  /** Jobs being submitted (not in the table yet): their ids are taken. */
  private readonly submitting = new Set<string>();
  /** Jobs with a slot request on the way: a TaskManager may hold slots for them we do not know yet. */
  private readonly requesting = new Set<string>();
  /** Jobs being deleted: asked for no replacements. */
  private readonly cancelling = new Set<string>();
  /** The address (host:port) each monitored TaskManager is heartbeated at. */
  private readonly addresses = new Map<string, string>();
  /** Allocations a TaskManager holds for us that no job knows, whose release was asked (once per registration). */
  private readonly released = new Set<string>();
  private readonly replacements: RetryBackoff;
  private replacing = false;
  /** A loss while a round runs: run another right after it. */
  private replaceAgain = false;
  private following: Subscription | null = null;
  private closing = false;

  constructor(
    @Inject(JOB_MASTER_CONFIG) private readonly config: JobMasterConfig,
    @InjectHeartbeatManager(TASK_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<
      TaskManagerToJobMasterHeartbeat,
      JobMasterToTaskManagerHeartbeat
    >,
    private readonly targets: HeartbeatTargetFactory,
    private readonly table: JobTable,
    private readonly link: ResourceManagerLink,
    // Retries go through Nest's scheduler, which also clears them when the application shuts down.
    scheduler: SchedulerRegistry,
  ) {
    this.replacements = new RetryBackoff(scheduler, REPLACEMENT_RETRY, config.heartbeat.interval);
  }

  /** A new registration (a new ResourceManager, or the same one again) may have free slots for us. */
  onModuleInit(): void {
    this.following = this.link.registration$.subscribe((registration) => {
      if (registration) {
        this.released.clear();
        this.replaceLostSlots();
      }
    });
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.following?.unsubscribe();
    this.replacements.cancel();
  }

  /**
   * A new job: asks the ResourceManager for `count` slots, all or nothing, and watches their
   * TaskManagers. Throws a `JobConflictError` if the id is taken or the cluster has not that many
   * free slots (the job is not kept), a `NotRegisteredError` or `ResourceManagerError` if the
   * ResourceManager cannot be asked.
   */
  async submit(jobId: string, count: number): Promise<JobView> {
    if (this.table.get(jobId) || this.submitting.has(jobId)) {
      throw new JobConflictError(`Job ${jobId} exists already`);
    }
    if (this.table.size + this.submitting.size >= MAX_JOBS_PER_JOB_MASTER) {
      throw new JobConflictError(
        `This JobMaster runs ${MAX_JOBS_PER_JOB_MASTER} jobs already, the most it may`,
      );
    }
    if (!this.link.registration) {
      throw new NotRegisteredError('This JobMaster is not registered with a ResourceManager (yet)');
    }
    this.submitting.add(jobId);
    try {
      const answer = await this.requestSlots(jobId, count, { isNew: true });
      if (!answer.granted) {
        this.logger.warn(`Job ${jobId} not submitted: ${answer.reason}`);
        throw new JobConflictError(answer.reason);
      }
      const job = this.table.add(jobId, count, answer.slots);
      this.watchTaskManagers(answer.slots);
      this.logger.log(
        `Job ${jobId} submitted: ${countOf(answer.slots.length)} (${describePlaces(answer.slots)})`,
      );
      if (job.slots.size < job.wanted) {
        this.replaceLostSlots(); // the ResourceManager gave fewer than asked: ask for the rest
      }
      return this.table.view(job);
    } finally {
      this.submitting.delete(jobId);
    }
  }

  find(jobId: string): JobView | undefined {
    const job = this.table.get(jobId);
    return job && this.table.view(job);
  }

  list(): JobView[] {
    return this.table.all().map((job) => this.table.view(job));
  }

  /**
   * Releases every slot of the job through the ResourceManager, then forgets the job. Throws an
   * `UnknownJobError`; a `NotRegisteredError` or `ResourceManagerError` when the ResourceManager
   * cannot release them (the job is kept: ask again).
   */
  async cancel(jobId: string): Promise<{ jobId: string; released: number }> {
    const job = this.table.get(jobId);
    if (!job) {
      throw new UnknownJobError(`No job with id ${jobId}`);
    }
    if (this.cancelling.has(jobId)) {
      throw new JobConflictError(`Job ${jobId} is being deleted already`);
    }
    if (!this.link.registration) {
      throw new NotRegisteredError('This JobMaster is not registered with a ResourceManager (yet)');
    }
    this.cancelling.add(jobId);
    try {
      const { released } = await this.askResourceManager(
        () =>
          this.link.request(
            JobMasterToResourceManagerPatterns.releaseSlots,
            { jobId },
            jobSlotReleaseAnswerSchema,
            'slot release answer',
          ),
        `the release of job ${jobId}`,
      );
      if (this.table.get(jobId) === job) {
        this.table.remove(jobId);
      }
      this.unwatchIdleTaskManagers([...job.slots.values()].map((slot) => slot.taskManagerId));
      this.logger.log(`Job ${jobId} deleted: the ResourceManager released ${countOf(released)}`);
      return { jobId, released };
    } finally {
      this.cancelling.delete(jobId);
    }
  }

  /** Each heartbeat to a TaskManager proves it is ours and lists the slots we hold there. */
  @ProvideHeartbeatPayload(TASK_MANAGER_HEARTBEATS)
  heartbeatPayload(taskManagerId: string): JobMasterToTaskManagerHeartbeat {
    return { heartbeatSecret: this.heartbeatSecret, slots: this.table.heldOn(taskManagerId) };
  }

  /**
   * Only answers count, from a TaskManager we watch, in the shape of the protocol; parsed here
   * once. (TaskManagers do not ask a JobMaster for heartbeats: it asks them.)
   */
  @OnIncomingHeartbeat<unknown, TaskManagerToJobMasterHeartbeat>(TASK_MANAGER_HEARTBEATS)
  vetAnswer({
    kind,
    origin,
    payload,
  }: IncomingHeartbeat): AcceptedHeartbeat<TaskManagerToJobMasterHeartbeat> {
    if (kind !== 'receive') {
      throw new ProtocolError('a JobMaster takes no heartbeat requests from TaskManagers');
    }
    if (!this.addresses.has(origin)) {
      throw new ProtocolError(`${origin} is not a TaskManager holding slots of this JobMaster`);
    }
    return acceptHeartbeat(
      parseMessage(taskManagerToJobMasterHeartbeatSchema, payload, 'heartbeat answer'),
    );
  }

  /**
   * The slots the TaskManager holds for us: any other we thought it held is gone (asked for
   * again); any it holds that no job of ours knows (a grant whose answer was lost, or that came
   * after the job was deleted) is released, unless a request that may have got it is on the way.
   */
  @OnHeartbeatPayload<TaskManagerToJobMasterHeartbeat>(TASK_MANAGER_HEARTBEATS)
  onAnswer(taskManagerId: string, answer: TaskManagerToJobMasterHeartbeat): void {
    const { dropped, unknown } = this.table.reconcile(
      taskManagerId,
      answer.slots,
      this.config.heartbeat.timeout,
    );
    if (dropped.length > 0) {
      this.logger.warn(
        `TaskManager ${taskManagerId} no longer holds ${countOf(dropped.length)} of this JobMaster (${describeSlots(dropped)}); ` +
          'asking the ResourceManager for replacements',
      );
      this.unwatchIdleTaskManagers([taskManagerId]);
      this.replaceLostSlots();
    }
    const strays = unknown.filter(
      ({ jobId, allocationId }) => !this.requesting.has(jobId) && !this.released.has(allocationId),
    );
    if (strays.length > 0 && this.link.registration) {
      this.logger.warn(
        `TaskManager ${taskManagerId} holds ${countOf(strays.length)} for this JobMaster that no job of it has (${describeSlots(strays)}); releasing them`,
      );
      this.releaseStrays(strays);
    }
  }

  /** A TaskManager lost: its slots are gone, and asked for again elsewhere. */
  @OnTargetLost(TASK_MANAGER_HEARTBEATS)
  onTaskManagerLost(taskManagerId: string, reason: TargetLossReason): void {
    this.heartbeats.unmonitorTarget(taskManagerId);
    this.addresses.delete(taskManagerId);
    const dropped = this.table.dropOn(taskManagerId);
    const why = reason === 'timeout' ? 'heartbeat timeout' : reason;
    this.logger.warn(
      `TaskManager ${taskManagerId} lost: ${why}; ` +
        (dropped.length > 0
          ? `dropped ${countOf(dropped.length)} of ${describeJobs(dropped)}; asking the ResourceManager for replacements`
          : 'it held no slot of this JobMaster any more'),
    );
    if (dropped.length > 0) {
      this.replaceLostSlots();
    }
  }

  /**
   * Asks the ResourceManager for `count` slots of a job; answers whether it granted them. Throws a
   * `JobConflictError` if another JobMaster runs the job, a `NotRegisteredError`, or a
   * `ResourceManagerError` for any other refusal or failure. A new job's request that got no
   * answer may have been granted all the same: its slots are released (best effort).
   */
  private async requestSlots(
    jobId: string,
    count: number,
    { isNew }: { isNew: boolean },
  ): Promise<SlotRequestAnswer> {
    this.requesting.add(jobId);
    try {
      return await this.askResourceManager(
        () =>
          this.link.request(
            JobMasterToResourceManagerPatterns.requestSlots,
            { jobId, count, heartbeatSecret: this.heartbeatSecret },
            slotRequestAnswerSchema,
            'slot request answer',
          ),
        `${countOf(count)} for job ${jobId}`,
        isNew ? () => this.releaseQuietly(jobId) : undefined,
      );
    } finally {
      this.requesting.delete(jobId);
    }
  }

  /** Runs a request to the ResourceManager; its refusals and failures become the errors above. */
  private async askResourceManager<T>(
    request: () => Promise<T>,
    what: string,
    onNoAnswer?: () => void,
  ): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof NotRegisteredError) {
        throw error;
      }
      const refusal = errorReplyOf(error);
      if (refusal !== undefined && RUN_BY_ANOTHER.test(refusal)) {
        throw new JobConflictError(refusal);
      }
      if (refusal === undefined) {
        onNoAnswer?.();
      }
      throw new ResourceManagerError(
        refusal === undefined
          ? `The ResourceManager did not answer about ${what}: ${describeError(error)}`
          : `The ResourceManager refused ${what}: ${refusal}`,
      );
    }
  }

  /** Best effort: the release of slots nobody wants (the TaskManagers free them at our loss anyway). */
  private releaseQuietly(jobId: string, allocationIds?: readonly string[]): void {
    this.link
      .request(
        JobMasterToResourceManagerPatterns.releaseSlots,
        { jobId, ...(allocationIds && { allocationIds }) },
        jobSlotReleaseAnswerSchema,
        'slot release answer',
      )
      .catch((error: unknown) => {
        this.logger.warn(
          `Could not release ${allocationIds ? countOf(allocationIds.length) : 'the slots'} of job ${jobId}: ${describeError(error)}`,
        );
      });
  }

  private releaseStrays(strays: readonly HeldSlot[]): void {
    const byJob = new Map<string, string[]>();
    for (const { jobId, allocationId } of strays) {
      this.released.add(allocationId);
      byJob.set(jobId, [...(byJob.get(jobId) ?? []), allocationId]);
    }
    for (const [jobId, allocationIds] of byJob) {
      this.releaseQuietly(jobId, allocationIds);
    }
  }

  /** Asks for the missing slots at once (a new loss, a new registration), the backoff afresh. */
  private replaceLostSlots(): void {
    this.replacements.cancel();
    this.replacements.reset();
    this.runReplacements();
  }

  /** One round at a time; a round asked for meanwhile runs right after it. */
  private runReplacements(): void {
    if (this.closing) {
      return;
    }
    if (this.replacing) {
      this.replaceAgain = true;
      return;
    }
    this.replacing = true;
    void this.replacementRounds().finally(() => {
      this.replacing = false;
    });
  }

  /**
   * Rounds until no job is short; anything still missing (not enough free slots, a failure) is
   * asked again after the backoff's delay, doubling up to the heartbeat interval. Without a
   * registration there is no retry: the next registration starts the rounds again.
   */
  private async replacementRounds(): Promise<void> {
    let complete: boolean;
    do {
      this.replaceAgain = false;
      complete = await this.replacementRound();
    } while (this.replaceAgain && !this.closing);
    if (this.closing) {
      return;
    }
    if (complete) {
      this.replacements.reset();
    } else if (this.link.registration) {
      this.replacements.schedule(() => this.runReplacements());
    }
  }

  /** Asks for the missing slots of every job short of them, one job after the other; true if none is short now. */
  private async replacementRound(): Promise<boolean> {
    let complete = true;
    for (const job of this.table.short()) {
      if (this.closing || !this.link.registration) {
        return false;
      }
      if (this.cancelling.has(job.jobId) || this.table.get(job.jobId) !== job) {
        continue;
      }
      const missing = job.wanted - job.slots.size;
      try {
        const answer = await this.requestSlots(job.jobId, missing, { isNew: false });
        if (!answer.granted) {
          complete = false;
          this.logger.warn(
            `Job ${job.jobId} is short of ${countOf(missing)}: ${answer.reason}; asking again in ${this.replacements.delay} ms`,
          );
          continue;
        }
        if (this.table.get(job.jobId) !== job || this.cancelling.has(job.jobId)) {
          // Deleted meanwhile: these are nobody's.
          this.releaseQuietly(
            job.jobId,
            answer.slots.map(({ allocationId }) => allocationId),
          );
          continue;
        }
        this.table.grant(job, answer.slots);
        this.watchTaskManagers(answer.slots);
        this.logger.log(
          `Job ${job.jobId} got ${countOf(answer.slots.length, 'replacement slot')} (${describePlaces(answer.slots)}); ${describeCount(job)}`,
        );
        complete &&= job.slots.size >= job.wanted;
      } catch (error) {
        complete = false;
        this.logger.warn(
          `Job ${job.jobId} is short of ${countOf(missing)}: ${describeError(error)}; asking again in ${this.replacements.delay} ms`,
        );
      }
    }
    return complete;
  }

  /** Monitors the TaskManagers of newly granted slots, at the address the grant names. */
  private watchTaskManagers(slots: readonly GrantedSlot[]): void {
    for (const { taskManagerId, host, port } of slots) {
      const address = `${host}:${port}`;
      const watched = this.addresses.get(taskManagerId);
      if (watched === address) {
        continue;
      }
      if (watched !== undefined) {
        // Registered again from elsewhere (restarted): heartbeat the new address.
        this.heartbeats.unmonitorTarget(taskManagerId);
      }
      this.addresses.set(taskManagerId, address);
      this.heartbeats.monitorTarget(
        taskManagerId,
        this.targets.createTcpTarget({
          host,
          port,
          remoteManager: JOB_MASTER_HEARTBEATS,
          tlsOptions: clientTlsOptions(this.config.tls),
        }),
      );
    }
  }

  /** Stops watching those of `taskManagerIds` that hold none of our slots any more. */
  private unwatchIdleTaskManagers(taskManagerIds: Iterable<string>): void {
    const holding = this.table.taskManagerIds();
    for (const taskManagerId of new Set(taskManagerIds)) {
      if (!holding.has(taskManagerId) && this.addresses.delete(taskManagerId)) {
        this.heartbeats.unmonitorTarget(taskManagerId);
      }
    }
  }
}

/** "tm-1 slot 0, tm-2 slot 1". */
function describePlaces(slots: readonly (GrantedSlot | JobSlotView)[]): string {
  return slots
    .map(({ taskManagerId, slotIndex }) => `${taskManagerId} slot ${slotIndex}`)
    .join(', ');
}

/** "jobs job-a, job-b", "job job-a". */
function describeJobs(slots: readonly HeldSlot[]): string {
  const jobs = [...new Set(slots.map(({ jobId }) => jobId))];
  return `${jobs.length === 1 ? 'job' : 'jobs'} ${jobs.join(', ')}`;
}

function describeCount(job: Job): string {
  return job.slots.size >= job.wanted
    ? `running again with its ${countOf(job.wanted)}`
    : `still short of ${countOf(job.wanted - job.slots.size)}`;
}

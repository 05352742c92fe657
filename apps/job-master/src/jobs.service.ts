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
  parseMessage,
  ProtocolError,
  slotRequestAnswerSchema,
  TASK_MANAGER_HEARTBEATS,
  taskManagerToJobMasterHeartbeatSchema,
  type GrantedSlot,
  type JobMasterToTaskManagerHeartbeat,
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
import { JobTable, type Job, type JobView } from './job-table.service.js';
import { ResourceManagerLink } from './resource-manager-link.service.js';

/** A job request the cluster cannot satisfy, or a job id already taken (the HTTP API answers 409). */
export class JobConflictError extends Error {
  override readonly name = 'JobConflictError';
}

const FIRST_RETRY_DELAY_MS = 100;
/** The pending replacement request's name in the `SchedulerRegistry`: at most one is pending. */
export const REPLACEMENT_RETRY = 'job-master-replacement-retry';

/**
 * The JobMaster's jobs: submission (slots from the ResourceManager), release, and the `taskManagers`
 * sender that watches every TaskManager holding its slots. Its heartbeats list the slots held
 * there (the TaskManager frees any it no longer lists); its answers list what the TaskManager
 * holds for us. A slot lost (its TaskManager lost, or no longer holding it) is asked for again,
 * with capped backoff, until every job has its full count.
 */
@Injectable()
export class JobsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobMaster');
  /** Given with every slot request to the TaskManagers, which then take our heartbeats only with it. */
  private readonly heartbeatSecret = randomUUID();
  private following: Subscription | null = null;
  private replacing = false;
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
    private readonly scheduler: SchedulerRegistry,
  ) {}

  /** A new registration (a new ResourceManager, or the same one again) may have free slots for us. */
  onModuleInit(): void {
    this.following = this.link.registration$.subscribe((registration) => {
      if (registration) {
        this.replaceLostSlots(FIRST_RETRY_DELAY_MS);
      }
    });
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.following?.unsubscribe();
    this.cancelRetry();
  }

  /** Asks the ResourceManager for `count` slots for a new job; all or nothing. */
  async submit(jobId: string, count: number): Promise<JobView> {
    if (this.table.get(jobId)) {
      throw new JobConflictError(`Job ${jobId} exists already`);
    }
    const slots = await this.requestSlots(jobId, count);
    if (this.table.get(jobId)) {
      // Submitted twice at once: the second grant is not wanted.
      await this.releaseAtResourceManager(jobId, slots);
      throw new JobConflictError(`Job ${jobId} exists already`);
    }
    const job = this.table.add(jobId, count, slots);
    this.watchTaskManagers(slots);
    this.logger.log(`Job ${jobId} running on ${count} slots (${describePlaces(slots)})`);
    return this.table.view(job);
  }

  find(jobId: string): JobView | undefined {
    const job = this.table.get(jobId);
    return job && this.table.view(job);
  }

  list(): JobView[] {
    return this.table.all().map((job) => this.table.view(job));
  }

  /**
   * Forgets the job and asks the ResourceManager to free its slots. Should that fail, the slots go
   * all the same: the next heartbeats to their TaskManagers no longer list them.
   */
  async cancel(jobId: string): Promise<{ jobId: string; released: number } | undefined> {
    const job = this.table.remove(jobId);
    if (!job) {
      return undefined;
    }
    const slots = [...job.slots.values()];
    this.unwatchIdleTaskManagers(slots);
    let released = 0;
    try {
      released = (
        await this.link.request(
          JobMasterToResourceManagerPatterns.releaseSlots,
          { jobId },
          jobSlotReleaseAnswerSchema,
          'slot release answer',
        )
      ).released;
    } catch (error) {
      this.logger.warn(
        `Could not release job ${jobId} at the ResourceManager (${describeError(error)}); its TaskManagers free its slots once our heartbeats stop listing them`,
      );
      released = slots.length;
    }
    this.logger.log(`Job ${jobId} cancelled; released ${released} slots`);
    return { jobId, released };
  }

  /** Each heartbeat to a TaskManager proves it is ours and lists the slots we hold there. */
  @ProvideHeartbeatPayload(TASK_MANAGER_HEARTBEATS)
  heartbeatPayload(taskManagerId: string): JobMasterToTaskManagerHeartbeat {
    return { heartbeatSecret: this.heartbeatSecret, slots: this.table.heldOn(taskManagerId) };
  }

  /** A TaskManager's answer must parse, and come from one we watch. */
  @OnIncomingHeartbeat<unknown, TaskManagerToJobMasterHeartbeat>(TASK_MANAGER_HEARTBEATS)
  vetAnswer({
    origin,
    payload,
  }: IncomingHeartbeat): AcceptedHeartbeat<TaskManagerToJobMasterHeartbeat> {
    const answer = parseMessage(taskManagerToJobMasterHeartbeatSchema, payload, 'heartbeat answer');
    if (!this.heartbeats.getMonitoredTargets().includes(origin)) {
      throw new ProtocolError(`${origin} is not a TaskManager holding slots of this JobMaster`);
    }
    return acceptHeartbeat(answer);
  }

  /** The slots the TaskManager holds for us: any other we thought it held is lost. */
  @OnHeartbeatPayload<TaskManagerToJobMasterHeartbeat>(TASK_MANAGER_HEARTBEATS)
  onAnswer(taskManagerId: string, answer: TaskManagerToJobMasterHeartbeat): void {
    const held = new Set(answer.slots.map(({ allocationId }) => allocationId));
    const dropped = this.table.reconcile(taskManagerId, held, this.config.heartbeat.timeout);
    if (dropped > 0) {
      this.logger.warn(
        `TaskManager ${taskManagerId} no longer holds ${dropped} of our slots; asking for replacements`,
      );
      this.unwatchIdleTaskManagers([{ taskManagerId }]);
      this.replaceLostSlots(FIRST_RETRY_DELAY_MS);
    }
  }

  @OnTargetLost(TASK_MANAGER_HEARTBEATS)
  onTaskManagerLost(taskManagerId: string, reason: TargetLossReason): void {
    this.heartbeats.unmonitorTarget(taskManagerId);
    const dropped = this.table.dropOn(taskManagerId);
    this.logger.warn(
      `TaskManager ${taskManagerId} lost: ${reason === 'timeout' ? 'heartbeat timeout' : reason}; ` +
        `${dropped} slots of our jobs lost, asking for replacements`,
    );
    if (dropped > 0) {
      this.replaceLostSlots(FIRST_RETRY_DELAY_MS);
    }
  }

  /** Asks the ResourceManager for `count` slots; a refusal for want of slots is a `JobConflictError`. */
  private async requestSlots(jobId: string, count: number): Promise<GrantedSlot[]> {
    const answer = await this.link.request(
      JobMasterToResourceManagerPatterns.requestSlots,
      { jobId, count, heartbeatSecret: this.heartbeatSecret },
      slotRequestAnswerSchema,
      'slot request answer',
    );
    if (!answer.granted) {
      throw new JobConflictError(answer.reason);
    }
    return answer.slots;
  }

  /** Undoes a grant nobody wants (best effort: unlisted slots are freed by the TaskManagers anyway). */
  private async releaseAtResourceManager(jobId: string, slots: readonly GrantedSlot[]) {
    try {
      await this.link.request(
        JobMasterToResourceManagerPatterns.releaseSlots,
        { jobId, allocationIds: slots.map(({ allocationId }) => allocationId) },
        jobSlotReleaseAnswerSchema,
        'slot release answer',
      );
    } catch {
      // their TaskManagers free them: no heartbeat of ours lists them
    }
  }

  /**
   * Asks for the missing slots of every job short of them, one job after the other; anything
   * still missing (not enough free slots, no ResourceManager) is asked again after `delay`, the
   * delay doubling up to the interval. One round at a time.
   */
  private replaceLostSlots(delay: number): void {
    if (this.replacing || this.closing) {
      return;
    }
    this.cancelRetry();
    this.replacing = true;
    void this.replacementRound().then((complete) => {
      this.replacing = false;
      if (!complete && !this.closing) {
        const cap = Math.max(FIRST_RETRY_DELAY_MS, this.config.heartbeat.interval);
        this.scheduleRetry(delay, Math.min(delay * 2, cap));
      }
    });
  }

  /** True once no job is short of slots. */
  private async replacementRound(): Promise<boolean> {
    for (const job of this.table.short()) {
      const missing = job.wanted - job.slots.size;
      try {
        const slots = await this.requestSlots(job.jobId, missing);
        if (this.table.get(job.jobId) !== job) {
          await this.releaseAtResourceManager(job.jobId, slots); // cancelled meanwhile
          continue;
        }
        this.table.grant(job, slots);
        this.watchTaskManagers(slots);
        this.logger.log(
          `Job ${job.jobId} has ${missing} replacement slots (${describePlaces(slots)}); ${describeCount(job)}`,
        );
      } catch (error) {
        this.logger.warn(
          `No replacement yet for ${missing} slots of job ${job.jobId}: ${describeError(error)}`,
        );
      }
    }
    return this.table.short().length === 0;
  }

  private watchTaskManagers(slots: readonly GrantedSlot[]): void {
    const monitored = new Set(this.heartbeats.getMonitoredTargets());
    for (const { taskManagerId, host, port } of slots) {
      if (monitored.has(taskManagerId)) {
        continue;
      }
      monitored.add(taskManagerId);
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

  /** Stops watching the TaskManagers among `slots`' that hold none of our slots any more. */
  private unwatchIdleTaskManagers(slots: ReadonlyArray<{ taskManagerId: string }>): void {
    for (const taskManagerId of new Set(slots.map((slot) => slot.taskManagerId))) {
      if (this.table.heldOn(taskManagerId).length === 0) {
        this.heartbeats.unmonitorTarget(taskManagerId);
      }
    }
  }

  private scheduleRetry(delay: number, nextDelay: number): void {
    this.cancelRetry();
    const timer = setTimeout(() => {
      this.cancelRetry();
      this.replaceLostSlots(nextDelay);
    }, delay);
    this.scheduler.addTimeout(REPLACEMENT_RETRY, timer);
  }

  private cancelRetry(): void {
    if (this.scheduler.doesExist('timeout', REPLACEMENT_RETRY)) {
      this.scheduler.deleteTimeout(REPLACEMENT_RETRY);
    }
  }
}

function describePlaces(slots: readonly GrantedSlot[]): string {
  return slots.map(({ taskManagerId, slotIndex }) => `${taskManagerId}#${slotIndex}`).join(', ');
}

function describeCount(job: Job): string {
  return `${job.slots.size} of ${job.wanted} slots`;
}

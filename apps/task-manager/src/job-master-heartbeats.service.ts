import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import {
  JOB_MASTER_HEARTBEATS,
  jobMasterToTaskManagerHeartbeatSchema,
  parseMessage,
  ProtocolError,
  type HeldSlot,
  type JobMasterToTaskManagerHeartbeat,
  type TaskManagerToJobMasterHeartbeat,
} from '#cluster';
import {
  acceptHeartbeat,
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
import { SlotTable } from './slot-table.service.js';

/** "job-a: allocation-1, allocation-2; job-b: allocation-3", for a log line. */
function describeSlots(slots: readonly HeldSlot[]): string {
  const byJob = new Map<string, string[]>();
  for (const { jobId, allocationId } of slots) {
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), allocationId]);
  }
  return [...byJob].map(([jobId, allocations]) => `${jobId}: ${allocations.join(', ')}`).join('; ');
}

const countOf = (n: number) => `${n} slot${n === 1 ? '' : 's'}`;

/**
 * The TaskManager's handlers of its `jobMasters` receiver: the JobMasters whose jobs hold slots
 * here ask it for heartbeats (Flink's TaskExecutor ↔ JobMaster link). The monitored JobMasters
 * follow the slot table: one is monitored from the moment an allocation for it arrives, and no
 * longer once no slot of it is held (released by the ResourceManager, let go by the JobMaster,
 * or all freed on a disconnect). A lost JobMaster's slots are freed.
 *
 * Monitoring starts before the JobMaster has its grant (the ResourceManager answers it after this
 * TaskManager took the allocation), and its first heartbeat comes up to an interval after that:
 * the receiver's timeout, at least an interval and far longer than one RPC, covers the gap.
 */
@Injectable()
export class JobMasterHeartbeats implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('TaskManager');
  /**
   * The secret of each monitored JobMaster's last accepted heartbeat: its answer lists only the
   * slots given under that secret.
   */
  private readonly secrets = new Map<string, string>();
  private following: Subscription | null = null;

  constructor(
    @InjectHeartbeatManager(JOB_MASTER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<
      JobMasterToTaskManagerHeartbeat,
      TaskManagerToJobMasterHeartbeat
    >,
    private readonly slots: SlotTable,
  ) {}

  onModuleInit(): void {
    this.following = this.slots.changes.subscribe(() => this.followOwners());
    this.followOwners();
  }

  onApplicationShutdown(): void {
    this.following?.unsubscribe();
    this.following = null;
  }

  /**
   * Only a JobMaster that owns slots here may ask, and only with the secret its slot requests
   * gave (anyone may learn its id; the secret came with the allocation, from the ResourceManager).
   * Parsed here, once.
   */
  @OnIncomingHeartbeat<unknown, JobMasterToTaskManagerHeartbeat>(JOB_MASTER_HEARTBEATS)
  vetHeartbeat({
    origin,
    payload,
  }: IncomingHeartbeat): AcceptedHeartbeat<JobMasterToTaskManagerHeartbeat> {
    if (!this.slots.jobMasterIds().has(origin)) {
      throw new ProtocolError(`${origin} is not a JobMaster that holds slots on this TaskManager`);
    }
    const heartbeat = parseMessage(
      jobMasterToTaskManagerHeartbeatSchema,
      payload,
      'heartbeat payload',
    );
    if (!this.slots.isOwner({ jobMasterId: origin, heartbeatSecret: heartbeat.heartbeatSecret })) {
      throw new ProtocolError(
        `wrong heartbeat secret for JobMaster ${origin} (not the one its slot requests gave)`,
      );
    }
    return acceptHeartbeat(heartbeat);
  }

  /** The allocations the JobMaster holds here: it let go of the confirmed slots it no longer lists. */
  @OnHeartbeatPayload<JobMasterToTaskManagerHeartbeat>(JOB_MASTER_HEARTBEATS)
  onHeartbeat(jobMasterId: string, heartbeat: JobMasterToTaskManagerHeartbeat): void {
    const { heartbeatSecret } = heartbeat;
    this.secrets.set(jobMasterId, heartbeatSecret);
    const { freed } = this.slots.reconcile({ jobMasterId, heartbeatSecret }, heartbeat.slots);
    if (freed.length > 0) {
      this.logger.log(
        `JobMaster ${jobMasterId} no longer lists ${countOf(freed.length)}; freed (${describeSlots(freed)})`,
      );
    }
    const ofEarlierRun = this.slots.releaseOtherRuns({ jobMasterId, heartbeatSecret });
    if (ofEarlierRun.length > 0) {
      this.logger.log(
        `JobMaster ${jobMasterId} restarted: freed ${countOf(ofEarlierRun.length)} of its earlier run (${describeSlots(ofEarlierRun)})`,
      );
    }
  }

  /** The answer to a JobMaster's heartbeat: the slots held here for its jobs. */
  @ProvideHeartbeatPayload(JOB_MASTER_HEARTBEATS)
  heartbeatPayload(jobMasterId: string): TaskManagerToJobMasterHeartbeat {
    return { slots: this.slots.heldFor(jobMasterId, this.secrets.get(jobMasterId)) };
  }

  /** A lost JobMaster's jobs are over here: their slots are freed (the next slot report tells the ResourceManager). */
  @OnTargetLost(JOB_MASTER_HEARTBEATS)
  onJobMasterLost(jobMasterId: string, reason: TargetLossReason): void {
    const jobs = this.slots.jobsOf(jobMasterId);
    // Unmonitored first: the monitor is spent, and freeing its slots then logs nothing more.
    this.unmonitor(jobMasterId);
    const freed = this.slots.releaseJobMaster(jobMasterId);
    const why = reason === 'timeout' ? 'heartbeat timeout' : reason;
    this.logger.warn(
      `JobMaster ${jobMasterId} lost: ${why}; freed ${countOf(freed.length)} of jobs ${jobs.join(', ')}`,
    );
  }

  /** Monitors the JobMasters that own slots, and only those. */
  private followOwners(): void {
    if (this.heartbeats.isStopped) {
      return;
    }
    const owners = this.slots.jobMasterIds();
    const monitored = new Set(this.heartbeats.getMonitoredTargets());
    for (const jobMasterId of owners) {
      if (!monitored.has(jobMasterId)) {
        // No target: it asks, and the answer goes back in the reply to its request.
        this.heartbeats.monitorTarget(jobMasterId);
        this.logger.log(
          `Monitoring JobMaster ${jobMasterId}, which holds slots of jobs ${this.slots.jobsOf(jobMasterId).join(', ')}`,
        );
      }
    }
    for (const jobMasterId of monitored) {
      if (!owners.has(jobMasterId)) {
        this.unmonitor(jobMasterId);
        this.logger.log(
          `No slot of JobMaster ${jobMasterId} is held any more; stopped monitoring it`,
        );
      }
    }
  }

  private unmonitor(jobMasterId: string): void {
    this.heartbeats.unmonitorTarget(jobMasterId);
    this.secrets.delete(jobMasterId);
  }
}

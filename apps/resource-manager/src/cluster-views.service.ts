import { Injectable } from '@nestjs/common';
import {
  JOB_MASTER_HEARTBEATS,
  TASK_MANAGER_HEARTBEATS,
  type JobMasterHeartbeat,
  type ResourceManagerHeartbeat,
  type SlotStatus,
  type TaskManagerHeartbeat,
} from '#cluster';
import { InjectHeartbeatManager, type HeartbeatManager } from 'nestjs-heartbeat';
import {
  JobMasterRegistrations,
  type JobMasterRegistration,
} from './job-master-registrations.service.js';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import {
  TaskManagerRegistrations,
  type Registration,
} from './task-manager-registrations.service.js';

export interface TaskManagerView {
  readonly id: string;
  readonly address: string;
  readonly slotsNumber: number;
  readonly freeSlots: number;
  readonly lastHeartbeat: number;
  readonly timeSinceLastHeartbeat: number;
}

export interface JobMasterView {
  readonly id: string;
  readonly address: string;
  /** The ids of its jobs. */
  readonly jobs: string[];
  readonly lastHeartbeat: number;
  readonly timeSinceLastHeartbeat: number;
}

/**
 * What the HTTP API shows of the cluster: the registered TaskManagers, their slots, the totals,
 * and the registered JobMasters with their jobs.
 */
@Injectable()
export class ClusterViews {
  constructor(
    private readonly registrations: TaskManagerRegistrations,
    private readonly leadership: ResourceManagerLeadership,
    @InjectHeartbeatManager(TASK_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<TaskManagerHeartbeat, ResourceManagerHeartbeat>,
    private readonly jobMasterRegistrations: JobMasterRegistrations,
    @InjectHeartbeatManager(JOB_MASTER_HEARTBEATS)
    private readonly jobMasterHeartbeats: HeartbeatManager<
      JobMasterHeartbeat,
      ResourceManagerHeartbeat
    >,
  ) {}

  list(): TaskManagerView[] {
    return this.registrations.all().map((registration) => this.view(registration));
  }

  find(taskManagerId: string): (TaskManagerView & { slots: SlotStatus[] }) | undefined {
    const registration = this.registrations.get(taskManagerId);
    return registration && { ...this.view(registration), slots: registration.slots };
  }

  /** The registered JobMasters, in the order they registered (a lost one is gone at once). */
  jobMasters(): JobMasterView[] {
    return this.jobMasterRegistrations
      .all()
      .map((registration) => this.jobMasterView(registration));
  }

  overview() {
    const registrations = this.registrations.all();
    const slots = registrations.flatMap((registration) => registration.slots);
    return {
      taskmanagers: registrations.length,
      slotsTotal: slots.length,
      slotsAvailable: slots.filter((slot) => slot.free).length,
      ...this.leadershipView(),
    };
  }

  /** Whether it leads, since when (epoch ms) and with which fencing token; null for a standby. */
  leadershipView() {
    const { leader, since, fencingToken } = this.leadership.current;
    return { leader, leaderSince: since, fencingToken };
  }

  /** A TaskManager that has not sent a heartbeat yet was last heard of when it registered. */
  private lastHeartbeatOf(registration: Registration): number {
    const last = this.heartbeats.getLastHeartbeatFrom(registration.id);
    return last > 0 ? last : registration.registeredAt;
  }

  private jobMasterView(registration: JobMasterRegistration): JobMasterView {
    const last = this.jobMasterHeartbeats.getLastHeartbeatFrom(registration.id);
    const lastHeartbeat = last > 0 ? last : registration.registeredAt;
    return {
      id: registration.id,
      address: `${registration.host}:${registration.port}`,
      jobs: [...registration.jobs.keys()],
      lastHeartbeat,
      timeSinceLastHeartbeat: Date.now() - lastHeartbeat,
    };
  }

  private view(registration: Registration): TaskManagerView {
    const lastHeartbeat = this.lastHeartbeatOf(registration);
    return {
      id: registration.id,
      address: `${registration.host}:${registration.port}`,
      slotsNumber: registration.slotsNumber,
      freeSlots: registration.slots.filter((slot) => slot.free).length,
      lastHeartbeat,
      timeSinceLastHeartbeat: Date.now() - lastHeartbeat,
    };
  }
}

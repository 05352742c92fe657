import { Injectable } from '@nestjs/common';
import {
  parseMessage,
  ProtocolError,
  TASK_MANAGER_HEARTBEATS,
  taskManagerHeartbeatSchema,
  type ResourceManagerHeartbeat,
  type TaskManagerHeartbeat,
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
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import { SlotPool } from './slot-pool.service.js';
import { TaskManagerRegistrations } from './task-manager-registrations.service.js';

/**
 * The ResourceManager's handlers of the `taskManagers` heartbeat manager: what its requests carry,
 * which heartbeats count, where the slot reports go, and what a lost TaskManager means.
 */
@Injectable()
export class TaskManagerHeartbeats {
  constructor(
    private readonly registrations: TaskManagerRegistrations,
    private readonly slotPool: SlotPool,
    private readonly leadership: ResourceManagerLeadership,
  ) {}

  /** Every heartbeat request to a TaskManager says which leadership asks, and proves it. */
  @ProvideHeartbeatPayload(TASK_MANAGER_HEARTBEATS)
  heartbeatPayload(taskManagerId: string): ResourceManagerHeartbeat | null {
    // A leader whose lease lapsed steps down right here and lets every TaskManager go: the manager
    // then sends nothing to them (it sends no heartbeat to a target unmonitored meanwhile).
    if (!this.leadership.isLeader()) {
      return null;
    }
    const registration = this.registrations.get(taskManagerId);
    return registration ? this.registrations.proofFor(registration) : null;
  }

  /**
   * Vets every heartbeat before the manager sees it: it must come from a registered TaskManager,
   * carry this ResourceManager's fencing token and that registration's credential. So a stranger
   * cannot keep a dead TaskManager alive by sending heartbeats in its name. The payload is parsed
   * here, once: the parsed form is what `onSlotReport` gets.
   */
  @OnIncomingHeartbeat<unknown, TaskManagerHeartbeat>(TASK_MANAGER_HEARTBEATS)
  vetHeartbeat({ origin, payload }: IncomingHeartbeat): AcceptedHeartbeat<TaskManagerHeartbeat> {
    const heartbeat = parseMessage(taskManagerHeartbeatSchema, payload, 'heartbeat payload');
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

  /** The payload as `vetHeartbeat` parsed it. */
  @OnHeartbeatPayload<TaskManagerHeartbeat>(TASK_MANAGER_HEARTBEATS)
  onSlotReport(taskManagerId: string, payload: TaskManagerHeartbeat): void {
    const registration = this.registrations.get(taskManagerId);
    if (registration) {
      this.slotPool.applyReport(registration, payload.slotReport);
    }
  }

  @OnTargetLost(TASK_MANAGER_HEARTBEATS)
  onTaskManagerLost(taskManagerId: string, reason: TargetLossReason): void {
    this.registrations.release(taskManagerId, reason);
  }
}

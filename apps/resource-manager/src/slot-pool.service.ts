import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  describeError,
  parseMessage,
  ProtocolError,
  slotReportProblem,
  slotReportSchema,
  TaskManagerPatterns,
  type GrantedSlot,
  type SlotAllocation,
  type SlotOwner,
  type SlotReport,
  type SlotStatus,
} from '#cluster';
import { NotLeaderError } from './leadership/resource-manager-leadership.service.js';
import { TaskManagerClients } from './task-manager-clients.service.js';
import {
  TaskManagerRegistrations,
  type Registration,
} from './task-manager-registrations.service.js';

/** A slot request the cluster cannot satisfy (the HTTP API answers it with 409). */
export class SlotRequestError extends Error {}

/** The allocations given to one TaskManager by an allocation. */
type Share = [Registration, SlotAllocation[]];

/**
 * The slots of the registered TaskManagers: all-or-nothing allocation across TaskManagers (undoing
 * the shares already given when one fails), for a job of the HTTP API or of a JobMaster, release
 * by job (or of some allocations of it), and the bookkeeping reconciled from slot reports.
 * Allocations and releases run one at a time.
 */
@Injectable()
export class SlotPool {
  private slotOperations: Promise<void> = Promise.resolve();

  constructor(
    private readonly registrations: TaskManagerRegistrations,
    private readonly clients: TaskManagerClients,
  ) {}

  /**
   * Picks `count` free slots across TaskManagers and asks each TaskManager to allocate its share.
   * All or nothing: if a TaskManager refuses or fails, the shares already given are released again.
   */
  async allocate(
    jobId: string,
    count: number,
  ): Promise<Array<SlotAllocation & { taskManagerId: string }>> {
    const shares = await this.place(jobId, count);
    return shares.flatMap(([registration, allocations]) =>
      allocations.map((allocation) => ({ ...allocation, taskManagerId: registration.id })),
    );
  }

  /**
   * `allocate` for a job of a JobMaster: each allocation command names its `owner` (`jobMaster`), so that
   * its TaskManager watches that JobMaster; each granted slot names where its TaskManager listens,
   * for the JobMaster to heartbeat it there.
   */
  async allocateFor(owner: SlotOwner, jobId: string, count: number): Promise<GrantedSlot[]> {
    const shares = await this.place(jobId, count, owner);
    return shares.flatMap(([registration, allocations]) =>
      allocations.map(({ slotIndex, allocationId }) => ({
        taskManagerId: registration.id,
        host: registration.host,
        port: registration.port,
        slotIndex,
        allocationId,
      })),
    );
  }

  /**
   * Asks every TaskManager holding slots of the job to free them (only those of `allocationIds`,
   * if given); returns how many were freed.
   */
  release(jobId: string, allocationIds?: readonly string[]): Promise<number> {
    const only = allocationIds && new Set(allocationIds);
    const isReleased = (slot: SlotStatus) =>
      slot.jobId === jobId &&
      (!only || (slot.allocationId !== null && only.has(slot.allocationId)));
    return this.oneAtATime(async () => {
      this.registrations.requireLeadership();
      const shares = this.registrations
        .all()
        .map((registration) => [registration, registration.slots.filter(isReleased)] as const)
        .filter(([, slots]) => slots.length > 0);
      const outcomes = await Promise.allSettled(
        shares.map(([registration, slots]) =>
          this.command(registration, TaskManagerPatterns.releaseSlots, {
            jobId,
            ...(only && { allocationIds: slots.map(({ allocationId }) => allocationId) }),
          }),
        ),
      );
      const failure = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failure) {
        throw failureOf(failure.reason, 'Release incomplete');
      }
      return shares.reduce((sum, [, slots]) => sum + slots.length, 0);
    });
  }

  /** How many slots the job holds, as the bookkeeping knows it. */
  heldSlots(jobId: string): number {
    return this.registrations
      .all()
      .reduce((sum, r) => sum + r.slots.filter((slot) => slot.jobId === jobId).length, 0);
  }

  /**
   * Picks `count` free slots across TaskManagers and asks each TaskManager to allocate its share
   * (for `owner`'s job, if given). All or nothing: if a TaskManager refuses or fails, the shares
   * already given are released again.
   */
  private place(jobId: string, count: number, owner?: SlotOwner): Promise<Share[]> {
    return this.oneAtATime(async () => {
      // One queued behind a step-down meets no registrations: it must hear why, not "no free slots".
      this.registrations.requireLeadership();
      const free = this.registrations
        .all()
        .flatMap((registration) =>
          registration.slots.filter((slot) => slot.free).map((slot) => ({ registration, slot })),
        );
      if (free.length < count) {
        throw new SlotRequestError(
          `Not enough free slots: asked for ${count}, ${free.length} free`,
        );
      }
      const shares = new Map<Registration, SlotAllocation[]>();
      for (const { registration, slot } of free.slice(0, count)) {
        const share = shares.get(registration) ?? [];
        share.push({ slotIndex: slot.index, allocationId: randomUUID(), jobId });
        shares.set(registration, share);
      }
      const outcomes = await Promise.allSettled(
        [...shares].map(([registration, allocations]) =>
          this.command(registration, TaskManagerPatterns.allocateSlots, {
            allocations,
            ...(owner && { jobMaster: { ...owner } }),
          }),
        ),
      );
      const failure = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failure) {
        await this.undo(
          jobId,
          [...shares].filter((_, i) => outcomes[i].status === 'fulfilled'),
        );
        throw failureOf(failure.reason, 'Allocation failed');
      }
      return [...shares];
    });
  }

  /** Takes a report if it is newer than what we know and describes exactly the registered slots. */
  applyReport(registration: Registration, report: SlotReport): void {
    const problem = slotReportProblem(report, registration.slotsNumber);
    if (problem) {
      throw new ProtocolError(`${registration.id}: ${problem}`);
    }
    if (report.version < registration.reportVersion) {
      return; // sent before a change we already know of
    }
    registration.reportVersion = report.version;
    registration.slots = report.slots.map((slot) => ({ ...slot }));
  }

  /** Runs slot operations one after the other, so that two requests never pick the same free slot. */
  private oneAtATime<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.slotOperations.then(operation);
    this.slotOperations = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Best effort: frees the given shares of a failed allocation. */
  private async undo(jobId: string, shares: Share[]): Promise<void> {
    await Promise.allSettled(
      shares.map(([registration, allocations]) =>
        this.command(registration, TaskManagerPatterns.releaseSlots, {
          jobId,
          allocationIds: allocations.map(({ allocationId }) => allocationId),
        }),
      ),
    );
  }

  /**
   * Sends a command to a registered TaskManager, with the proof of our leadership (checked here, so
   * a leadership that ends halfway fails the rest of the commands like any failure: undone);
   * its answer is the slot report after the change.
   */
  private async command(registration: Registration, pattern: string, data: object): Promise<void> {
    if (!this.registrations.isCurrent(registration)) {
      // Its client is closed: sending would quietly open a new connection that nobody closes.
      throw new SlotRequestError(`TaskManager ${registration.id} is no longer registered`);
    }
    const proof = this.registrations.proofFor(registration);
    const answer = await this.clients.send(registration.client, pattern, { ...proof, ...data });
    if (this.registrations.isCurrent(registration)) {
      this.applyReport(registration, parseMessage(slotReportSchema, answer, 'slot report'));
    }
  }
}

/**
 * Why a slot request failed: a leadership that ended halfway stays a `NotLeaderError` (answered
 * like a standby's 503); anything else is the request's failure.
 */
function failureOf(reason: unknown, what: string): Error {
  return reason instanceof NotLeaderError
    ? reason
    : new SlotRequestError(`${what}: ${describeError(reason)}`);
}

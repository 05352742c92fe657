import { Injectable } from '@nestjs/common';
import type { GrantedSlot, HeldSlot } from '#cluster';

/** A slot of a job, and whether its TaskManager's answers have listed it yet. */
export interface JobSlot extends GrantedSlot {
  readonly jobId: string;
  confirmed: boolean;
  /** `performance.now()` when the ResourceManager granted it. */
  readonly grantedAt: number;
}

/** A job of this JobMaster: how many slots it wants, and the slots it holds (by allocation id). */
export interface Job {
  readonly jobId: string;
  readonly wanted: number;
  readonly slots: Map<string, JobSlot>;
}

/** One slot of a job, as the HTTP API shows it. */
export interface JobSlotView {
  readonly taskManagerId: string;
  readonly slotIndex: number;
  readonly allocationId: string;
}

/** A job as the HTTP API shows it. */
export interface JobView {
  readonly jobId: string;
  /** `running` with all its slots; `restarting` while it asks for replacements of lost ones. */
  readonly state: 'running' | 'restarting';
  readonly slots: JobSlotView[];
}

/** What a TaskManager's answer did to our slots there. */
export interface Reconciliation {
  /** Our slots it no longer holds: dropped from their jobs. */
  readonly dropped: HeldSlot[];
  /** What it holds for us that no job of ours knows of (a grant we never got, or gave up). */
  readonly unknown: HeldSlot[];
}

/**
 * The JobMaster's jobs and their slots: plain state, shared by the jobs service (which changes
 * it) and the link to the ResourceManager (whose heartbeats and registrations list the jobs).
 */
@Injectable()
export class JobTable {
  private readonly jobs = new Map<string, Job>();

  get size(): number {
    return this.jobs.size;
  }

  jobIds(): string[] {
    return [...this.jobs.keys()];
  }

  all(): Job[] {
    return [...this.jobs.values()];
  }

  get(jobId: string): Job | undefined {
    return this.jobs.get(jobId);
  }

  add(jobId: string, wanted: number, slots: readonly GrantedSlot[]): Job {
    const job: Job = { jobId, wanted, slots: new Map() };
    this.jobs.set(jobId, job);
    this.grant(job, slots);
    return job;
  }

  /** Adds granted slots to a job, unconfirmed until their TaskManager's answer lists them. */
  grant(job: Job, slots: readonly GrantedSlot[]): void {
    const grantedAt = performance.now();
    for (const slot of slots) {
      job.slots.set(slot.allocationId, { ...slot, jobId: job.jobId, confirmed: false, grantedAt });
    }
  }

  remove(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    this.jobs.delete(jobId);
    return job;
  }

  /** Jobs short of slots, in the order they were submitted. */
  short(): Job[] {
    return this.all().filter((job) => job.slots.size < job.wanted);
  }

  /** Every slot held on a TaskManager, as our heartbeats to it list them. */
  heldOn(taskManagerId: string): HeldSlot[] {
    return this.slotsOn(taskManagerId).map(heldSlot);
  }

  /** The TaskManagers holding any slot of ours. */
  taskManagerIds(): Set<string> {
    return new Set(this.allSlots().map((slot) => slot.taskManagerId));
  }

  /** Drops every slot on `taskManagerId` (it was lost); returns them. */
  dropOn(taskManagerId: string): HeldSlot[] {
    return this.drop(this.slotsOn(taskManagerId));
  }

  /**
   * Takes a TaskManager's answer, the allocations it holds for us (`held`): those are confirmed;
   * any other slot we have there is gone (dropped), unless it was never confirmed and was granted
   * less than `graceMs` ago: an answer the TaskManager computed before the allocation reached it
   * may arrive after our grant did (once listed, later answers follow the allocation). So a slot
   * the TaskManager never lists is dropped after `graceMs` too.
   */
  reconcile(taskManagerId: string, held: readonly HeldSlot[], graceMs: number): Reconciliation {
    const now = performance.now();
    const isHeld = (slot: JobSlot) =>
      held.some(
        ({ jobId, allocationId }) => jobId === slot.jobId && allocationId === slot.allocationId,
      );
    const ours = this.slotsOn(taskManagerId);
    for (const slot of ours) {
      if (isHeld(slot)) {
        slot.confirmed = true;
      }
    }
    const dropped = this.drop(
      ours.filter((slot) => !isHeld(slot) && (slot.confirmed || now - slot.grantedAt >= graceMs)),
    );
    const unknown = held.filter(({ jobId, allocationId }) => {
      const slot = this.jobs.get(jobId)?.slots.get(allocationId);
      return slot?.taskManagerId !== taskManagerId;
    });
    return { dropped, unknown };
  }

  view(job: Job): JobView {
    return {
      jobId: job.jobId,
      state: job.slots.size >= job.wanted ? 'running' : 'restarting',
      slots: [...job.slots.values()].map(({ taskManagerId, slotIndex, allocationId }) => ({
        taskManagerId,
        slotIndex,
        allocationId,
      })),
    };
  }

  private allSlots(): JobSlot[] {
    return this.all().flatMap((job) => [...job.slots.values()]);
  }

  private slotsOn(taskManagerId: string): JobSlot[] {
    return this.allSlots().filter((slot) => slot.taskManagerId === taskManagerId);
  }

  private drop(slots: readonly JobSlot[]): HeldSlot[] {
    for (const slot of slots) {
      this.jobs.get(slot.jobId)?.slots.delete(slot.allocationId);
    }
    return slots.map(heldSlot);
  }
}

function heldSlot({ jobId, allocationId, slotIndex }: JobSlot): HeldSlot {
  return { jobId, allocationId, slotIndex };
}

/** "job-a: allocation-1, allocation-2; job-b: allocation-3", for a log line. */
export function describeSlots(slots: readonly HeldSlot[]): string {
  const byJob = new Map<string, string[]>();
  for (const { jobId, allocationId } of slots) {
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), allocationId]);
  }
  return [...byJob].map(([jobId, allocations]) => `${jobId}: ${allocations.join(', ')}`).join('; ');
}

/** "1 slot", "3 slots". */
export const countOf = (n: number, noun = 'slot') => `${n} ${noun}${n === 1 ? '' : 's'}`;

import { Injectable } from '@nestjs/common';
import type { GrantedSlot, HeldSlot } from '#cluster';

/** A slot of a job, and whether its TaskManager's answers have listed it yet. */
export interface JobSlot extends GrantedSlot {
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

/** A job as the HTTP API shows it. */
export interface JobView {
  readonly jobId: string;
  /** `running` with all its slots; `restarting` while it asks for replacements of lost ones. */
  readonly state: 'running' | 'restarting';
  readonly slots: Array<{ taskManagerId: string; slotIndex: number; allocationId: string }>;
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

  grant(job: Job, slots: readonly GrantedSlot[]): void {
    for (const slot of slots) {
      job.slots.set(slot.allocationId, { ...slot, confirmed: false, grantedAt: performance.now() });
    }
  }

  remove(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    this.jobs.delete(jobId);
    return job;
  }

  /** Jobs still short of slots. */
  short(): Job[] {
    return this.all().filter((job) => job.slots.size < job.wanted);
  }

  /** Every slot held on a TaskManager, as its heartbeats list them. */
  heldOn(taskManagerId: string): HeldSlot[] {
    return this.all().flatMap((job) =>
      [...job.slots.values()]
        .filter((slot) => slot.taskManagerId === taskManagerId)
        .map(({ allocationId, slotIndex }) => ({ jobId: job.jobId, allocationId, slotIndex })),
    );
  }

  /** Drops every slot on `taskManagerId` (it was lost); returns how many. */
  dropOn(taskManagerId: string): number {
    return this.drop((slot) => slot.taskManagerId === taskManagerId);
  }

  /**
   * Takes a TaskManager's answer, the allocations it holds for us: those are confirmed; any other
   * slot we have there is gone, unless it was never confirmed and granted less than `graceMs` ago
   * (an answer computed before its allocation reached the TaskManager may arrive after our grant).
   * Returns how many were dropped.
   */
  reconcile(taskManagerId: string, held: ReadonlySet<string>, graceMs: number): number {
    const now = performance.now();
    for (const job of this.jobs.values()) {
      for (const slot of job.slots.values()) {
        if (slot.taskManagerId === taskManagerId && held.has(slot.allocationId)) {
          slot.confirmed = true;
        }
      }
    }
    return this.drop(
      (slot) =>
        slot.taskManagerId === taskManagerId &&
        !held.has(slot.allocationId) &&
        (slot.confirmed || now - slot.grantedAt >= graceMs),
    );
  }

  private drop(doomed: (slot: JobSlot) => boolean): number {
    let dropped = 0;
    for (const job of this.jobs.values()) {
      for (const [allocationId, slot] of job.slots) {
        if (doomed(slot)) {
          job.slots.delete(allocationId);
          dropped += 1;
        }
      }
    }
    return dropped;
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
}

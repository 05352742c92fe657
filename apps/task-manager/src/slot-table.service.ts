import { Inject, Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import {
  sameSecret,
  type HeldSlot,
  type SlotAllocation,
  type SlotOwner,
  type SlotReport,
  type SlotStatus,
} from '#cluster';
import { TASK_MANAGER_CONFIG, type TaskManagerConfig } from './task-manager.config.js';

/**
 * Whose an allocated slot is, when a JobMaster asked for it: kept here, not in the slot report
 * (whose schema is the ResourceManager's view). `confirmed` once the JobMaster has listed it in a
 * heartbeat: only then does a heartbeat that leaves it out mean that the JobMaster let it go.
 */
interface SlotOwnership {
  readonly jobMaster: SlotOwner;
  readonly confirmed: boolean;
}

/** What a JobMaster's heartbeat did to its slots here. */
export interface Reconciliation {
  /** The confirmed slots it no longer listed: freed. */
  readonly freed: HeldSlot[];
  /** The slots still held for it (its heartbeat's answer). */
  readonly held: HeldSlot[];
}

const FREE = (index: number): SlotStatus => ({
  index,
  free: true,
  allocationId: null,
  jobId: null,
});

/** The TaskManager's slots. Every change bumps the version, so the ResourceManager can order reports. */
@Injectable()
export class SlotTable {
  private version = 0;
  private slots: SlotStatus[];
  /** By slot index, next to `slots`: the JobMaster a slot is allocated for (null for a free slot). */
  private owners: (SlotOwnership | null)[];
  private readonly changed = new Subject<SlotReport>();
  /** The report after every change, as it happens (synchronously). */
  readonly changes: Observable<SlotReport> = this.changed.asObservable();

  constructor(@Inject(TASK_MANAGER_CONFIG) config: TaskManagerConfig) {
    this.slots = Array.from({ length: config.slots }, (_, index) => FREE(index));
    this.owners = this.slots.map(() => null);
  }

  report(): SlotReport {
    return { version: this.version, slots: this.slots };
  }

  allocatedCount(): number {
    return this.slots.filter((slot) => !slot.free).length;
  }

  /**
   * All or nothing: every slot named must exist, be free, and be named once. Allocations for a
   * JobMaster's job (`jobMaster`) remember their owner, unconfirmed until the JobMaster lists them.
   */
  allocate(allocations: readonly SlotAllocation[], jobMaster?: SlotOwner): SlotReport {
    const named = new Set<number>();
    for (const { slotIndex } of allocations) {
      if (!this.slots[slotIndex]?.free || named.has(slotIndex)) {
        throw new Error(`Slot ${slotIndex} does not exist, is not free, or is named twice`);
      }
      named.add(slotIndex);
    }
    const next = [...this.slots];
    const owners = [...this.owners];
    for (const { slotIndex, allocationId, jobId } of allocations) {
      next[slotIndex] = { index: slotIndex, free: false, allocationId, jobId };
      owners[slotIndex] = jobMaster ? { jobMaster: { ...jobMaster }, confirmed: false } : null;
    }
    return this.update(next, owners);
  }

  /** Frees the job's slots, or only the given allocations of it. */
  release(jobId: string, allocationIds?: readonly string[]): SlotReport {
    return this.free(
      (slot) =>
        slot.jobId === jobId &&
        (!allocationIds || allocationIds.includes(slot.allocationId as string)),
    );
  }

  /** Frees everything (the ResourceManager dropped this TaskManager, and its allocations with it). */
  releaseAll(): SlotReport {
    return this.free(() => true);
  }

  /** The JobMasters that own slots here (whose heartbeats the TaskManager takes). */
  jobMasterIds(): Set<string> {
    return new Set(this.owners.flatMap((owner) => (owner ? [owner.jobMaster.jobMasterId] : [])));
  }

  /** The jobs a JobMaster holds slots of here, in slot order, each once. */
  jobsOf(jobMasterId: string): string[] {
    return [...new Set(this.slotsOf(jobMasterId).map(({ slot }) => slot.jobId as string))];
  }

  /**
   * Whether `owner` (a JobMaster's id and the secret its slot requests gave) owns a slot here: a
   * heartbeat in its name must carry the secret of one of them.
   */
  isOwner(owner: SlotOwner): boolean {
    return this.slotsOf(owner.jobMasterId, owner.heartbeatSecret).length > 0;
  }

  /**
   * The slots held for the JobMaster's jobs. With its secret, only those its requests under that
   * secret got (a restarted JobMaster with the same id has another, and does not know the slots of
   * its former run).
   */
  heldFor(jobMasterId: string, heartbeatSecret?: string): HeldSlot[] {
    return this.slotsOf(jobMasterId, heartbeatSecret).map(({ slot }) => heldSlot(slot));
  }

  /**
   * Takes a JobMaster's heartbeat, the allocations it holds here (`listed`): of its slots under that
   * secret, frees the confirmed ones it no longer lists (it let them go) and confirms the listed
   * ones. One it has not listed yet is kept: just allocated, the JobMaster may not have learnt it.
   * A listed allocation this TaskManager does not hold is left out of the answer (`held`), which
   * tells the JobMaster it is gone. The version moves only if a slot was freed.
   */
  reconcile(owner: SlotOwner, listed: readonly HeldSlot[]): Reconciliation {
    const isListed = (slot: SlotStatus) =>
      listed.some(
        ({ jobId, allocationId }) => jobId === slot.jobId && allocationId === slot.allocationId,
      );
    const mine = this.slotsOf(owner.jobMasterId, owner.heartbeatSecret);
    const freed = mine.filter(({ slot, ownership }) => ownership.confirmed && !isListed(slot));
    const owners = [...this.owners];
    for (const { slot, ownership } of mine) {
      if (!ownership.confirmed && isListed(slot)) {
        owners[slot.index] = { ...ownership, confirmed: true };
      }
    }
    this.owners = owners;
    if (freed.length > 0) {
      const indexes = new Set(freed.map(({ slot }) => slot.index));
      this.free((slot) => indexes.has(slot.index));
    }
    return {
      freed: freed.map(({ slot }) => heldSlot(slot)),
      held: this.heldFor(owner.jobMasterId, owner.heartbeatSecret),
    };
  }

  /** Frees every slot of the JobMaster's jobs (it is lost); returns the slots freed. */
  releaseJobMaster(jobMasterId: string): HeldSlot[] {
    const freed = this.heldFor(jobMasterId);
    if (freed.length > 0) {
      const indexes = new Set(freed.map(({ slotIndex }) => slotIndex));
      this.free((slot) => indexes.has(slot.index));
    }
    return freed;
  }

  /**
   * Frees the slots of `owner.jobMasterId` given under another secret: a secret is per run of a
   * JobMaster, so heartbeats with this one mean that the run those slots were for is over (a
   * restart under the same id). Returns the slots freed.
   */
  releaseOtherRuns(owner: SlotOwner): HeldSlot[] {
    const current = new Set(
      this.slotsOf(owner.jobMasterId, owner.heartbeatSecret).map(({ slot }) => slot.index),
    );
    const freed = this.slotsOf(owner.jobMasterId)
      .filter(({ slot }) => !current.has(slot.index))
      .map(({ slot }) => heldSlot(slot));
    if (freed.length > 0) {
      const indexes = new Set(freed.map(({ slotIndex }) => slotIndex));
      this.free((slot) => indexes.has(slot.index));
    }
    return freed;
  }

  private slotsOf(
    jobMasterId: string,
    heartbeatSecret?: string,
  ): { slot: SlotStatus; ownership: SlotOwnership }[] {
    return this.slots.flatMap((slot) => {
      const ownership = this.owners[slot.index];
      return ownership &&
        ownership.jobMaster.jobMasterId === jobMasterId &&
        (heartbeatSecret === undefined ||
          sameSecret(heartbeatSecret, ownership.jobMaster.heartbeatSecret))
        ? [{ slot, ownership }]
        : [];
    });
  }

  private free(freed: (slot: SlotStatus) => boolean): SlotReport {
    return this.update(
      this.slots.map((slot) => (freed(slot) ? FREE(slot.index) : slot)),
      this.owners.map((owner, index) => (freed(this.slots[index]) ? null : owner)),
    );
  }

  private update(slots: SlotStatus[], owners: (SlotOwnership | null)[]): SlotReport {
    this.slots = slots;
    this.owners = owners;
    this.version += 1;
    const report = this.report();
    this.changed.next(report);
    return report;
  }
}

function heldSlot(slot: SlotStatus): HeldSlot {
  return {
    jobId: slot.jobId as string,
    allocationId: slot.allocationId as string,
    slotIndex: slot.index,
  };
}

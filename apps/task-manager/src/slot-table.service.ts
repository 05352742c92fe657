import { Inject, Injectable } from '@nestjs/common';
import type { SlotAllocation, SlotReport, SlotStatus } from '#cluster';
import { TASK_MANAGER_CONFIG, type TaskManagerConfig } from './task-manager.config.js';

/** The TaskManager's slots. Every change bumps the version, so the ResourceManager can order reports. */
@Injectable()
export class SlotTable {
  private version = 0;
  private slots: SlotStatus[];

  constructor(@Inject(TASK_MANAGER_CONFIG) config: TaskManagerConfig) {
    this.slots = Array.from({ length: config.slots }, (_, index) => ({
      index,
      free: true,
      allocationId: null,
      jobId: null,
    }));
  }

  report(): SlotReport {
    return { version: this.version, slots: this.slots };
  }

  allocatedCount(): number {
    return this.slots.filter((slot) => !slot.free).length;
  }

  /** All or nothing: every slot named must exist, be free, and be named once. */
  allocate(allocations: readonly SlotAllocation[]): SlotReport {
    const named = new Set<number>();
    for (const { slotIndex } of allocations) {
      if (!this.slots[slotIndex]?.free || named.has(slotIndex)) {
        throw new Error(`Slot ${slotIndex} does not exist, is not free, or is named twice`);
      }
      named.add(slotIndex);
    }
    const next = [...this.slots];
    for (const { slotIndex, allocationId, jobId } of allocations) {
      next[slotIndex] = { index: slotIndex, free: false, allocationId, jobId };
    }
    return this.update(next);
  }

  /** Frees the job's slots, or only the given allocations of it. */
  release(jobId: string, allocationIds?: readonly string[]): SlotReport {
    const freed = (slot: SlotStatus) =>
      slot.jobId === jobId &&
      (!allocationIds || allocationIds.includes(slot.allocationId as string));
    return this.update(
      this.slots.map((slot) =>
        freed(slot) ? { index: slot.index, free: true, allocationId: null, jobId: null } : slot,
      ),
    );
  }

  /** Frees everything (the ResourceManager dropped this TaskManager, and its allocations with it). */
  releaseAll(): SlotReport {
    return this.update(
      this.slots.map((slot) => ({
        index: slot.index,
        free: true,
        allocationId: null,
        jobId: null,
      })),
    );
  }

  private update(slots: SlotStatus[]): SlotReport {
    this.slots = slots;
    this.version += 1;
    return this.report();
  }
}

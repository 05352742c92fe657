export type LossReason = 'timeout' | 'unreachable';

export interface Detection {
  readonly reason: LossReason;
  /** From the kill to the loss, in ms. */
  readonly latency: number;
}

/**
 * The soak's bookkeeping for one kill at a time: which targets of the killed host must still be
 * declared lost, and how each was. A host starts again with the same target ids, so every kill
 * starts from an empty record: a later kill must not count an earlier kill's detections.
 */
export class KillDetections {
  private readonly killedAt = new Map<string, number>();
  private readonly found = new Map<string, Detection>();

  /** A host was killed at `at`: each of its targets `ids` must be declared lost. */
  begin(ids: readonly string[], at: number): void {
    this.found.clear();
    for (const id of ids) {
      this.killedAt.set(id, at);
    }
  }

  /** A target was declared lost at `at`: true if that was expected, false for a false alarm. */
  record(id: string, reason: LossReason, at: number): boolean {
    const killedAt = this.killedAt.get(id);
    if (killedAt === undefined) {
      return false;
    }
    this.killedAt.delete(id);
    this.found.set(id, { reason, latency: at - killedAt });
    return true;
  }

  /** Whether some of `ids` are still to be declared lost. */
  awaiting(ids: readonly string[]): boolean {
    return ids.some((id) => this.killedAt.has(id));
  }

  /** Ends the kill of `ids`: its detections, and the targets missed (no longer expected). */
  end(ids: readonly string[]): { found: Detection[]; missed: string[] } {
    const missed = ids.filter((id) => this.killedAt.has(id));
    for (const id of missed) {
      this.killedAt.delete(id);
    }
    return { found: ids.flatMap((id) => this.found.get(id) ?? []), missed };
  }
}

/**
 * The ceiling: the largest number of targets one library monitor sustains at the configured
 * interval, searched upward from the scale runs in bounded steps and time.
 */
import { readFileSync } from 'node:fs';
import { TARGETS_PER_LOAD } from './fleet.js';
import { interval, log, plan, warmUpMs } from './plan.js';
import { libraryRun, type ScaleRow } from './scale.js';
import { round } from './stats.js';

/**
 * A size passes with no false loss and at least this share of the expected heartbeats/s
 * (targets ÷ interval). Not 99.9 %: the sender's schedule (the next round `interval` after the
 * start of one, by a timer that fires late) makes even the raw floor's period 1,001 to 1,005 ms
 * here, and the rate is measured to about ±0.3 %; a monitor that cannot keep up runs its rounds
 * back to back and falls well below 99 %.
 */
export const MIN_RATE_SHARE = 0.99;
/** Files a process needs besides its sockets (stdio, IPC, epoll…). */
const FILE_RESERVE = 100;

/** Files the busiest process needs: the monitor one per target, a load process two per target. */
const filesNeeded = (targets: number) =>
  Math.max(targets, 2 * Math.min(targets, TARGETS_PER_LOAD)) + FILE_RESERVE;

export type Limit = 'false timeouts' | 'rate' | 'error' | 'fd limit' | 'time budget' | 'steps';

export interface CeilingStep {
  readonly row: ScaleRow;
  /** Why the size failed; null if it passed. */
  readonly failure: { readonly limit: Limit; readonly detail: string } | null;
}

export interface Ceiling {
  /** The largest size that passed, every size below it included (0 if none did). */
  readonly targets: number;
  /** The sizes tried by the search, above the scale runs. */
  readonly steps: CeilingStep[];
  /** What stopped the search above `targets`; null when it was not searched (`--quick`). */
  readonly limitedBy: { readonly limit: Limit; readonly detail: string } | null;
}

export const expectedPerSecond = (targets: number) => (targets * 1_000) / interval;

export function judge(row: ScaleRow): CeilingStep {
  const share = row.result.perSecond / expectedPerSecond(row.targets);
  if (row.falseLosses > 0) {
    return { row, failure: { limit: 'false timeouts', detail: `${row.falseLosses} false losses` } };
  }
  if (share < MIN_RATE_SHARE) {
    const detail = `${round(share * 100, 2)} % of the expected heartbeats/s`;
    return { row, failure: { limit: 'rate', detail } };
  }
  return { row, failure: null };
}

/** The soft limit on open files, which the child processes inherit (Linux); null if unknown. */
function openFileLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}

export async function searchCeiling(scaleRows: readonly ScaleRow[]): Promise<Ceiling> {
  let targets = 0;
  for (const step of scaleRows.map(judge)) {
    if (step.failure) {
      return { targets, steps: [], limitedBy: at(step.row.targets, step.failure) };
    }
    targets = step.row.targets;
  }
  if (!plan.ceiling.search) {
    return { targets, steps: [], limitedBy: null };
  }
  const steps: CeilingStep[] = [];
  const files = openFileLimit();
  const started = Date.now();
  for (const size of plan.ceiling.steps) {
    if (files !== null && filesNeeded(size) > files) {
      const detail = `needs about ${filesNeeded(size)} open files in one process, limit ${files}`;
      return { targets, steps, limitedBy: at(size, { limit: 'fd limit', detail }) };
    }
    // Start-up, warm-up, the window and the stop, with room to spare.
    const needMs = 15_000 + warmUpMs(interval, size) + plan.ceiling.windowMs;
    if (Date.now() - started + needMs > plan.ceiling.budgetMs) {
      const detail = `not tried: over the search's ${plan.ceiling.budgetMs / 1_000} s`;
      return { targets, steps, limitedBy: at(size, { limit: 'time budget', detail }) };
    }
    log(`ceiling: trying ${size} targets`);
    const step = await libraryRun(size, plan.ceiling.windowMs).then(judge, (error: unknown) => ({
      row: null,
      failure: { limit: 'error' as const, detail: String(error) },
    }));
    if (step.row) {
      steps.push(step);
    }
    if (step.failure) {
      return { targets, steps, limitedBy: at(size, step.failure) };
    }
    targets = size;
  }
  const detail = `${plan.ceiling.steps.length} steps, none failed`;
  return { targets, steps, limitedBy: { limit: 'steps', detail } };
}

const at = (size: number, failure: { limit: Limit; detail: string }) => ({
  limit: failure.limit,
  detail: `${size} targets: ${failure.detail}`,
});

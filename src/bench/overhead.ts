/**
 * Overhead: CPU per heartbeat (all processes) of the library against the plain Nest floor and the
 * raw floor, at about 1,000 heartbeats per second at every size.
 */
import type { WindowResult } from './fleet.js';
import { log, monitorConfig, plan, warmUp, withFleet } from './plan.js';
import type { MonitorMode } from './protocol.js';

type OverheadMode = Extract<MonitorMode, 'library' | 'plain' | 'raw'>;
const MODES: readonly OverheadMode[] = ['library', 'plain', 'raw'];

export interface OverheadRow {
  readonly targets: number;
  /** Per mode, the run with the median CPU per heartbeat. */
  readonly runs: Record<OverheadMode, WindowResult>;
  /** Medians over the triples of library ÷ plain Nest and library ÷ raw, CPU per heartbeat. */
  readonly plainRatio: number;
  readonly rawRatio: number;
}

const median = <T>(items: T[], key: (item: T) => number): T =>
  items.toSorted((a, b) => key(a) - key(b))[Math.floor(items.length / 2)];

const cpu = (result: WindowResult) => result.cpuMicrosPerRound;

export async function measureOverhead(): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  for (const targets of plan.overheadSizes) {
    // About 1,000 heartbeats per second at every size: enough to measure CPU by, and the same
    // rate for all three, well below saturation (rates differ in batching, and so in cost).
    const intervalMs = targets;
    // Single runs are noisy on a small machine (±20 %): the three modes alternate, each triple in
    // a rotated order so that no mode always runs first, and medians are kept.
    const triples: Record<OverheadMode, WindowResult>[] = [];
    for (let triple = 0; triple < plan.overheadTriples; triple += 1) {
      const runs: Partial<Record<OverheadMode, WindowResult>> = {};
      for (let turn = 0; turn < MODES.length; turn += 1) {
        const mode = MODES[(triple + turn) % MODES.length];
        runs[mode] = await overheadRun(mode, targets, intervalMs);
      }
      triples.push(runs as Record<OverheadMode, WindowResult>);
    }
    const ratio = (over: OverheadMode) => (runs: Record<OverheadMode, WindowResult>) =>
      cpu(runs.library) / cpu(runs[over]);
    rows.push({
      targets,
      runs: {
        library: median(
          triples.map((runs) => runs.library),
          cpu,
        ),
        plain: median(
          triples.map((runs) => runs.plain),
          cpu,
        ),
        raw: median(
          triples.map((runs) => runs.raw),
          cpu,
        ),
      },
      plainRatio: ratio('plain')(median(triples, ratio('plain'))),
      rawRatio: ratio('raw')(median(triples, ratio('raw'))),
    });
  }
  return rows;
}

function overheadRun(mode: OverheadMode, targets: number, intervalMs: number) {
  log(`overhead: ${mode}, ${targets} target(s), a heartbeat every ${intervalMs} ms per target`);
  const config = { ...monitorConfig(mode, intervalMs), timeout: 60_000, requestTimeout: 10_000 };
  return withFleet(config, targets, async (fleet) => {
    await warmUp(intervalMs, targets);
    return fleet.measure(plan.overheadWindowMs);
  });
}

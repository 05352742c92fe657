/**
 * Observability: what watching costs. CPU per heartbeat of the library alone, with one subscriber
 * to its event stream, and with its Prometheus metrics (scraped every second), side by side in
 * interleaved triples at about 1,000 heartbeats per second.
 */
import type { WindowResult } from './fleet.js';
import { log, monitorConfig, plan, warmUp, withFleet } from './plan.js';
import type { MonitorConfig } from './protocol.js';

export type Watcher = 'none' | 'events' | 'metrics';
const WATCHERS: readonly Watcher[] = ['none', 'events', 'metrics'];

export interface ObservabilityRow {
  readonly targets: number;
  /** Per watcher, the run with the median CPU per heartbeat. */
  readonly runs: Record<Watcher, WindowResult>;
  /** Medians over the triples of (library watched) ÷ (library alone), CPU per heartbeat. */
  readonly eventsRatio: number;
  readonly metricsRatio: number;
}

const median = <T>(items: T[], key: (item: T) => number): T =>
  items.toSorted((a, b) => key(a) - key(b))[Math.floor(items.length / 2)];

const cpu = (result: WindowResult) => result.cpuMicrosPerRound;

export async function measureObservability(): Promise<ObservabilityRow[]> {
  const rows: ObservabilityRow[] = [];
  for (const targets of plan.observabilitySizes) {
    const intervalMs = targets; // about 1,000 heartbeats per second, as in the overhead section
    const triples: Record<Watcher, WindowResult>[] = [];
    for (let triple = 0; triple < plan.overheadTriples; triple += 1) {
      const runs: Partial<Record<Watcher, WindowResult>> = {};
      for (let turn = 0; turn < WATCHERS.length; turn += 1) {
        const watcher = WATCHERS[(triple + turn) % WATCHERS.length];
        runs[watcher] = await observedRun(watcher, targets, intervalMs);
      }
      triples.push(runs as Record<Watcher, WindowResult>);
    }
    const ratio = (over: Watcher) => (runs: Record<Watcher, WindowResult>) =>
      cpu(runs[over]) / cpu(runs.none);
    const medianRun = (watcher: Watcher) =>
      median(
        triples.map((runs) => runs[watcher]),
        cpu,
      );
    rows.push({
      targets,
      runs: { none: medianRun('none'), events: medianRun('events'), metrics: medianRun('metrics') },
      eventsRatio: ratio('events')(median(triples, ratio('events'))),
      metricsRatio: ratio('metrics')(median(triples, ratio('metrics'))),
    });
  }
  return rows;
}

function observedRun(watcher: Watcher, targets: number, intervalMs: number) {
  log(`observability: library watched by ${watcher}, ${targets} target(s), every ${intervalMs} ms`);
  const config: MonitorConfig = {
    ...monitorConfig('library', intervalMs),
    timeout: 60_000,
    requestTimeout: 10_000,
    ...(watcher === 'none' ? {} : { observe: watcher }),
  };
  return withFleet(config, targets, async (fleet) => {
    await warmUp(intervalMs, targets);
    return fleet.measure(plan.overheadWindowMs);
  });
}

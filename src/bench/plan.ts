/** The command line, what a run measures at which sizes, and the helpers every section uses. */
import { parseArgs } from 'node:util';
import { Fleet } from './fleet.js';
import type { MonitorConfig, MonitorMode, NetworkDelay } from './protocol.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string' },
    'window-ms': { type: 'string' },
    'interval-ms': { type: 'string' },
    'timeout-ms': { type: 'string' },
    section: { type: 'string', default: 'all' },
  },
});

/** Sections that run on their own with `--section <name>`; `all` (the default) runs every one. */
const SECTIONS = ['all', 'transports', 'takeover', 'detectors'] as const;
export type Section = (typeof SECTIONS)[number];

function sectionOf(text: string): Section {
  if (!(SECTIONS as readonly string[]).includes(text)) {
    throw new Error(`--section must be one of ${SECTIONS.join(', ')}, got "${text}"`);
  }
  return text as Section;
}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) {
    return fallback;
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} must be a positive integer, got "${text}"`);
  }
  return value;
}

export const quick = args.quick === true;
export const section = sectionOf(args.section ?? 'all');
export const interval = positiveInteger('interval-ms', args['interval-ms'], 1_000);
export const timeout = positiveInteger('timeout-ms', args['timeout-ms'], 5_000);
const maxTargets = positiveInteger('targets', args.targets, quick ? 1_000 : 10_000);
export const windowMs = positiveInteger('window-ms', args['window-ms'], quick ? 5_000 : 20_000);
export const THRESHOLD = 2;

const below = (candidates: number[]) => candidates.filter((size) => size < maxTargets);
const detectionSize = Math.min(maxTargets, 1_000);
const detectorTargets = Math.min(quick ? 50 : 200, maxTargets);
export const plan = {
  overheadSizes: [...new Set([1, 100, 1_000].map((size) => Math.min(size, maxTargets)))],
  overheadWindowMs: Math.min(windowMs, quick ? 2_000 : 5_000),
  /** The library alone and watched (events, metrics): at about 1,000 heartbeats per second. */
  observabilitySizes: [Math.min(1_000, maxTargets)],
  /** Library, plain and raw runs alternate this many times; medians are kept. */
  overheadTriples: quick ? 1 : 3,
  scaleSizes: quick ? [maxTargets] : [...below([1_000, 5_000]), maxTargets],
  /** Targets killed in each way (hung, refusing) in a detection run. */
  kills: Math.max(1, Math.min(quick ? 25 : 100, Math.floor(detectionSize / 4))),
  /** Kills happen at random moments over this span. */
  killSpreadMs: 3 * interval,
  detectionSize,
  /**
   * Transports: this many receivers at about 1,000 heartbeats per second (interval = N ms), each
   * transport in turn, rounds of all four in rotated order; the figures are medians.
   */
  transports: {
    targets: Math.min(10, maxTargets),
    rounds: quick ? 1 : 3,
    windowMs: Math.min(windowMs, quick ? 1_000 : 3_000),
  },
  /**
   * Detectors: a fixed-timeout manager and two phi-accrual ones (Akka's defaults; and
   * `acceptableHeartbeatPause` 500 ms) in one monitor watch the same targets at the run's interval
   * and timeout; each run kills `kills` of them (hung), at random moments within one interval.
   * Runs alternate clean loopback and the network delay, `rounds` of each (3: the managers' order
   * rotates through all three places).
   */
  detectors: {
    targets: detectorTargets,
    kills: Math.max(1, Math.min(quick ? 10 : 25, Math.floor(detectorTargets / 4))),
    rounds: quick ? 1 : 3,
    /** After the warm-up, before the kills: a window in which every loss is false. */
    quietMs: (quick ? 2 : 5) * interval,
    killSpreadMs: interval,
    /** The failure tests' network-delay fault (test/cluster/network-delay.e2e-spec.ts), each way. */
    delay: { latencyMs: 100, jitterMs: 100 } satisfies NetworkDelay,
  },
  /** Ceiling search: sizes above the largest scale size, in steps of a quarter of it. */
  ceiling: {
    search: !quick,
    steps: [1.25, 1.5, 1.75, 2].map((factor) => Math.round(maxTargets * factor)),
    windowMs,
    budgetMs: 150_000,
  },
};

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The heartbeat settings under test; overhead runs use a short interval to get many rounds. */
export function monitorConfig(mode: MonitorMode, intervalMs = interval): MonitorConfig {
  return {
    mode,
    interval: intervalMs,
    timeout: Math.max(timeout, intervalMs),
    rpcFailureThreshold: THRESHOLD,
    requestTimeout: intervalMs,
  };
}

export async function withFleet<T>(
  config: MonitorConfig,
  targets: number,
  use: (fleet: Fleet) => Promise<T>,
  options: { delay?: NetworkDelay } = {},
): Promise<T> {
  const fleet = await Fleet.start(config, targets, options);
  try {
    return await use(fleet);
  } finally {
    await fleet.stop();
  }
}

/**
 * Warm-up: every connection is made and the first rounds are done before measuring. A large
 * fleet's first rounds, slowed by its connections, are made up for over several more (about 5 s
 * at 15,000 targets here), which would read as a rate above targets ÷ interval.
 */
export const warmUpMs = (intervalMs: number, targets: number) => 3 * intervalMs + 500 + targets / 3;
export const warmUp = (intervalMs: number, targets: number) => sleep(warmUpMs(intervalMs, targets));

/**
 * `npm run bench [-- --quick] [-- --targets N]`: the library's overhead against the plain Nest
 * TCP transport, its scale, its detection accuracy, and the @nestjs/terminus poll, measured in one
 * run on this machine. Progress goes to stderr; stdout gets the tables and, as its last line, one
 * JSON object with the headline figures.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Fleet, type LossReport, type WindowResult } from './fleet.js';
import type { KillMode, MonitorConfig } from './protocol.js';
import { distribution, round, sample, type Distribution } from './stats.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string' },
    'window-ms': { type: 'string' },
    'interval-ms': { type: 'string' },
    'timeout-ms': { type: 'string' },
  },
});

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

const quick = args.quick === true;
const interval = positiveInteger('interval-ms', args['interval-ms'], 1_000);
const timeout = positiveInteger('timeout-ms', args['timeout-ms'], 5_000);
const maxTargets = positiveInteger('targets', args.targets, quick ? 1_000 : 10_000);
const windowMs = positiveInteger('window-ms', args['window-ms'], quick ? 5_000 : 20_000);
const sizes = (candidates: number[]) => {
  const kept = candidates.filter((size) => size < maxTargets);
  return [...kept, maxTargets];
};
const plan = {
  overheadSizes: [...new Set([1, 100, 1_000].map((size) => Math.min(size, maxTargets)))],
  overheadWindowMs: Math.min(windowMs, quick ? 2_000 : 5_000),
  /** Library and floor runs alternate this many times; the pair with the median ratio is kept. */
  overheadPairs: quick ? 1 : 3,
  scaleSizes: quick ? [maxTargets] : sizes([1_000, 5_000]),
  /** Targets killed in each way (hung, refusing) in the detection runs. */
  kills: Math.max(1, Math.min(quick ? 25 : 100, Math.floor(Math.min(maxTargets, 1_000) / 4))),
  /** Kills happen at random moments over this span. */
  killSpreadMs: 3 * interval,
  detectionSize: Math.min(maxTargets, 1_000),
};
const THRESHOLD = 2;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The heartbeat settings under test; overhead runs use a short interval to get many rounds. */
function monitorConfig(mode: MonitorConfig['mode'], intervalMs = interval): MonitorConfig {
  return {
    mode,
    interval: intervalMs,
    timeout: Math.max(timeout, intervalMs),
    rpcFailureThreshold: THRESHOLD,
    requestTimeout: intervalMs,
  };
}

async function withFleet<T>(
  config: MonitorConfig,
  targets: number,
  use: (fleet: Fleet) => Promise<T>,
): Promise<T> {
  const fleet = await Fleet.start(config, targets);
  try {
    return await use(fleet);
  } finally {
    await fleet.stop();
  }
}

/** Warm-up: every connection is made and the first rounds are done before measuring. */
const warmUp = (intervalMs: number, targets: number) => sleep(2 * intervalMs + 500 + targets / 10);

// --- 1. Overhead: the library against the plain Nest transport, per round, both processes ------

interface OverheadRow {
  readonly targets: number;
  readonly library: WindowResult;
  readonly floor: WindowResult;
  readonly ratio: number;
}

async function measureOverhead(): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  for (const targets of plan.overheadSizes) {
    // About 1,000 rounds per second at every size: enough to measure CPU by, and the same rate
    // for both, well below saturation (rates differ in batching, and so in cost per round).
    const intervalMs = targets;
    // One pair of runs is noisy on a small machine (±20 %): alternate, and keep the median pair.
    const pairs: OverheadRow[] = [];
    for (let pair = 0; pair < plan.overheadPairs; pair += 1) {
      const library = await overheadRun('library', targets, intervalMs);
      const floor = await overheadRun('floor', targets, intervalMs);
      pairs.push({
        targets,
        library,
        floor,
        ratio: library.cpuMicrosPerRound / floor.cpuMicrosPerRound,
      });
    }
    pairs.sort((a, b) => a.ratio - b.ratio);
    rows.push(pairs[Math.floor(pairs.length / 2)]);
  }
  return rows;
}

function overheadRun(mode: 'library' | 'floor', targets: number, intervalMs: number) {
  log(`overhead: ${mode}, ${targets} target(s), a round every ${intervalMs} ms per target`);
  const config = { ...monitorConfig(mode, intervalMs), timeout: 60_000, requestTimeout: 10_000 };
  return withFleet(config, targets, async (fleet) => {
    await warmUp(intervalMs, targets);
    return fleet.measure(plan.overheadWindowMs);
  });
}

// --- 2 and 3. Scale, and detection accuracy on the smallest scale run ------------------------------

interface ScaleRow {
  readonly targets: number;
  readonly result: WindowResult;
  readonly falseLosses: number;
}

interface Detection {
  /** Hung targets: declared-loss time − last heartbeat − timeout. */
  readonly timeoutError: Distribution;
  /** Hung targets: declared-loss time − kill time. */
  readonly hungKillToLoss: Distribution;
  /** Refusing targets: declared-loss time − kill time. */
  readonly refusedKillToLoss: Distribution;
  /** Killed targets not declared lost by the end of the wait, or declared lost the other way. */
  readonly missed: number;
  readonly falseLosses: number;
}

async function measureScale(): Promise<{ rows: ScaleRow[]; detection: Detection }> {
  const rows: ScaleRow[] = [];
  let detection: Detection | undefined;
  for (const targets of plan.scaleSizes) {
    log(`scale: library, ${targets} targets, interval ${interval} ms, timeout ${timeout} ms`);
    await withFleet(monitorConfig('library'), targets, async (fleet) => {
      await warmUp(interval, targets);
      const result = await fleet.measure(windowMs);
      rows.push({ targets, result, falseLosses: fleet.losses.length });
      if (targets === plan.detectionSize) {
        log(`detection: killing ${plan.kills} hung and ${plan.kills} refusing targets`);
        detection = await detect(fleet, timeout + 3 * interval);
      }
    });
  }
  if (!detection) {
    log(`detection: library, ${plan.detectionSize} targets`);
    detection = await withFleet(monitorConfig('library'), plan.detectionSize, async (fleet) => {
      await warmUp(interval, plan.detectionSize);
      return detect(fleet, timeout + 3 * interval);
    });
  }
  return { rows, detection };
}

/** Kills targets at random moments, waits up to `waitMs` after the last kill, and reports. */
async function detect(fleet: Fleet, waitMs: number): Promise<Detection> {
  const lossesBefore = fleet.losses.length;
  const victims = sample(fleet.targets, 2 * plan.kills).map((target, index) => ({
    id: target.id,
    mode: (index < plan.kills ? 'hang' : 'refuse') as KillMode,
  }));
  const timers = victims.map(({ id, mode }) =>
    setTimeout(() => fleet.kill(id, mode), Math.random() * plan.killSpreadMs),
  );
  const deadline = Date.now() + plan.killSpreadMs + waitMs;
  const modeOf = new Map(victims.map(({ id, mode }) => [id, mode]));
  const declared = () => fleet.losses.slice(lossesBefore);
  while (
    Date.now() < deadline &&
    declared().filter((loss) => modeOf.has(loss.id)).length < victims.length
  ) {
    await sleep(50);
  }
  timers.forEach(clearTimeout);
  const killedAt = new Map(fleet.kills.map((kill) => [kill.id, kill.at]));
  const losses = declared();
  const of = (mode: KillMode, kind: LossReport['kind']) =>
    losses.filter((loss) => modeOf.get(loss.id) === mode && loss.kind === kind);
  const hung = of('hang', 'timeout');
  // The library declares a refusing target unreachable; a terminus check simply fails.
  const refused = [...of('refuse', 'unreachable'), ...of('refuse', 'check-failed')];
  const sinceKill = (loss: LossReport) => loss.at - (killedAt.get(loss.id) ?? Number.NaN);
  return {
    timeoutError: distribution(hung.map((loss) => loss.at - loss.lastHeartbeat - timeout)),
    hungKillToLoss: distribution(hung.map(sinceKill)),
    refusedKillToLoss: distribution(refused.map(sinceKill)),
    missed: victims.length - hung.length - refused.length,
    falseLosses: losses.filter((loss) => !modeOf.has(loss.id)).length,
  };
}

// --- 4. The usual alternative: a terminus ping check of every target at the same interval ----------

interface TerminusResult {
  readonly targets: number;
  readonly result: WindowResult;
  /** Refusing targets: first failed check − kill time. */
  readonly refusedKillToLoss: Distribution;
  /** Hung targets a ping check noticed (it only connects, and a hung process still accepts). */
  readonly hungDetected: number;
}

async function measureTerminus(): Promise<TerminusResult> {
  const targets = plan.detectionSize;
  log(`terminus: pingCheck of ${targets} targets every ${interval} ms`);
  return withFleet(monitorConfig('terminus'), targets, async (fleet) => {
    await warmUp(interval, targets);
    const result = await fleet.measure(Math.min(windowMs, 10_000));
    const detection = await detect(fleet, 3 * interval);
    const hungIds = new Set(
      fleet.kills.filter((kill) => kill.mode === 'hang').map((kill) => kill.id),
    );
    return {
      targets,
      result,
      refusedKillToLoss: detection.refusedKillToLoss,
      hungDetected: fleet.losses.filter((loss) => hungIds.has(loss.id)).length,
    };
  });
}

// --- Report -----------------------------------------------------------------------------------------

function table(title: string, header: string[], rows: (string | number | null)[][]): string {
  const cells = [
    header,
    ...rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell)))),
  ];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  const line = (row: string[]) =>
    row.map((cell, column) => cell.padStart(widths[column])).join('  ');
  return [title, line(cells[0]), ...cells.slice(1).map(line), ''].join('\n');
}

const cpuPercent = ({ cpuMicros, elapsedMs }: { cpuMicros: number; elapsedMs: number }) =>
  (cpuMicros / (elapsedMs * 1_000)) * 100;
const perSecond = (result: WindowResult) => result.rounds / (result.monitor.elapsedMs / 1_000);
const ms = (value: number) => round(value, 1);

const started = Date.now();
log(
  `${quick ? 'quick' : 'full'} run: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`,
);
const overhead = await measureOverhead();
const scale = await measureScale();
const terminus = await measureTerminus();

const largest = scale.rows[scale.rows.length - 1];
const libraryAtTerminusSize = scale.rows.find((row) => row.targets === terminus.targets) ?? largest;
const terminusCostRatio =
  terminus.result.cpuMicrosPerRound / libraryAtTerminusSize.result.cpuMicrosPerRound;
const { detection } = scale;

const output = [
  table(
    'Overhead: CPU µs per heartbeat round (request + answer, monitor and target processes together)',
    ['targets', 'library µs', 'library rounds/s', 'plain Nest µs', 'plain rounds/s', 'ratio'],
    overhead.map((row) => [
      row.targets,
      ms(row.library.cpuMicrosPerRound),
      Math.round(perSecond(row.library)),
      ms(row.floor.cpuMicrosPerRound),
      Math.round(perSecond(row.floor)),
      round(row.ratio, 2),
    ]),
  ),
  table(
    `Scale: one sender manager, interval ${interval} ms, timeout ${timeout} ms, window ${windowMs} ms`,
    [
      'targets',
      'monitor CPU %',
      'load CPU %',
      'RSS MB',
      'loop lag p99 ms',
      'lag max ms',
      'heartbeats/s',
      'false losses',
      'errors',
    ],
    scale.rows.map((row) => [
      row.targets,
      ms(cpuPercent(row.result.monitor)),
      ms(row.result.loads.reduce((sum, load) => sum + cpuPercent(load), 0)),
      Math.round(row.result.monitor.rssMb),
      ms(row.result.monitor.loopLagP99Ms),
      ms(row.result.monitor.loopLagMaxMs),
      Math.round(perSecond(row.result)),
      row.falseLosses,
      row.result.errors,
    ]),
  ),
  table(
    `Detection (${plan.detectionSize} targets, ${plan.kills} hung + ${plan.kills} refusing, killed at random moments), ms`,
    ['measure', 'n', 'p50', 'p99', 'max', 'bound'],
    [
      ['hung: loss − last heartbeat − timeout', detection.timeoutError, 'error'],
      ['hung: loss − kill', detection.hungKillToLoss, `≤ ${timeout}+${interval}`],
      ['refusing: unreachable − kill', detection.refusedKillToLoss, `≤ ${THRESHOLD}×${interval}`],
      ['terminus, refusing: failed check − kill', terminus.refusedKillToLoss, `≤ ${interval}+`],
    ].map(([name, stats, bound]) => {
      const { count, p50, p99, max } = stats as Distribution;
      return [name as string, count, ms(p50), ms(p99), ms(max), bound as string];
    }),
  ),
  `Missed kills: ${detection.missed}; false losses while detecting: ${detection.falseLosses}; ` +
    `hung targets terminus noticed: ${terminus.hungDetected} of ${plan.kills}\n`,
  table(
    `The usual alternative: terminus pingCheck of ${terminus.targets} targets every ${interval} ms`,
    ['', 'CPU µs per check/round', 'monitor CPU %', 'RSS MB', 'loop lag p99 ms'],
    [
      ['terminus', terminus.result, terminus.result.cpuMicrosPerRound],
      ['library', libraryAtTerminusSize.result, libraryAtTerminusSize.result.cpuMicrosPerRound],
    ].map(([name, result, perRound]) => {
      const { monitor } = result as WindowResult;
      return [
        name as string,
        ms(perRound as number),
        ms(cpuPercent(monitor)),
        Math.round(monitor.rssMb),
        ms(monitor.loopLagP99Ms),
      ];
    }),
  ),
  `terminus / library CPU per check: ${round(terminusCostRatio, 1)}×; run took ${Math.round((Date.now() - started) / 1_000)} s`,
];
console.log(output.join('\n'));
console.log(
  JSON.stringify({
    overheadRatio: round(Math.max(...overhead.map((row) => row.ratio)), 2),
    overheadRatios: Object.fromEntries(overhead.map((row) => [row.targets, round(row.ratio, 2)])),
    targets: largest.targets,
    rmCpuPercent: round(cpuPercent(largest.result.monitor), 1),
    rssMb: round(largest.result.monitor.rssMb, 0),
    loopLagP99Ms: round(largest.result.monitor.loopLagP99Ms, 1),
    heartbeatsPerSecond: round(perSecond(largest.result), 0),
    falseTimeouts:
      scale.rows.reduce((sum, row) => sum + row.falseLosses, 0) + detection.falseLosses,
    detectionErrorP50Ms: round(detection.timeoutError.p50, 1),
    detectionErrorP99Ms: round(detection.timeoutError.p99, 1),
    detectionErrorMaxMs: round(detection.timeoutError.max, 1),
    unreachableP99Ms: round(detection.refusedKillToLoss.p99, 1),
    terminusCostRatio: round(terminusCostRatio, 1),
    terminusDetectionP99Ms: round(terminus.refusedKillToLoss.p99, 1),
    quick,
  }),
);

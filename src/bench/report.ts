/** The tables on stdout and the JSON summary, its last line. */
import { expectedPerSecond, MIN_RATE_SHARE, type Ceiling } from './ceiling.js';
import type { Detection } from './detection.js';
import type { ConditionResult, DetectorsResult } from './detectors.js';
import type { WindowResult } from './fleet.js';
import type { ObservabilityRow } from './observability.js';
import type { OverheadRow } from './overhead.js';
import { interval, plan, quick, THRESHOLD, timeout, windowMs } from './plan.js';
import type { ProcessMetrics } from './process-metrics.js';
import type { Scale, ScaleRow } from './scale.js';
import { DETECTORS, PHI_DETECTORS } from './protocol.js';
import { round, type Distribution } from './stats.js';
import type { TerminusResult } from './terminus.js';
import type { TakeoverResult } from './takeover.js';
import type { TransportsResult } from './transports.js';

export interface Results {
  readonly overhead: OverheadRow[];
  readonly observability: ObservabilityRow[];
  readonly scale: Scale;
  readonly ceiling: Ceiling;
  readonly terminus: TerminusResult;
  readonly transports: TransportsResult;
  readonly takeover: TakeoverResult;
  readonly detectors: DetectorsResult;
  readonly seconds: number;
}

type Cell = string | number | null;

function table(title: string, header: string[], rows: Cell[][]): string {
  const cells = [
    header,
    ...rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell)))),
  ];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  const line = (row: string[]) =>
    row.map((cell, column) => cell.padStart(widths[column])).join('  ');
  return [title, line(cells[0]), ...cells.slice(1).map(line), ''].join('\n');
}

const cpuPercent = ({ cpuMicros, elapsedMs }: ProcessMetrics) =>
  (cpuMicros / (elapsedMs * 1_000)) * 100;
const loadCpuPercent = (result: WindowResult) =>
  result.loads.reduce((sum, load) => sum + cpuPercent(load), 0);
const ms = (value: number) => round(value, 1);
const maxOf = (values: number[]) => round(Math.max(...values), 2);

/** The columns scale and ceiling rows share. */
const scaleCells = ({ targets, result, falseLosses }: ScaleRow): Cell[] => [
  targets,
  ms(cpuPercent(result.monitor)),
  ms(loadCpuPercent(result)),
  Math.round(result.monitor.rssMb),
  ms(result.monitor.loopLagP99Ms),
  ms(result.monitor.loopLagMaxMs),
  Math.round(result.perSecond),
  falseLosses,
];
const SCALE_HEADER = [
  'targets',
  'monitor CPU %',
  'load CPU %',
  'RSS MB',
  'lag p99 ms',
  'lag max ms',
  'heartbeats/s',
  'false losses',
];

function detectionRows(detection: Detection): Cell[][] {
  const rows: [string, Distribution, string][] = [
    ['hung: loss − last heartbeat − timeout', detection.timeoutError, 'error'],
    ['hung: loss − kill', detection.hungKillToLoss, `≤ ${timeout}+${interval}`],
    ['refusing: unreachable − kill', detection.refusedKillToLoss, `≤ ${THRESHOLD}×${interval}`],
  ];
  return rows.map(([name, stats, bound]) => distributionRow(name, detection.targets, stats, bound));
}

const distributionRow = (name: string, targets: number, stats: Distribution, bound: string) => [
  name,
  targets,
  stats.count,
  ms(stats.p50),
  ms(stats.p99),
  ms(stats.max),
  bound,
];

/** The transports section's table. */
function transportsTable(result: TransportsResult): string {
  const { targets, intervalMs, rounds, rows } = result;
  return table(
    `Transports: CPU µs per heartbeat, ${targets} receivers every ${intervalMs} ms, window ` +
      `${result.windowMs} ms, medians of ${rounds} interleaved round(s); the broker's own CPU apart ` +
      `(read from /proc in 10 ms ticks)`,
    [
      'transport',
      'target',
      'sender µs',
      'receivers µs',
      'sender+receivers µs',
      'broker µs',
      'all µs',
      'hb/s',
      'errors',
    ],
    rows.map((row) => [
      row.transport,
      row.client.replace(/ \(.*\)$/, ''),
      ms(row.senderMicros),
      ms(row.receiversMicros),
      ms(row.peersMicros),
      row.brokerMicros === null ? null : ms(row.brokerMicros),
      ms(row.peersMicros + (row.brokerMicros ?? 0)),
      Math.round(row.perSecond),
      row.errors,
    ]),
  );
}

/** The transports section's keys of the JSON summary: µs per heartbeat by transport. */
function transportsSummary({ rows }: TransportsResult) {
  return {
    transportMicros: Object.fromEntries(rows.map((row) => [row.transport, ms(row.peersMicros)])),
    transportBrokerMicros: Object.fromEntries(
      rows
        .filter((row) => row.brokerMicros !== null)
        .map((row) => [row.transport, ms(row.brokerMicros!)]),
    ),
  };
}

const takeoverRow = (signal: string, stats: TakeoverResult['sigkill']) => [
  signal,
  stats.count,
  ms(stats.p50),
  ms(stats.max),
];

/** The takeover section's table. */
function takeoverTable(result: TakeoverResult): string {
  return table(
    `HA takeover: from the signal to the standby leading both TaskManagers (lease TTL ` +
      `${result.leaseTtlSeconds} s, heartbeat interval ${result.intervalMs} ms, timeout ` +
      `${result.timeoutMs} ms; polled every 20 ms; ${result.failed} round(s) without takeover)`,
    ['leader stopped by', 'rounds', 'p50 ms', 'max ms'],
    [takeoverRow('SIGKILL', result.sigkill), takeoverRow('SIGTERM (resigns)', result.sigterm)],
  );
}

/** The takeover section's keys of the JSON summary. */
function takeoverSummary(result: TakeoverResult) {
  return {
    takeoverSigkillP50Ms: round(result.sigkill.p50, 0),
    takeoverSigkillMaxMs: round(result.sigkill.max, 0),
    takeoverSigtermP50Ms: round(result.sigterm.p50, 0),
    takeoverSigtermMaxMs: round(result.sigterm.max, 0),
    takeoverFailures: result.failed,
  };
}

/** A detector's settings as the library resolved them: `threshold 8, minStdDeviation 100, …`. */
function detectorSettings(settings: unknown): string {
  if (typeof settings !== 'object' || settings === null) {
    return String(settings);
  }
  return Object.entries(settings)
    .filter(([key]) => key !== 'kind')
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');
}

const conditionName = ({ condition, delay }: ConditionResult) =>
  delay ? `delay ${delay.latencyMs}+0–${delay.jitterMs} ms` : condition;

/** The detectors section's table. */
function detectorsTable(result: DetectorsResult): string {
  const rows = result.conditions.flatMap((condition) =>
    DETECTORS.map((detector) => {
      const figures = condition.detectors[detector];
      return [
        conditionName(condition),
        detector,
        condition.kills,
        figures.killToLoss.count,
        figures.missed,
        ms(figures.killToLoss.p50),
        ms(figures.killToLoss.p99),
        ms(figures.killToLoss.max),
        figures.roundP50s.map((value) => ms(value) ?? '-').join(' / '),
        ms(figures.sinceLastHeartbeat.p50),
        detector === 'fixed' ? null : ms(condition.minusFixed[detector].p50),
        figures.falseSuspicions,
        round(condition.rateShare * 100, 1),
      ];
    }),
  );
  const [first] = result.conditions;
  const phiSettings = PHI_DETECTORS.map((detector) => {
    const settings = result.settings?.[detector];
    return `${detector} (${settings === undefined ? '?' : detectorSettings(settings)})`;
  }).join(' and ');
  const watched = result.conditions
    .map((condition) => `${Math.round(condition.watchedSeconds)} s (${conditionName(condition)})`)
    .join(', ');
  const title =
    `Detectors: the fixed timeout, ${phiSettings} as ${DETECTORS.length} sender managers of one ` +
    `monitor, each watching the same ${result.targets} targets; ${result.killsPerRound} hung per ` +
    `run at random moments within ${result.killSpreadMs} ms, judged by all; interval ` +
    `${result.intervalMs} ms, timeout ${result.timeoutMs} ms (phi-accrual's upper bound), ` +
    `requestTimeout ${result.requestTimeoutMs} ms; ${first?.rounds ?? 0} run(s) per condition, ` +
    `conditions alternated, the managers' order rotated; delay: every chunk late by latency + ` +
    `seeded 0–jitter, each way (the failure tests' fault proxy); phi−fixed: p50 of the per-kill ` +
    `differences with the fixed timeout; ms`;
  const header = [
    'condition',
    'detector',
    'kills',
    'detected',
    'missed',
    'kill→loss p50',
    'p99',
    'max',
    'p50 per run',
    'loss−last hb p50',
    'phi−fixed p50',
    'false suspicions',
    'hb % of expected',
  ];
  return (
    table(title, header, rows) +
    `False suspicions: losses of targets nobody killed, over ${watched} of ${result.targets} ` +
    `targets watched (${result.quietMs} ms of each run quiet, before its kills)\n`
  );
}

/** The detectors section's keys of the JSON summary, by condition, then by detector. */
function detectorsSummary(result: DetectorsResult) {
  const byCondition = <T>(value: (condition: ConditionResult) => T) =>
    Object.fromEntries(
      result.conditions.map((condition) => [condition.condition, value(condition)]),
    );
  const byDetector = <T>(value: (figures: ConditionResult['detectors']['fixed']) => T) =>
    byCondition((condition) =>
      Object.fromEntries(
        DETECTORS.map((detector) => [detector, value(condition.detectors[detector])]),
      ),
    );
  return {
    detectorsIntervalMs: result.intervalMs,
    detectorsTimeoutMs: result.timeoutMs,
    detectorKills: byCondition((condition) => condition.kills),
    detectorKillToLossMs: byDetector(({ killToLoss }) => ({
      p50: ms(killToLoss.p50),
      p99: ms(killToLoss.p99),
      max: ms(killToLoss.max),
    })),
    detectorMissedKills: byDetector((figures) => figures.missed),
    detectorFalseSuspicions: byDetector((figures) => figures.falseSuspicions),
    detectorPhiMinusFixedP50Ms: byCondition((condition) =>
      ms(condition.minusFixed['phi-accrual'].p50),
    ),
    detectorPhiFastMinusFixedP50Ms: byCondition((condition) =>
      ms(condition.minusFixed['phi-accrual-fast'].p50),
    ),
  };
}

/** The sections that also run alone (`--section <name>`): their table and their JSON summary keys. */
export const SECTION_REPORTS = {
  transports: { table: transportsTable, summary: transportsSummary },
  takeover: { table: takeoverTable, summary: takeoverSummary },
  detectors: { table: detectorsTable, summary: detectorsSummary },
} as const;

/** The output of one section run alone: its table, then its JSON summary. */
export function renderSection<R>(
  report: { table(result: R): string; summary(result: R): object },
  result: R,
  seconds: number,
): string {
  return [
    report.table(result),
    `run took ${seconds} s`,
    JSON.stringify({ ...report.summary(result), quick }),
  ].join('\n');
}

export function render({
  overhead,
  observability,
  scale,
  ceiling,
  terminus,
  transports,
  takeover,
  detectors,
  seconds,
}: Results): string {
  const largest = scale.rows[scale.rows.length - 1];
  const atTerminusSize = scale.rows.find((row) => row.targets === terminus.targets) ?? largest;
  const terminusCostRatio =
    terminus.result.cpuMicrosPerRound / atTerminusSize.result.cpuMicrosPerRound;
  const { detection, detectionAtScale } = scale;
  const detections = [detection, ...(detectionAtScale ? [detectionAtScale] : [])];
  const ceilingRows = [...scale.rows, ...ceiling.steps.map((step) => step.row)];

  const output = [
    `Library client: ${largest.client} (the class createTcpTarget returned)\n`,
    table(
      `Overhead: CPU µs per heartbeat (one request and its reply; monitor and load processes together), ` +
        `medians of ${plan.overheadTriples} interleaved triple(s)`,
      [
        'targets',
        'library µs',
        'library hb/s',
        'plain Nest µs',
        'plain hb/s',
        'raw µs',
        'raw hb/s',
        'library/plain',
        'library/raw',
      ],
      overhead.map(({ targets, runs, plainRatio, rawRatio }) => [
        targets,
        ...[runs.library, runs.plain, runs.raw].flatMap((run) => [
          ms(run.cpuMicrosPerRound),
          Math.round(run.perSecond),
        ]),
        round(plainRatio, 2),
        round(rawRatio, 2),
      ]),
    ),
    table(
      `Observability: CPU µs per heartbeat of the library alone, with one event subscriber, and with ` +
        `its Prometheus metrics scraped every second; medians of ${plan.overheadTriples} interleaved triple(s)`,
      [
        'targets',
        'alone µs',
        'alone hb/s',
        'events µs',
        'events hb/s',
        'metrics µs',
        'metrics hb/s',
        'events/alone',
        'metrics/alone',
      ],
      observability.map(({ targets, runs, eventsRatio, metricsRatio }) => [
        targets,
        ...[runs.none, runs.events, runs.metrics].flatMap((run) => [
          ms(run.cpuMicrosPerRound),
          Math.round(run.perSecond),
        ]),
        round(eventsRatio, 2),
        round(metricsRatio, 2),
      ]),
    ),
    table(
      `Scale: one sender manager, interval ${interval} ms, timeout ${timeout} ms, window ${windowMs} ms ` +
        `(lag: event-loop delay beyond the 1 ms sampling period)`,
      [...SCALE_HEADER, 'errors'],
      [
        ...scale.rows.map((row) => [...scaleCells(row), row.result.errors]),
        [...scaleCells(scale.rawAtLargest), `${scale.rawAtLargest.result.errors} (raw floor)`],
      ],
    ),
    table(
      `Ceiling: a size passes with no false loss and ≥ ${MIN_RATE_SHARE * 100} % of the expected ` +
        `heartbeats/s (search window ${plan.ceiling.windowMs} ms)`,
      [...SCALE_HEADER, '% of expected', 'verdict'],
      ceilingRows.map((row) => {
        const failed = ceiling.targets < row.targets;
        return [
          ...scaleCells(row),
          round((row.result.perSecond / expectedPerSecond(row.targets)) * 100, 2),
          failed ? 'failed' : 'passed',
        ];
      }),
    ),
    `Ceiling: ${ceiling.targets} targets; ` +
      (ceiling.limitedBy
        ? `above it, ${ceiling.limitedBy.detail} (${ceiling.limitedBy.limit})\n`
        : `the largest size of this run (not searched: --quick)\n`),
    table(
      `Detection (${plan.kills} hung + ${plan.kills} refusing targets, killed at random moments), ms`,
      ['measure', 'targets', 'n', 'p50', 'p99', 'max', 'bound'],
      [
        ...detections.flatMap(detectionRows),
        distributionRow(
          'terminus, refusing: failed check − kill',
          terminus.targets,
          terminus.refusedKillToLoss,
          `≤ ${interval}+`,
        ),
      ],
    ),
    `Missed kills: ${detections.map((found) => found.missed).join(' / ')}; ` +
      `false losses while detecting: ${detections.map((found) => found.falseLosses).join(' / ')}; ` +
      `hung targets terminus noticed: ${terminus.hungDetected} of ${plan.kills}\n`,
    detectorsTable(detectors),
    table(
      `The usual alternative: terminus pingCheck of ${terminus.targets} targets every ${interval} ms`,
      ['', 'CPU µs per check/heartbeat', 'monitor CPU %', 'RSS MB', 'lag p99 ms'],
      [
        ['terminus', terminus.result],
        ['library', atTerminusSize.result],
      ].map(([name, result]) => {
        const { cpuMicrosPerRound, monitor } = result as WindowResult;
        return [
          name as string,
          ms(cpuMicrosPerRound),
          ms(cpuPercent(monitor)),
          Math.round(monitor.rssMb),
          ms(monitor.loopLagP99Ms),
        ];
      }),
    ),
    `terminus / library CPU per check: ${round(terminusCostRatio, 1)}×\n`,
    transportsTable(transports),
    takeoverTable(takeover),
    `run took ${seconds} s`,
  ];
  const summary = {
    overheadRatio: maxOf(overhead.map((row) => row.plainRatio)),
    overheadRatios: Object.fromEntries(
      overhead.map((row) => [row.targets, round(row.plainRatio, 2)]),
    ),
    rawFloorRatio: maxOf(overhead.map((row) => row.rawRatio)),
    rawFloorRatios: Object.fromEntries(
      overhead.map((row) => [row.targets, round(row.rawRatio, 2)]),
    ),
    eventsCostRatio: maxOf(observability.map((row) => row.eventsRatio)),
    metricsCostRatio: maxOf(observability.map((row) => row.metricsRatio)),
    targets: largest.targets,
    rmCpuPercent: round(cpuPercent(largest.result.monitor), 1),
    loadCpuPercent: round(loadCpuPercent(largest.result), 1),
    rawFloorCpuPercent: round(cpuPercent(scale.rawAtLargest.result.monitor), 1),
    rssMb: round(largest.result.monitor.rssMb, 0),
    loopLagP99Ms: round(largest.result.monitor.loopLagP99Ms, 1),
    loopLagMaxMs: round(largest.result.monitor.loopLagMaxMs, 1),
    heartbeatsPerSecond: round(largest.result.perSecond, 0),
    falseTimeouts:
      scale.rows.reduce((sum, row) => sum + row.falseLosses, 0) +
      detections.reduce((sum, found) => sum + found.falseLosses, 0),
    detectionErrorP50Ms: round(detection.timeoutError.p50, 1),
    detectionErrorP99Ms: round(detection.timeoutError.p99, 1),
    detectionErrorMaxMs: round(detection.timeoutError.max, 1),
    detectionErrorP99Ms10k: detectionAtScale ? round(detectionAtScale.timeoutError.p99, 1) : null,
    detectionErrorMaxMs10k: detectionAtScale ? round(detectionAtScale.timeoutError.max, 1) : null,
    unreachableP99Ms: round(detection.refusedKillToLoss.p99, 1),
    terminusCostRatio: round(terminusCostRatio, 1),
    terminusDetectionP99Ms: round(terminus.refusedKillToLoss.p99, 1),
    ceilingTargets: ceiling.targets,
    ceilingLimitedBy: ceiling.limitedBy?.limit ?? null,
    libraryClient: largest.client,
    ...transportsSummary(transports),
    ...takeoverSummary(takeover),
    ...detectorsSummary(detectors),
    quick,
  };
  return [...output, JSON.stringify(summary)].join('\n');
}

/**
 * The failure detectors side by side: one monitoring process with three sender managers, the
 * fixed timeout, phi-accrual with the library's defaults (Akka's) and phi-accrual tuned for fast
 * detection (`acceptableHeartbeatPause` 500 ms), at the same interval and timeout, each watching
 * every target over a connection of its own. Each run hangs the same targets for all three at
 * random moments, so that all judge the same kills, under the same host noise. Runs alternate two
 * conditions: clean loopback, and the failure tests' network delay (every chunk 100 ms + 0–100 ms
 * late each way, through the fault proxy); the managers' order rotates between rounds (over three
 * rounds each manager is first, second and third once in each condition), and the conditions'
 * order alternates.
 */
import type { Fleet, LossReport } from './fleet.js';
import { interval, log, monitorConfig, plan, sleep, timeout, warmUp, withFleet } from './plan.js';
import {
  DETECTORS,
  PHI_DETECTORS,
  type DetectorName,
  type NetworkDelay,
  type PhiDetectorName,
} from './protocol.js';
import { distribution, percentile, sample, type Distribution } from './stats.js';

export const CONDITIONS = ['clean', 'delay'] as const;
export type Condition = (typeof CONDITIONS)[number];

export interface DetectorFigures {
  /** Hung targets, kill → declared loss (as a timeout), every round's together. */
  readonly killToLoss: Distribution;
  /** The same losses: declared loss − the target's last heartbeat. */
  readonly sinceLastHeartbeat: Distribution;
  /** Each round's kill → loss p50, to show how much the rounds differ. */
  readonly roundP50s: number[];
  /**
   * Killed targets this detector had not declared lost (as a timeout, after the kill) by the end
   * of the wait: the kill spread + timeout + 3 intervals.
   */
  readonly missed: number;
  /** Losses of targets that were not killed (or declared before their kill), from each run's start. */
  readonly falseSuspicions: number;
}

export interface ConditionResult {
  readonly condition: Condition;
  /** The delay each way, `null` on clean loopback. */
  readonly delay: NetworkDelay | null;
  readonly rounds: number;
  /** Targets killed, over the rounds; each one is judged by every detector. */
  readonly kills: number;
  /** Seconds the runs watched their targets (from the first registration to the end), summed. */
  readonly watchedSeconds: number;
  /**
   * Median over the rounds: heartbeats per second the managers received together in the quiet
   * window before the kills ÷ (managers × targets ÷ interval) (1: every heartbeat came back in time).
   */
  readonly rateShare: number;
  readonly detectors: Readonly<Record<DetectorName, DetectorFigures>>;
  /**
   * Per phi-accrual detector, per kill both it and the fixed timeout detected: its loss − the fixed
   * timeout's, ms (negative: sooner).
   */
  readonly minusFixed: Readonly<Record<PhiDetectorName, Distribution>>;
}

export interface DetectorsResult {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly targets: number;
  readonly killsPerRound: number;
  readonly killSpreadMs: number;
  readonly quietMs: number;
  /** Each manager's detector, as the library resolved it (phi-accrual's defaults filled in). */
  readonly settings: Readonly<Record<DetectorName, unknown>> | null;
  readonly conditions: ConditionResult[];
}

/** One detector's findings in one run. */
interface RunFindings {
  readonly killToLoss: number[];
  readonly sinceLastHeartbeat: number[];
  readonly missed: number;
  readonly falseSuspicions: number;
  /** Victim → when this detector declared it lost (detected ones only). */
  readonly lossAt: Map<string, number>;
}

interface RunOutcome {
  readonly findings: Record<DetectorName, RunFindings>;
  readonly watchedMs: number;
  readonly rateShare: number;
  readonly settings: Readonly<Record<DetectorName, unknown>> | undefined;
}

const { targets, kills, killSpreadMs, quietMs } = plan.detectors;
/** The wait for the kills' losses: after the last kill, the timeout (the upper bound) + 3 intervals. */
const waitMs = killSpreadMs + timeout + 3 * interval;
const POLL_MS = 50;

/** What `detector` made of the run's kills and of the targets nobody killed. */
function judge(fleet: Fleet, detector: DetectorName, victims: ReadonlySet<string>): RunFindings {
  const killedAt = new Map(fleet.kills.map((kill) => [kill.id, kill.at]));
  const losses = fleet.losses.filter((loss) => loss.detector === detector);
  const lossOf = new Map(losses.map((loss) => [loss.id, loss]));
  const killToLoss: number[] = [];
  const sinceLastHeartbeat: number[] = [];
  const lossAt = new Map<string, number>();
  let missed = 0;
  let falseSuspicions = losses.filter((loss) => !victims.has(loss.id)).length;
  for (const id of victims) {
    const loss: LossReport | undefined = lossOf.get(id);
    const killed = killedAt.get(id);
    if (loss && killed !== undefined && loss.kind === 'timeout' && loss.at >= killed) {
      killToLoss.push(loss.at - killed);
      sinceLastHeartbeat.push(loss.at - loss.lastHeartbeat);
      lossAt.set(id, loss.at);
      continue;
    }
    missed += 1;
    if (loss && (killed === undefined || loss.at < killed)) {
      falseSuspicions += 1; // declared lost while it still answered
    }
  }
  return { killToLoss, sinceLastHeartbeat, missed, falseSuspicions, lossAt };
}

/** One fresh fleet: warm-up, a quiet window, `kills` targets hung, and the wait for every verdict. */
function detectorsRun(condition: Condition, order: readonly DetectorName[]): Promise<RunOutcome> {
  const delay = condition === 'delay' ? plan.detectors.delay : undefined;
  log(
    `detectors (${condition}, ${order.join(' then ')}): ${targets} targets, ${kills} hung, ` +
      `interval ${interval} ms, timeout ${timeout} ms`,
  );
  const config = { ...detectorsConfig(), detectorOrder: order };
  return withFleet(
    config,
    targets,
    async (fleet) => {
      const startedAt = Date.now();
      await warmUp(interval, targets);
      const quiet = await fleet.measure(quietMs);
      const rateShare = quiet.perSecond / ((DETECTORS.length * targets * 1_000) / interval);
      const victims = new Set(sample(fleet.targets, kills).map((target) => target.id));
      const timers = [...victims].map((id) =>
        setTimeout(() => fleet.kill(id, 'hang'), Math.random() * killSpreadMs),
      );
      const verdicts = () =>
        fleet.losses.filter((loss) => loss.detector !== undefined && victims.has(loss.id)).length;
      const deadline = Date.now() + waitMs;
      for (let polls = 0; polls < waitMs / POLL_MS + 1 && Date.now() < deadline; polls += 1) {
        if (verdicts() >= victims.size * DETECTORS.length) {
          break;
        }
        await sleep(POLL_MS);
      }
      timers.forEach(clearTimeout);
      const findings = Object.fromEntries(
        DETECTORS.map((detector) => [detector, judge(fleet, detector, victims)]),
      ) as Record<DetectorName, RunFindings>;
      return {
        findings,
        watchedMs: Date.now() - startedAt,
        rateShare,
        settings: fleet.detectors,
      };
    },
    delay ? { delay } : {},
  );
}

/**
 * The run's heartbeat settings, with the timeout as the request timeout (as the sample
 * ResourceManager has it): the delayed round trip (200 to 400 ms) must not fail the request.
 */
function detectorsConfig() {
  const config = monitorConfig('detectors');
  return { ...config, requestTimeout: config.timeout };
}

const median = (values: readonly number[]) => percentile(values, 50);

function summarize(condition: Condition, outcomes: readonly RunOutcome[]): ConditionResult {
  const figures = (detector: DetectorName): DetectorFigures => {
    const runs = outcomes.map((outcome) => outcome.findings[detector]);
    return {
      killToLoss: distribution(runs.flatMap((run) => run.killToLoss)),
      sinceLastHeartbeat: distribution(runs.flatMap((run) => run.sinceLastHeartbeat)),
      roundP50s: runs.map((run) => median(run.killToLoss)),
      missed: runs.reduce((sum, run) => sum + run.missed, 0),
      falseSuspicions: runs.reduce((sum, run) => sum + run.falseSuspicions, 0),
    };
  };
  const minusFixed = (detector: PhiDetectorName) =>
    distribution(
      outcomes.flatMap(({ findings }) =>
        [...findings[detector].lossAt].flatMap(([id, at]) => {
          const fixedAt = findings.fixed.lossAt.get(id);
          return fixedAt === undefined ? [] : [at - fixedAt];
        }),
      ),
    );
  return {
    condition,
    delay: condition === 'delay' ? plan.detectors.delay : null,
    rounds: outcomes.length,
    kills: outcomes.length * kills,
    watchedSeconds: outcomes.reduce((sum, outcome) => sum + outcome.watchedMs, 0) / 1_000,
    rateShare: median(outcomes.map((outcome) => outcome.rateShare)),
    detectors: Object.fromEntries(
      DETECTORS.map((detector) => [detector, figures(detector)]),
    ) as Record<DetectorName, DetectorFigures>,
    minusFixed: Object.fromEntries(
      PHI_DETECTORS.map((detector) => [detector, minusFixed(detector)]),
    ) as Record<PhiDetectorName, Distribution>,
  };
}

export async function measureDetectors(): Promise<DetectorsResult> {
  const outcomes: Record<Condition, RunOutcome[]> = { clean: [], delay: [] };
  for (let round = 0; round < plan.detectors.rounds; round += 1) {
    // Each round rotates the managers' order by one (a Latin square over DETECTORS.length rounds:
    // each manager takes each place once), and swaps which condition goes first.
    const shift = round % DETECTORS.length;
    const order = [...DETECTORS.slice(shift), ...DETECTORS.slice(0, shift)];
    const conditions = round % 2 === 0 ? CONDITIONS : CONDITIONS.toReversed();
    for (const condition of conditions) {
      outcomes[condition].push(await detectorsRun(condition, order));
    }
  }
  return {
    intervalMs: interval,
    timeoutMs: timeout,
    requestTimeoutMs: detectorsConfig().requestTimeout,
    targets,
    killsPerRound: kills,
    killSpreadMs,
    quietMs,
    settings: outcomes.clean[0]?.settings ?? null,
    conditions: CONDITIONS.map((condition) => summarize(condition, outcomes[condition])),
  };
}

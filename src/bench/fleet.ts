import { Child } from './child.js';
import type { ProcessMetrics } from './process-metrics.js';
import type {
  DetectorName,
  LoadConfig,
  MonitorConfig,
  NetworkDelay,
  Report,
  TargetAddress,
} from './protocol.js';

/** Targets one load process simulates at most (two files each: its listener and its connection). */
export const TARGETS_PER_LOAD = 2_500;
/** Load processes listen from this port up, below Linux's ephemeral range (32768+). */
const BASE_PORT = 20_000;
const START_TIMEOUT_MS = 60_000;

export type LossReport = Extract<Report, { type: 'lost' }>;
export type KillReport = Extract<Report, { type: 'killed' }>;

export interface WindowResult {
  readonly monitor: ProcessMetrics;
  readonly loads: ProcessMetrics[];
  readonly rounds: number;
  /** Heartbeats per second the monitor counted (every target's own rate, summed). */
  readonly perSecond: number;
  readonly errors: number;
  /** CPU µs of every process of the fleet together, per round. */
  readonly cpuMicrosPerRound: number;
}

const script = (name: string) => new URL(`./${name}.js`, import.meta.url);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One monitoring process and the load processes that simulate its targets. */
export class Fleet {
  readonly losses: LossReport[] = [];
  readonly kills: KillReport[] = [];

  private constructor(
    private readonly monitor: Child,
    private readonly loads: Child[],
    readonly targets: TargetAddress[],
    private readonly loadOf: Map<string, Child>,
    /** What carried the heartbeats, as the monitor names it (e.g. the library's target class). */
    readonly client: string,
    /** Detectors mode: each manager's detector as the library resolved it. */
    readonly detectors: Readonly<Record<DetectorName, unknown>> | undefined,
  ) {
    const record = (report: Report) => {
      if (report.type === 'lost') {
        this.losses.push(report);
      } else if (report.type === 'killed') {
        this.kills.push(report);
      }
    };
    monitor.onEvent(record);
    loads.forEach((load) => load.onEvent(record));
  }

  /** `delay`: the load processes reach each target through a delaying fault proxy. */
  static async start(
    monitorConfig: MonitorConfig,
    targetCount: number,
    { delay }: { delay?: NetworkDelay } = {},
  ): Promise<Fleet> {
    const monitor = Child.start(
      `monitor (${monitorConfig.mode})`,
      script('monitor'),
      monitorConfig,
    );
    const loads: Child[] = [];
    try {
      await monitor.next('ready', START_TIMEOUT_MS);
      for (let first = 0; first < targetCount; first += TARGETS_PER_LOAD) {
        const count = Math.min(TARGETS_PER_LOAD, targetCount - first);
        const config: LoadConfig = {
          // Each load process on its own loopback address, so that port numbers may repeat.
          host: `127.0.0.${2 + loads.length}`,
          basePort: BASE_PORT,
          firstIndex: first,
          count,
          ...(delay ? { delay } : {}),
        };
        loads.push(Child.start(`load ${loads.length}`, script('load'), config));
      }
      const listening = await Promise.all(
        loads.map((load) => load.next('listening', START_TIMEOUT_MS)),
      );
      const loadOf = new Map<string, Child>();
      listening.forEach(({ targets }, index) =>
        targets.forEach((target) => loadOf.set(target.id, loads[index])),
      );
      const targets = listening.flatMap((report) => report.targets);
      monitor.send({ type: 'watch', targets });
      const { client, detectors } = await monitor.next('watching', START_TIMEOUT_MS);
      return new Fleet(monitor, loads, targets, loadOf, client, detectors);
    } catch (error) {
      await Promise.all([monitor, ...loads].map((child) => child.stop()));
      throw error;
    }
  }

  /** Every process measures itself for `windowMs`. */
  async measure(windowMs: number): Promise<WindowResult> {
    const all = [this.monitor, ...this.loads];
    all.forEach((child) => child.send({ type: 'measure-start' }));
    await sleep(windowMs);
    all.forEach((child) => child.send({ type: 'measure-stop' }));
    const [monitor, ...loads] = await Promise.all(
      all.map((child) => child.next('metrics', START_TIMEOUT_MS)),
    );
    const cpuMicros = [monitor, ...loads].reduce((sum, { metrics }) => sum + metrics.cpuMicros, 0);
    return {
      monitor: monitor.metrics,
      loads: loads.map((load) => load.metrics),
      rounds: monitor.rounds,
      perSecond: monitor.perSecond,
      errors: monitor.errors + loads.reduce((sum, load) => sum + load.errors, 0),
      cpuMicrosPerRound: cpuMicros / Math.max(1, monitor.rounds),
    };
  }

  kill(id: string, mode: KillReport['mode']): void {
    this.loadOf.get(id)?.send({ type: 'kill', id, mode });
  }

  /** The monitor first: targets that vanish under a live monitor would make it log resets. */
  async stop(): Promise<void> {
    await this.monitor.stop();
    await Promise.all(this.loads.map((child) => child.stop()));
  }
}

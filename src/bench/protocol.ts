import type { ProcessMetrics } from './process-metrics.js';

/** One simulated target, as the monitoring process dials it. */
export interface TargetAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export type KillMode = 'hang' | 'refuse';

/** A network delay: each chunk `latencyMs` plus a seeded random 0 to `jitterMs` late, each way. */
export interface NetworkDelay {
  readonly latencyMs: number;
  readonly jitterMs: number;
}

/** Settings of a load process: which targets it simulates, where. */
export interface LoadConfig {
  readonly host: string;
  readonly basePort: number;
  readonly firstIndex: number;
  readonly count: number;
  /**
   * If set, each target is reached through a fault proxy of its own (`src/support/fault-proxy.ts`,
   * the failure tests' proxy) on 127.0.0.1 that delays every chunk both ways, seeded by the
   * target's index; the targets' addresses are the proxies'.
   */
  readonly delay?: NetworkDelay;
}

/**
 * - library: a HeartbeatModule sender manager, one `createTcpTarget` per target;
 * - plain: the plain Nest floor, one `ClientTCP` per target sending the same request;
 * - raw: the raw floor, one bare `net` socket per target writing the same frame;
 * - terminus: a @nestjs/terminus ping check of every target;
 * - detectors: three library sender managers side by side, one per failure detector (`DETECTORS`),
 *   each watching every target over a connection of its own.
 */
export type MonitorMode = 'library' | 'plain' | 'raw' | 'terminus' | 'detectors';

/**
 * The failure detectors the detectors mode compares; also its managers' names: the fixed timeout,
 * phi-accrual with the library's defaults (Akka's), and phi-accrual tuned for fast detection
 * (`acceptableHeartbeatPause` 500 ms, the other settings the defaults).
 */
export const DETECTORS = ['fixed', 'phi-accrual', 'phi-accrual-fast'] as const;
export type DetectorName = (typeof DETECTORS)[number];
/** The phi-accrual ones, each compared kill by kill with the fixed timeout. */
export type PhiDetectorName = Exclude<DetectorName, 'fixed'>;
export const PHI_DETECTORS = DETECTORS.filter(
  (detector): detector is PhiDetectorName => detector !== 'fixed',
);

/** Settings of the monitoring process. */
export interface MonitorConfig {
  readonly mode: MonitorMode;
  readonly interval: number;
  readonly timeout: number;
  readonly rpcFailureThreshold: number;
  readonly requestTimeout: number;
  /**
   * Library mode only: what watches the manager besides the handlers. `events`: one subscriber
   * to every manager's event stream, counting; `metrics`: the module's Prometheus metrics, scraped
   * every second. None if absent.
   */
  readonly observe?: 'events' | 'metrics';
  /**
   * Detectors mode only: the managers in the order they are declared and each target registered
   * with them (rotated between rounds, so that none always goes first).
   */
  readonly detectorOrder?: readonly DetectorName[];
}

/** Orchestrator → child. */
export type Command =
  | { readonly type: 'watch'; readonly targets: TargetAddress[] }
  | { readonly type: 'measure-start' }
  | { readonly type: 'measure-stop' }
  | { readonly type: 'kill'; readonly id: string; readonly mode: KillMode };

/** Child → orchestrator. */
export type Report =
  | { readonly type: 'ready' }
  | { readonly type: 'listening'; readonly targets: TargetAddress[] }
  /**
   * `client`: what carries the heartbeats (in library mode, the class of its targets);
   * `detectors`: in detectors mode, each manager's detector as the library resolved it.
   */
  | {
      readonly type: 'watching';
      readonly client: string;
      readonly detectors?: Readonly<Record<DetectorName, unknown>>;
    }
  | {
      readonly type: 'metrics';
      readonly metrics: ProcessMetrics;
      /** Heartbeats (or checks) completed in the window; 0 for load processes. */
      readonly rounds: number;
      /** Heartbeats (or checks) per second, from each target's own rate (see `Tally`). */
      readonly perSecond: number;
      /** Requests, replies or checks that failed in the window. */
      readonly errors: number;
    }
  | { readonly type: 'killed'; readonly id: string; readonly mode: KillMode; readonly at: number }
  | {
      readonly type: 'lost';
      readonly id: string;
      readonly kind: 'timeout' | 'unreachable' | 'check-failed';
      readonly at: number;
      /** Epoch ms of the target's last heartbeat (or successful check). */
      readonly lastHeartbeat: number;
      /** Detectors mode: the manager (the detector) that declared it. */
      readonly detector?: DetectorName;
    };

/** The wire: a heartbeat request, and what the `response` of its reply carries. */
export const REQUEST_PATTERN = 'heartbeat.request';
export interface HeartbeatResponse {
  readonly accepted: true;
  readonly heartbeat?: { readonly origin: string; readonly payload: unknown };
}

/** The monitoring process's manager, its id, and the targets' manager. */
export const MONITOR_MANAGER = 'targets';
export const TARGET_MANAGER = 'target';
export const MONITOR_ID = 'monitor';
/** The payload every simulated target sends with its heartbeat (a small slot report). */
export const TARGET_PAYLOAD = { free: 4, slots: 4 };

/** Sends a report to the parent process (a no-op when run without IPC). */
export function report(message: Report): void {
  process.send?.(message);
}

/** Calls `handler` for every command from the parent; the process exits when the parent goes. */
export function onCommand(handler: (command: Command) => void | Promise<void>): void {
  process.on('message', (command: Command) => {
    Promise.resolve(handler(command)).catch((error: unknown) => {
      console.error(`bench child: command ${command.type} failed:`, error);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

import type { ProcessMetrics } from './process-metrics.js';

/** One simulated target, as the monitoring process dials it. */
export interface TargetAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export type KillMode = 'hang' | 'refuse';

/** Settings of a load process: which targets it simulates and where it answers. */
export interface LoadConfig {
  readonly host: string;
  readonly basePort: number;
  readonly firstIndex: number;
  readonly count: number;
  /** The monitoring process's TCP port for answers (0: answers are not sent, as for terminus). */
  readonly monitorPort: number;
  /** How many connections carry this process's answers to the monitoring process. */
  readonly replyConnections: number;
}

export type MonitorMode = 'library' | 'floor' | 'terminus';

/** Settings of the monitoring process. */
export interface MonitorConfig {
  readonly mode: MonitorMode;
  readonly interval: number;
  readonly timeout: number;
  readonly rpcFailureThreshold: number;
  readonly requestTimeout: number;
}

/** Orchestrator → child. */
export type Command =
  | { readonly type: 'watch'; readonly targets: TargetAddress[] }
  | { readonly type: 'measure-start' }
  | { readonly type: 'measure-stop' }
  | { readonly type: 'kill'; readonly id: string; readonly mode: KillMode };

/** Child → orchestrator. */
export type Report =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'listening'; readonly targets: TargetAddress[] }
  | { readonly type: 'watching' }
  | {
      readonly type: 'metrics';
      readonly metrics: ProcessMetrics;
      /** Heartbeat rounds (or checks) completed in the window; 0 for load processes. */
      readonly rounds: number;
      /** Answers or checks that failed in the window. */
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
    };

/** The patterns the load processes answer, and the answer each gets (a separate RPC back). */
export const ANSWER_PATTERNS: Readonly<Record<string, string>> = {
  'heartbeat.request': 'heartbeat.receive',
  'bench.ping': 'bench.pong',
};

/** The monitoring process's manager that takes answers, and the targets' manager. */
export const MONITOR_MANAGER = 'targets';
export const TARGET_MANAGER = 'target';
export const MONITOR_ID = 'monitor';
/** The payload every simulated target sends with its answer (a small slot report). */
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

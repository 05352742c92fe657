/**
 * A bounded soak test of the heartbeat library over real loopback TCP. This process is the monitor:
 * a Nest app whose sender manager watches `--targets` targets, hosted by `--hosts` child processes
 * (target-host.ts). At seeded random moments it crashes (SIGKILL) or hangs (SIGSTOP) a host, in
 * turn, checks that every one of its targets is declared lost (unreachable or timed out), and
 * starts the host again. At the end it
 * checks that no live target was ever declared lost, and compares the heap (after a forced GC) and
 * the active handles and timers with those measured after the warm-up.
 *
 *   node --expose-gc dist/src/soak/soak.js [--targets 100] [--hosts 5] [--interval 100]
 *     [--timeout 3000] [--duration 60] [--kills 3] [--seed 1]
 *
 * Prints its progress, a table of the figures, and last a line `SOAK-RESULT <json>` (SoakResult);
 * exits with 0 if every check passed, 1 otherwise.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  getHeartbeatManagerToken,
  HeartbeatModule,
  HeartbeatTargetFactory,
  OnTargetLost,
  type HeartbeatManager,
} from 'nestjs-heartbeat';
import {
  MONITOR_ID,
  MONITOR_MANAGER,
  TARGET_MANAGER,
  type HostedTarget,
  type HostReady,
} from './soak-protocol.js';
import { seededRandom } from '../support/seeded-random.js';
import { KillDetections, type LossReason } from './kill-detections.js';

export interface SoakSettings {
  readonly targets: number;
  readonly hosts: number;
  readonly interval: number;
  readonly timeout: number;
  readonly durationMs: number;
  readonly kills: number;
  readonly seed: number;
}

/** Heap used after a forced GC, and the active resources by kind (`process.getActiveResourcesInfo()`). */
export interface Snapshot {
  readonly heapUsed: number;
  readonly resources: Record<string, number>;
}

/** A crash closes the host's connections (so it is found unreachable); a hang leaves them open. */
export type KillMode = 'crash (SIGKILL)' | 'hang (SIGSTOP)';

export interface KillReport {
  readonly host: number;
  readonly mode: KillMode;
  /** When the host was killed, in ms since the soak began. */
  readonly atMs: number;
  readonly targets: number;
  readonly detected: number;
  readonly byTimeout: number;
  readonly byUnreachable: number;
  /** Targets of the killed host never declared lost. */
  readonly missed: string[];
  readonly maxDetectionMs: number;
}

export interface SoakCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SoakResult {
  readonly settings: SoakSettings;
  readonly start: Snapshot;
  readonly end: Snapshot;
  readonly kills: KillReport[];
  /** Live targets declared lost: each a false alarm. */
  readonly falseAlarms: Array<{ id: string; reason: string; atMs: number }>;
  readonly checks: SoakCheck[];
  readonly hostPids: number[];
  readonly ok: boolean;
}

/** Allowed growth from start to end: the heap may vary by GC timing and lazily compiled code. */
export const HEAP_TOLERANCE_BYTES = 2 * 1024 * 1024;
/** Allowed growth of a kind of resource, for RPCs in flight when a snapshot is taken: 5 + 5 %. */
export function resourceTolerance(startCount: number): number {
  return 5 + Math.ceil(startCount * 0.05);
}

const HOST = '127.0.0.1';
const HOST_READY_TIMEOUT_MS = 30_000;
/** Beyond the heartbeat timeout, how long a killed target may take to be declared lost. */
const DETECTION_GRACE_MS = 5_000;
const WARM_UP_MS = 5_000;

/** Hands every loss the monitor's sender manager declares to `onLoss`. */
@Injectable()
class LossListener {
  onLoss: (id: string, reason: LossReason) => void = () => undefined;

  @OnTargetLost(MONITOR_MANAGER)
  lost(id: string, reason: LossReason): void {
    this.onLoss(id, reason);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    throw new Error('Run the soak with node --expose-gc: it measures the heap after a forced GC');
  }
  gc();
  gc();
}

/**
 * The heap after a forced GC (the least of three, GC timing aside), and each kind of active
 * resource as the least of several samples: RPCs in flight (a timer, a connecting socket each)
 * come and go, what stays is what a leak would grow.
 */
async function snapshot(): Promise<Snapshot> {
  const heaps: number[] = [];
  const samples: Array<Record<string, number>> = [];
  for (let sample = 0; sample < 15; sample++) {
    if (sample < 3) {
      forceGc();
      heaps.push(process.memoryUsage().heapUsed);
    }
    const counts: Record<string, number> = {};
    for (const kind of process.getActiveResourcesInfo()) {
      counts[kind] = (counts[kind] ?? 0) + 1;
    }
    samples.push(counts);
    await sleep(37); // not a divisor of the heartbeat interval: samples fall at different phases
  }
  const kinds = new Set(samples.flatMap((counts) => Object.keys(counts)));
  const resources = Object.fromEntries(
    [...kinds]
      .toSorted()
      .map((kind) => [kind, Math.min(...samples.map((counts) => counts[kind] ?? 0))]),
  );
  return { heapUsed: Math.min(...heaps), resources };
}

class TargetHost {
  process: ChildProcess | null = null;
  targets: HostedTarget[] = [];

  constructor(
    readonly index: number,
    private readonly script: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Forks the host and waits (bounded) until all its targets listen. */
  async start(): Promise<HostedTarget[]> {
    const child = fork(this.script, [], {
      env: { ...process.env, ...this.env, SOAK_HOST: String(this.index) },
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process = child;
    const ready = await new Promise<HostReady>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`host ${this.index} not ready in ${HOST_READY_TIMEOUT_MS} ms`)),
        HOST_READY_TIMEOUT_MS,
      );
      child.once('message', (message: HostReady) => {
        clearTimeout(timer);
        resolve(message);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`host ${this.index} exited (${signal ?? code}) before it was ready`));
      });
    });
    child.removeAllListeners('exit');
    this.targets = ready.targets;
    return this.targets;
  }

  /** SIGSTOPs the host: its connections stay open, but nothing answers any more. */
  hang(): void {
    this.process?.kill('SIGSTOP');
  }

  /** SIGKILLs the host (stopped or not) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    if (child.connected) {
      child.disconnect();
    }
  }
}

@Module({})
class SoakMonitorModule {}

export async function runSoak(settings: SoakSettings): Promise<SoakResult> {
  const log = (line: string) =>
    process.stdout.write(`[soak ${((Date.now() - began) / 1_000).toFixed(1)}s] ${line}\n`);
  const began = Date.now();
  const random = seededRandom(settings.seed);
  const perHost = Math.ceil(settings.targets / settings.hosts);
  const hostScript = fileURLToPath(new URL('./target-host.js', import.meta.url));

  // The monitor only asks: it needs no endpoint of its own.
  const app = await NestFactory.createApplicationContext(
    {
      module: SoakMonitorModule,
      imports: [
        HeartbeatModule.forRoot({
          resourceId: MONITOR_ID,
          managers: { [MONITOR_MANAGER]: 'sender' },
          interval: settings.interval,
          timeout: settings.timeout,
          rpcFailureThreshold: 2,
          requestTimeout: settings.timeout,
        }),
      ],
      providers: [LossListener],
    },
    { logger: false },
  );
  const hosts: TargetHost[] = [];
  try {
    const manager = app.get<HeartbeatManager>(getHeartbeatManagerToken(MONITOR_MANAGER));
    const factory = app.get(HeartbeatTargetFactory);
    const monitor = (targets: HostedTarget[]) => {
      for (const { id, port } of targets) {
        manager.monitorTarget(
          id,
          factory.createTcpTarget({ host: HOST, port, remoteManager: TARGET_MANAGER }),
        );
      }
    };

    // Losses: expected ones (targets of a killed host) are timed; any other is a false alarm.
    const detections = new KillDetections();
    const falseAlarms: SoakResult['falseAlarms'] = [];
    app.get(LossListener).onLoss = (id, reason) => {
      manager.unmonitorTarget(id);
      if (!detections.record(id, reason, Date.now())) {
        falseAlarms.push({ id, reason, atMs: Date.now() - began });
        log(`FALSE ALARM: ${id} declared lost (${reason})`);
      }
    };

    for (let index = 1; index <= settings.hosts; index++) {
      const count = Math.min(perHost, settings.targets - perHost * (index - 1));
      hosts.push(
        new TargetHost(index, hostScript, {
          SOAK_TARGETS: String(count),
          SOAK_INTERVAL_MS: String(settings.interval),
        }),
      );
    }
    for (const targets of await Promise.all(hosts.map((host) => host.start()))) {
      monitor(targets);
    }
    const all = hosts.flatMap((host) => host.targets.map((target) => target.id));
    log(`${all.length} targets on ${hosts.length} hosts`);
    const everyoneHeard = Date.now() + settings.timeout;
    while (all.some((id) => manager.getLastHeartbeatFrom(id) <= 0) && Date.now() < everyoneHeard) {
      await sleep(50);
    }
    await sleep(WARM_UP_MS);
    const start = await snapshot();
    const soakBegan = Date.now();
    log(`warmed up; soaking for ${settings.durationMs / 1_000} s with ${settings.kills} kills`);

    const kills: KillReport[] = [];
    let settledAt = soakBegan + settings.durationMs;
    const slot = settings.durationMs / (settings.kills + 1);
    for (let kill = 0; kill < settings.kills; kill++) {
      const killAt = soakBegan + slot * kill + slot * (0.2 + 0.5 * random());
      const host = hosts[Math.floor(random() * hosts.length)];
      const mode: KillMode = kill % 2 === 0 ? 'crash (SIGKILL)' : 'hang (SIGSTOP)';
      await sleep(killAt - Date.now());
      const killedAt = Date.now();
      const ids = host.targets.map((target) => target.id);
      detections.begin(ids, killedAt);
      if (mode === 'hang (SIGSTOP)') {
        host.hang();
      } else {
        await host.kill();
      }
      log(`host ${host.index}: ${mode}; its ${ids.length} targets must be declared lost`);
      const deadline = killedAt + settings.timeout + DETECTION_GRACE_MS;
      while (detections.awaiting(ids) && Date.now() < deadline) {
        await sleep(20);
      }
      const { found, missed } = detections.end(ids);
      missed.forEach((id) => manager.unmonitorTarget(id));
      await host.kill(); // a hung host is killed only now, so that its targets had to time out
      kills.push({
        host: host.index,
        mode,
        atMs: killedAt - soakBegan,
        targets: ids.length,
        detected: found.length,
        byTimeout: found.filter((detection) => detection.reason === 'timeout').length,
        byUnreachable: found.filter((detection) => detection.reason === 'unreachable').length,
        missed,
        maxDetectionMs: Math.max(0, ...found.map((detection) => detection.latency)),
      });
      log(
        `host ${host.index}: ${found.length}/${ids.length} declared lost, the last after ` +
          `${kills.at(-1)?.maxDetectionMs} ms${missed.length ? `; MISSED ${missed.join(', ')}` : ''}`,
      );
      monitor(await host.start());
      log(`host ${host.index} started again; its targets are monitored anew`);
      // The end is measured in a steady state, like the start: not right after a restart.
      settledAt = Math.max(settledAt, Date.now() + WARM_UP_MS);
    }
    await sleep(settledAt - Date.now());
    const end = await snapshot();
    const now = Date.now();
    const stale = all.filter((id) => !(now - manager.getLastHeartbeatFrom(id) < settings.timeout));
    log('done');

    const checks = evaluate(settings, start, end, kills, falseAlarms, stale);
    return {
      settings,
      start,
      end,
      kills,
      falseAlarms,
      checks,
      hostPids: hosts.flatMap((host) => host.process?.pid ?? []),
      ok: checks.every((check) => check.ok),
    };
  } finally {
    // The hosts first: closed by the monitor, their clients would log every reset connection.
    app.get(LossListener).onLoss = () => undefined;
    await Promise.all(hosts.map((host) => host.kill()));
    await app.close();
  }
}

function evaluate(
  settings: SoakSettings,
  start: Snapshot,
  end: Snapshot,
  kills: KillReport[],
  falseAlarms: SoakResult['falseAlarms'],
  stale: string[],
): SoakCheck[] {
  const heapGrowth = end.heapUsed - start.heapUsed;
  const grown = Object.keys({ ...start.resources, ...end.resources }).filter(
    (kind) =>
      (end.resources[kind] ?? 0) - (start.resources[kind] ?? 0) >
      resourceTolerance(start.resources[kind] ?? 0),
  );
  return [
    {
      name: 'no false alarm',
      ok: falseAlarms.length === 0,
      detail: `${falseAlarms.length} live targets declared lost`,
    },
    {
      name: 'every killed target declared lost',
      ok: kills.length === settings.kills && kills.every((kill) => kill.missed.length === 0),
      detail: `${kills.reduce((sum, kill) => sum + kill.detected, 0)} of ${kills.reduce((sum, kill) => sum + kill.targets, 0)} in ${kills.length} kills`,
    },
    {
      name: 'every target heartbeating at the end',
      ok: stale.length === 0,
      detail: stale.length === 0 ? 'all fresh' : `stale: ${stale.join(', ')}`,
    },
    {
      name: 'no heap growth',
      ok: heapGrowth <= HEAP_TOLERANCE_BYTES,
      detail: `${mib(heapGrowth)} (tolerance ${mib(HEAP_TOLERANCE_BYTES)})`,
    },
    {
      name: 'no growth in handles or timers',
      ok: grown.length === 0,
      detail:
        grown.length === 0
          ? 'each kind within 5 + 5 % of its start count'
          : `grown: ${grown.join(', ')}`,
    },
  ];
}

function mib(bytes: number): string {
  return `${bytes >= 0 ? '+' : ''}${(bytes / 1_048_576).toFixed(2)} MiB`;
}

function row(name: string, start: string, end: string, change: string): string {
  return `  ${name.padEnd(20)}${start.padStart(12)}${end.padStart(12)}${change.padStart(12)}`;
}

/** The figures as a table, for people reading the output. */
export function formatResult(result: SoakResult): string {
  const { settings, start, end } = result;
  const lines = [
    `soak: ${settings.targets} targets on ${settings.hosts} hosts, interval ${settings.interval} ms, ` +
      `timeout ${settings.timeout} ms, ${settings.durationMs / 1_000} s, ${settings.kills} kills, seed ${settings.seed}`,
    row('', 'start', 'end', 'change'),
    row(
      'heap used (MiB)',
      (start.heapUsed / 1_048_576).toFixed(2),
      (end.heapUsed / 1_048_576).toFixed(2),
      mib(end.heapUsed - start.heapUsed).replace(' MiB', ''),
    ),
  ];
  for (const kind of Object.keys({ ...start.resources, ...end.resources }).toSorted()) {
    const [a, b] = [start.resources[kind] ?? 0, end.resources[kind] ?? 0];
    lines.push(row(kind, String(a), String(b), `${b - a >= 0 ? '+' : ''}${b - a}`));
  }
  for (const kill of result.kills) {
    lines.push(
      `  ${kill.mode} of host ${kill.host} at ${(kill.atMs / 1_000).toFixed(1)} s: ${kill.detected}/${kill.targets} declared lost ` +
        `(${kill.byUnreachable} unreachable, ${kill.byTimeout} timeout), the last after ${kill.maxDetectionMs} ms`,
    );
  }
  lines.push(`  false alarms: ${result.falseAlarms.length}`);
  for (const check of result.checks) {
    lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
  }
  return lines.join('\n');
}

function settingsFromArgs(args: string[]): SoakSettings {
  const { values } = parseArgs({
    args,
    options: {
      targets: { type: 'string', default: '100' },
      hosts: { type: 'string', default: '5' },
      interval: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '3000' },
      duration: { type: 'string', default: '60' },
      kills: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
    },
  });
  const number = (name: keyof typeof values, min: number, max: number) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${values[name]}`);
    }
    return value;
  };
  const hosts = number('hosts', 1, 50);
  return {
    targets: number('targets', hosts, 10_000),
    hosts,
    interval: number('interval', 10, 60_000),
    timeout: number('timeout', 10, 600_000),
    durationMs: number('duration', 1, 3_600) * 1_000,
    kills: number('kills', 0, 100),
    seed: number('seed', 0, 2 ** 32 - 1),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const result = await runSoak(settingsFromArgs(process.argv.slice(2)));
    process.stdout.write(`${formatResult(result)}\nSOAK-RESULT ${JSON.stringify(result)}\n`);
    process.exitCode = result.ok ? 0 : 1;
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}

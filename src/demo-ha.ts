/**
 * The high-availability demo behind `npm start -- --ha`: a 3-member etcd cluster on loopback, two
 * ResourceManagers campaigning for leadership and three TaskManagers that find the leader on etcd.
 * It kills the leader (SIGKILL), prints the takeover as it happens (who leads, with which fencing
 * token, how long it took), starts the killed one again as a standby, then stops the new leader
 * with SIGTERM (it resigns) to show the faster takeover. Ctrl-C (or `--duration`) stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEtcdCluster, type EtcdCluster } from './services/local-servers.js';

const dist = fileURLToPath(new URL('../apps/', import.meta.url));
const POLL_MS = 100;
/** How long the demo waits for a takeover: a minute. */
const MAX_TAKEOVER_POLLS = 600;
const KILL_AT_MS = 10_000;
const RESTART_AFTER_MS = 6_000;
const TERMINATE_AFTER_MS = 10_000;
const STOP_GRACE_MS = 3_000;
/** Log lines worth showing: readiness, leadership, registrations, losses. */
const INTERESTING =
  /ready|Leading|Stepped down|leader is|registered|lost|Leaving|Invalid|ERROR|EADDRINUSE/;
const NEST_PREFIX = /^\[Nest\]\s+\d+\s+-\s+\S+,?\s+\S+\s+\S+\s+/;

interface Member {
  readonly name: string;
  readonly script: string;
  readonly env: Record<string, string>;
  readonly httpPort?: number;
  process?: ChildProcess;
}

interface LeaderView {
  readonly leader: boolean;
  readonly fencingToken: string | null;
  readonly taskmanagers: number;
}

function say(line: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
}

export async function runHaDemo(durationMs: number | undefined): Promise<void> {
  const heartbeatEnv = {
    HEARTBEAT_INTERVAL_MS: process.env.HEARTBEAT_INTERVAL_MS ?? '500',
    HEARTBEAT_TIMEOUT_MS: process.env.HEARTBEAT_TIMEOUT_MS ?? '3000',
  };
  const ttl = process.env.HA_LEASE_TTL_S ?? '3';
  say('[demo] starting a 3-member etcd cluster on loopback (installing etcd-server if missing)');
  const etcd: EtcdCluster = await startEtcdCluster(3);
  say(`[demo] etcd is up: ${etcd.endpoints}`);
  const haEnv = {
    HA_MODE: 'etcd',
    HA_ETCD_ENDPOINTS: etcd.endpoints,
    HA_CLUSTER_ID: 'demo',
    HA_LEASE_TTL_S: ttl,
  };
  const basePort = Number(process.env.RM_TCP_PORT ?? '6123');
  const baseHttpPort = Number(process.env.RM_HTTP_PORT ?? '8081');
  const resourceManagers: Member[] = [0, 1].map((i) => ({
    name: `resource-manager-${i + 1}`,
    script: 'resource-manager/src/main.js',
    httpPort: baseHttpPort + i,
    env: {
      ...haEnv,
      RM_HOST: '127.0.0.1',
      RM_TCP_PORT: String(basePort + i),
      RM_HTTP_PORT: String(baseHttpPort + i),
    },
  }));
  const taskManagers: Member[] = [2, 2, 4].map((slots, i) => ({
    name: `taskmanager-${i + 1}`,
    script: 'task-manager/src/main.js',
    env: { ...haEnv, TM_ID: `taskmanager-${i + 1}`, TM_SLOTS: String(slots) },
  }));
  const timers: NodeJS.Timeout[] = [];
  // An object, not a variable: the loops that read it see it change under them.
  const run = { stopping: false };

  const start = (member: Member) => {
    const child = spawn(process.execPath, [dist + member.script], {
      env: { ...process.env, ...heartbeatEnv, ...member.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // Ctrl-C reaches only the demo, which stops the children in order
    });
    member.process = child;
    say(`[demo] started ${member.name} (pid ${child.pid})`);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (INTERESTING.test(line)) {
          say(`[${member.name}] ${line.replace(NEST_PREFIX, '')}`);
        }
      });
    }
    child.on('close', (code, signal) => {
      if (!run.stopping) {
        say(`[demo] ${member.name} exited (${signal ?? `code ${code}`})`);
      }
    });
  };

  const viewOf = async (member: Member): Promise<LeaderView | null> => {
    try {
      const response = await fetch(`http://127.0.0.1:${member.httpPort}/overview`, {
        signal: AbortSignal.timeout(1_000),
      });
      return (await response.json()) as LeaderView;
    } catch {
      return null;
    }
  };

  /** The ResourceManager that leads all three TaskManagers, once one does. */
  const currentLeader = async (): Promise<{ member: Member; view: LeaderView } | null> => {
    for (const member of resourceManagers) {
      const view = await viewOf(member);
      if (view?.leader && view.taskmanagers === taskManagers.length) {
        return { member, view };
      }
    }
    return null;
  };

  /** Takes the leader out with `signal`, and prints who leads after it, with what, how soon. */
  const takeOver = async (signal: NodeJS.Signals) => {
    const before = await currentLeader();
    if (!before || run.stopping) {
      say('[demo] no leader with every TaskManager yet; skipping this step');
      return;
    }
    say(
      `[demo] ${before.member.name} leads (fencing token ${before.view.fencingToken}); sending it ${signal}`,
    );
    const from = Date.now();
    before.member.process?.kill(signal);
    for (let poll = 0; poll < MAX_TAKEOVER_POLLS && !run.stopping; poll++) {
      const after = await currentLeader();
      if (after && after.member !== before.member) {
        say(
          `[demo] takeover after ${signal}: ${after.member.name} leads with fencing token ` +
            `${after.view.fencingToken} and all ${after.view.taskmanagers} TaskManagers, ` +
            `${Date.now() - from} ms after the signal`,
        );
        return before.member;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    say(`[demo] no takeover after ${signal} within a minute`);
    return undefined;
  };

  const terminate = (member: Member) => {
    const child = member.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    });
  };

  const stop = async (exitCode: number) => {
    if (run.stopping) {
      return;
    }
    run.stopping = true;
    timers.forEach(clearTimeout);
    say('[demo] stopping the TaskManagers, the ResourceManagers, then etcd');
    await Promise.all(taskManagers.map(terminate));
    await Promise.all(resourceManagers.map(terminate));
    await etcd.stop();
    say('[demo] all processes stopped');
    process.exit(exitCode);
  };

  process.on('exit', () => {
    for (const member of [...resourceManagers, ...taskManagers]) {
      const child = member.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
  });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  say(
    `[demo] heartbeat interval ${heartbeatEnv.HEARTBEAT_INTERVAL_MS} ms, timeout ` +
      `${heartbeatEnv.HEARTBEAT_TIMEOUT_MS} ms, leadership lease TTL ${ttl} s; ResourceManagers at ` +
      resourceManagers.map((rm) => `http://127.0.0.1:${rm.httpPort}/overview`).join(' and '),
  );
  resourceManagers.forEach(start);
  taskManagers.forEach(start);
  if (durationMs !== undefined) {
    say(`[demo] stopping by itself after ${durationMs / 1_000} s`);
    timers.push(setTimeout(() => void stop(0), durationMs));
  }
  timers.push(
    setTimeout(() => {
      void (async () => {
        const killed = await takeOver('SIGKILL');
        if (!killed || run.stopping) {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RESTART_AFTER_MS));
        if (run.stopping) {
          return;
        }
        say(`[demo] starting ${killed.name} again: it stands by`);
        start(killed);
        await new Promise((resolve) => setTimeout(resolve, TERMINATE_AFTER_MS));
        await takeOver('SIGTERM');
      })();
    }, KILL_AT_MS),
  );
}

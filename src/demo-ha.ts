/**
 * The high-availability demo behind `npm start -- --ha`: a 3-member etcd cluster on loopback, two
 * ResourceManagers campaigning for leadership and three TaskManagers that find the leader on etcd.
 * It kills the leader (SIGKILL), prints the takeover as it happens (who leads, with which fencing
 * token, how long it took), starts the killed one again as a standby, then stops the new leader
 * with SIGTERM (it resigns) to show the faster takeover. Ctrl-C (or `--duration`) stops everything.
 */
import { LocalHaCluster, type Member } from './support/local-ha-cluster.js';

const KILL_AT_MS = 10_000;
const RESTART_AFTER_MS = 6_000;
const TERMINATE_AFTER_MS = 10_000;
const TAKEOVER_TIMEOUT_MS = 60_000;
/** Log lines worth showing: readiness, leadership, registrations, losses. */
const INTERESTING =
  /ready|Leading|Stepped down|leader is|registered|lost|Leaving|Invalid|ERROR|EADDRINUSE/;
const NEST_PREFIX = /^\[Nest\]\s+\d+\s+-\s+\S+,?\s+\S+\s+\S+\s+/;

function say(line: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runHaDemo(durationMs: number | undefined): Promise<void> {
  const env = {
    HEARTBEAT_INTERVAL_MS: process.env.HEARTBEAT_INTERVAL_MS ?? '500',
    HEARTBEAT_TIMEOUT_MS: process.env.HEARTBEAT_TIMEOUT_MS ?? '3000',
    HA_LEASE_TTL_S: process.env.HA_LEASE_TTL_S ?? '3',
    HA_CLUSTER_ID: 'demo',
  };
  const tcpPort = Number(process.env.RM_TCP_PORT ?? '6123');
  const httpPort = Number(process.env.RM_HTTP_PORT ?? '8081');
  say('[demo] starting a 3-member etcd cluster on loopback (installing etcd-server if missing)');
  const cluster = await LocalHaCluster.start({
    // The first ResourceManager on RM_TCP_PORT / RM_HTTP_PORT (6123 / 8081), the second on the next ports.
    resourceManagerPorts: [0, 1].map((i) => ({ tcp: tcpPort + i, http: httpPort + i })),
    taskManagerSlots: [2, 2, 4],
    env,
    onStart: (name, pid) => say(`[demo] started ${name} (pid ${pid})`),
    onLine: (member, line) => {
      if (INTERESTING.test(line)) {
        say(`[${member.name}] ${line.replace(NEST_PREFIX, '')}`);
      }
    },
    onExit: (member, code, signal) =>
      say(`[demo] ${member.name} exited (${signal ?? `code ${code}`})`),
  });
  say(
    `[demo] etcd at ${cluster.etcd.endpoints}; heartbeat interval ${env.HEARTBEAT_INTERVAL_MS} ms, ` +
      `timeout ${env.HEARTBEAT_TIMEOUT_MS} ms, leadership lease TTL ${env.HA_LEASE_TTL_S} s; ResourceManagers at ` +
      cluster.resourceManagers
        .map((rm) => `http://127.0.0.1:${rm.httpPort}/overview`)
        .join(' and '),
  );

  let stopping = false;
  const stop = async (exitCode: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    say('[demo] stopping the TaskManagers, the ResourceManagers, then etcd');
    await cluster.stop();
    say('[demo] all processes stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  if (durationMs !== undefined) {
    say(`[demo] stopping by itself after ${durationMs / 1_000} s`);
    setTimeout(() => void stop(0), durationMs);
  }

  /** Takes the leader out with `signal` and prints the takeover; returns the one taken out. */
  const takeOver = async (signal: NodeJS.Signals): Promise<Member | null> => {
    const leader = await cluster.leader();
    if (!leader) {
      say('[demo] no ResourceManager leads every TaskManager yet; skipping this step');
      return null;
    }
    say(
      `[demo] ${leader.member.name} leads (fencing token ${leader.view.fencingToken}); sending it ${signal}`,
    );
    const takeover = await cluster.takeOver(signal, TAKEOVER_TIMEOUT_MS);
    if (!takeover) {
      say(`[demo] no takeover within ${TAKEOVER_TIMEOUT_MS / 1_000} s of the ${signal}`);
      return null;
    }
    say(
      `[demo] takeover after ${signal}: ${takeover.to.name} leads with fencing token ${takeover.toToken} ` +
        `and all ${cluster.taskManagers.length} TaskManagers, ${takeover.ms} ms after the signal`,
    );
    return takeover.from;
  };

  await sleep(KILL_AT_MS);
  const killed = stopping ? null : await takeOver('SIGKILL');
  if (!killed || stopping) {
    return;
  }
  await sleep(RESTART_AFTER_MS);
  if (stopping) {
    return;
  }
  say(`[demo] starting ${killed.name} again: it stands by`);
  cluster.startMember(killed);
  await sleep(TERMINATE_AFTER_MS);
  if (!stopping) {
    await takeOver('SIGTERM');
  }
}

/**
 * How long the sample cluster's HA takes to replace its leader: the built apps on a 3-member etcd
 * cluster on loopback (two ResourceManagers, two TaskManagers), the leader taken out again and
 * again, SIGKILL and SIGTERM in turn, timed from the signal until the standby leads both
 * TaskManagers (polled every 20 ms, which bounds the resolution). The one taken out is started
 * again and stands by before the next round.
 */
import { freeLoopbackPort } from '../services/local-servers.js';
import { LocalHaCluster } from '../support/local-ha-cluster.js';
import { log, quick } from './plan.js';
import { distribution, type Distribution } from './stats.js';

const ROUNDS_PER_SIGNAL = quick ? 2 : 5;
const LEASE_TTL_S = 2;
const INTERVAL_MS = 200;
const TIMEOUT_MS = 1_500;
/** Bound of one takeover; a round without one counts as failed. */
const TAKEOVER_TIMEOUT_MS = 30_000;

export interface TakeoverResult {
  readonly leaseTtlSeconds: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly sigkill: Distribution;
  readonly sigterm: Distribution;
  /** Rounds in which no standby took over within the bound. */
  readonly failed: number;
}

async function waitUntilStandingBy(cluster: LocalHaCluster, name: string): Promise<void> {
  const member = cluster.resourceManagers.find((rm) => rm.name === name);
  if (!member) {
    return;
  }
  for (const deadline = Date.now() + TAKEOVER_TIMEOUT_MS; Date.now() < deadline;) {
    const view = await cluster.viewOf(member);
    if (view && !view.leader) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function measureTakeover(): Promise<TakeoverResult> {
  log(
    `takeover: ${ROUNDS_PER_SIGNAL} rounds each of SIGKILL and SIGTERM, lease TTL ${LEASE_TTL_S} s`,
  );
  const resourceManagerPorts = [];
  for (let i = 0; i < 2; i++) {
    resourceManagerPorts.push({ tcp: await freeLoopbackPort(), http: await freeLoopbackPort() });
  }
  const cluster = await LocalHaCluster.start({
    resourceManagerPorts,
    taskManagerSlots: [2, 2],
    env: {
      HEARTBEAT_INTERVAL_MS: String(INTERVAL_MS),
      HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS),
      HA_LEASE_TTL_S: String(LEASE_TTL_S),
      HA_CLUSTER_ID: 'bench',
    },
  });
  const times: Record<'SIGKILL' | 'SIGTERM', number[]> = { SIGKILL: [], SIGTERM: [] };
  let failed = 0;
  try {
    if (!(await cluster.waitForLeader(TAKEOVER_TIMEOUT_MS))) {
      throw new Error('no ResourceManager came to lead both TaskManagers');
    }
    for (let round = 0; round < 2 * ROUNDS_PER_SIGNAL; round++) {
      const signal = round % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const takeover = await cluster.takeOver(signal, TAKEOVER_TIMEOUT_MS);
      if (!takeover) {
        failed += 1;
        log(
          `takeover: round ${round + 1} (${signal}): no takeover within ${TAKEOVER_TIMEOUT_MS} ms`,
        );
        break;
      }
      times[signal].push(takeover.ms);
      log(`takeover: round ${round + 1} (${signal}): ${takeover.ms} ms, token ${takeover.toToken}`);
      await cluster.exited(takeover.from);
      cluster.startMember(takeover.from);
      await waitUntilStandingBy(cluster, takeover.from.name);
    }
  } finally {
    await cluster.stop();
  }
  return {
    leaseTtlSeconds: LEASE_TTL_S,
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    sigkill: distribution(times.SIGKILL),
    sigterm: distribution(times.SIGTERM),
    failed,
  };
}

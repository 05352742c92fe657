/**
 * The high-availability demo behind `npm start -- --ha`: a 3-member etcd cluster on loopback, two
 * ResourceManagers campaigning for leadership, three TaskManagers and a JobMaster that find the
 * leader on etcd. It submits one job to the JobMaster, kills the leader (SIGKILL), prints the
 * takeover as it happens (who leads, with which fencing token, how long it took) and that the
 * JobMaster's job kept its slots with the new leader, starts the killed one again as a standby, then
 * stops the new leader with SIGTERM (it resigns) to show the faster takeover. Ctrl-C (or
 * `--duration`) stops everything.
 *
 * Ports: the ResourceManagers on RM_TCP_PORT and the next one (6123, 6124), HTTP on RM_HTTP_PORT and
 * RM_HTTP_PORT + 2 (8081, 8083); the JobMaster's HTTP API on JM_HTTP_PORT, by default RM_HTTP_PORT + 1
 * (8082, as in the other demo).
 */
import { LocalHaCluster, type Member } from './support/local-ha-cluster.js';

const KILL_AT_MS = 10_000;
const RESTART_AFTER_MS = 6_000;
const TERMINATE_AFTER_MS = 10_000;
const TAKEOVER_TIMEOUT_MS = 60_000;
/** How long the job's submission, and the JobMaster's registration with a new leader, may take. */
const JOB_TIMEOUT_MS = 20_000;
const POLL_MS = 200;
const JOB = { jobId: 'job-1', slots: 3 };
/** Log lines worth showing: readiness, leadership, registrations, losses, the job's slots. */
const INTERESTING =
  /ready|Leading|Stepped down|leader is|registered|lost|Leaving|Invalid|ERROR|EADDRINUSE|Job |Granted|replacement|short of/;
const NEST_PREFIX = /^\[Nest\]\s+\d+\s+-\s+\S+,?\s+\S+\s+\S+\s+/;

function say(line: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface JobView {
  readonly jobId: string;
  readonly state: string;
  readonly slots: ReadonlyArray<{
    readonly taskManagerId: string;
    readonly slotIndex: number;
    readonly allocationId: string;
  }>;
}

/** "taskmanager-1 slots 0, 1; taskmanager-3 slot 0", by TaskManager. */
function describePlacement(slots: JobView['slots']): string {
  const byTaskManager = new Map<string, number[]>();
  for (const { taskManagerId, slotIndex } of slots.toSorted((a, b) =>
    a.taskManagerId === b.taskManagerId
      ? a.slotIndex - b.slotIndex
      : a.taskManagerId.localeCompare(b.taskManagerId),
  )) {
    byTaskManager.set(taskManagerId, [...(byTaskManager.get(taskManagerId) ?? []), slotIndex]);
  }
  return [...byTaskManager]
    .map(([id, indexes]) => `${id} slot${indexes.length === 1 ? '' : 's'} ${indexes.join(', ')}`)
    .join('; ');
}

const allocations = (job: JobView) =>
  job.slots
    .map(({ allocationId }) => allocationId)
    .toSorted()
    .join();

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return response.ok ? ((await response.json()) as T) : null;
  } catch {
    return null;
  }
}

export async function runHaDemo(durationMs: number | undefined): Promise<void> {
  const env = {
    HEARTBEAT_INTERVAL_MS: process.env.HEARTBEAT_INTERVAL_MS ?? '500',
    HEARTBEAT_TIMEOUT_MS: process.env.HEARTBEAT_TIMEOUT_MS ?? '3000',
    HA_LEASE_TTL_S: process.env.HA_LEASE_TTL_S ?? '3',
    HA_CLUSTER_ID: 'demo',
  };
  const tcpPort = Number(process.env.RM_TCP_PORT ?? '6123');
  const httpPort = Number(process.env.RM_HTTP_PORT ?? '8081');
  // Between the two ResourceManagers' HTTP ports: 8082, the JobMaster's default, as in the other demo.
  const jobMasterHttpPort = Number(process.env.JM_HTTP_PORT ?? String(httpPort + 1));
  const jobMasterAddress = `http://127.0.0.1:${jobMasterHttpPort}`;
  say('[demo] starting a 3-member etcd cluster on loopback (installing etcd-server if missing)');
  const cluster = await LocalHaCluster.start({
    // The first ResourceManager on RM_TCP_PORT / RM_HTTP_PORT (6123 / 8081), the second on the next
    // TCP port and the HTTP port after the JobMaster's (6124 / 8083).
    resourceManagerPorts: [0, 1].map((i) => ({ tcp: tcpPort + i, http: httpPort + 2 * i })),
    taskManagerSlots: [2, 2, 4],
    jobMasters: [{ id: 'jobmaster-1', http: jobMasterHttpPort }],
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
        .join(' and ') +
      `; JobMaster at ${jobMasterAddress}/jobs`,
  );
  const jobMaster = cluster.jobMasters[0];

  let stopping = false;
  const stop = async (exitCode: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    say('[demo] stopping the JobMaster, the TaskManagers, the ResourceManagers, then etcd');
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

  let job: JobView | null = null;

  /** Submits the job once a leader has every TaskManager and the JobMaster is registered (503 until then). */
  const submitJob = async (): Promise<JobView | null> => {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    let reason = 'no leader with every TaskManager';
    while (Date.now() < deadline) {
      if (stopping) {
        return null;
      }
      if (await cluster.leader()) {
        try {
          const response = await fetch(`${jobMasterAddress}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(JOB),
            signal: AbortSignal.timeout(JOB_TIMEOUT_MS),
          });
          const body = (await response.json()) as JobView & { message?: unknown };
          if (response.status === 201) {
            say(
              `[demo] submitted ${JOB.jobId} (${JOB.slots} slots) to ${jobMaster.name}: it runs on ${describePlacement(body.slots)}`,
            );
            return body;
          }
          reason = `${response.status} ${JSON.stringify(body.message ?? body)}`;
          if (response.status !== 503) {
            break;
          }
        } catch (error) {
          reason = (error as Error).message;
        }
      }
      await sleep(POLL_MS);
    }
    if (!stopping) {
      say(`[demo] could not submit ${JOB.jobId}: ${reason}`);
    }
    return null;
  };

  /**
   * Waits until the new leader lists the JobMaster with the job, and prints whether the job kept
   * the slots it had (the same allocations).
   */
  const followJob = async (leader: Member, before: JobView): Promise<JobView | null> => {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (stopping) {
        return null;
      }
      const seen = await getJson<{ jobmasters: Array<{ id: string; jobs: string[] }> }>(
        `http://127.0.0.1:${leader.httpPort}/jobmasters`,
      );
      const current = await getJson<JobView>(`${jobMasterAddress}/jobs/${JOB.jobId}`);
      const listed = seen?.jobmasters.some(
        ({ id, jobs }) => id === jobMaster.name && jobs.includes(JOB.jobId),
      );
      if (listed && current?.state === 'running') {
        say(
          `[demo] ${leader.name} lists ${jobMaster.name} with ${JOB.jobId}: ${current.state} on ${describePlacement(current.slots)}` +
            (allocations(current) === allocations(before)
              ? ', the same slots as before the takeover'
              : ', on new slots'),
        );
        return current;
      }
      await sleep(POLL_MS);
    }
    if (!stopping) {
      say(`[demo] ${leader.name} does not list ${jobMaster.name} with ${JOB.jobId} running yet`);
    }
    return null;
  };

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
    if (job) {
      job = (await followJob(takeover.to, job)) ?? job;
    }
    return takeover.from;
  };

  const [submitted] = await Promise.all([submitJob(), sleep(KILL_AT_MS)]);
  job = submitted;
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

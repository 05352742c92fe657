import { startEtcdCluster, type EtcdCluster } from '../../src/services/local-servers.js';
import {
  Cluster,
  FAST_HEARTBEATS,
  noteTiming,
  sleep,
  waitFor,
  waitForLine,
  type Allocation,
  type Overview,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

const { interval } = FAST_HEARTBEATS;
/**
 * etcd's lease behind leadership, in seconds: short, so that a lapsed lease shows quickly, yet
 * long enough that etcd electing a new leader of its own (a member killed) does not lapse it.
 */
const LEASE_TTL_S = 5;
const TTL_MS = LEASE_TTL_S * 1_000;
/** The budgets, from the signal to both TaskManagers registered with the new leader. */
const SIGKILL_BUDGET_MS = TTL_MS + 2 * interval + 1_000;
const SIGTERM_BUDGET_MS = 2 * interval + 1_000;
const HA_TEST_TIMEOUT_MS = 90_000;

interface HaCluster {
  readonly rms: readonly ResourceManagerProcess[];
  readonly tms: readonly TaskManagerProcess[];
}

/** The one ResourceManager whose /overview says it leads, once exactly one does. */
async function leaderAmong(
  rms: readonly ResourceManagerProcess[],
  timeoutMs = 15_000,
): Promise<ResourceManagerProcess> {
  return waitFor(
    async () => {
      const views = await Promise.all(
        rms.map(async (rm) => (rm.alive ? await rm.overview().catch(() => null) : null)),
      );
      const leaders = rms.filter((_, i) => views[i]?.leader === true);
      return leaders.length === 1 ? leaders[0] : undefined;
    },
    { timeoutMs, intervalMs: 25, description: 'exactly one ResourceManager to lead' },
  );
}

/** Waits until `rm` leads and lists both TaskManagers, and returns how long that took since `from`. */
async function takeoverBy(rm: ResourceManagerProcess, from: number, timeoutMs: number) {
  await waitFor(
    async () => {
      const overview = await rm.overview().catch(() => null);
      return overview?.leader === true && overview.taskmanagers === 2 ? overview : undefined;
    },
    { timeoutMs, intervalMs: 20, description: `${rm.name} to lead both TaskManagers` },
  );
  return Date.now() - from;
}

async function allocate(leader: ResourceManagerProcess, jobId: string): Promise<Allocation[]> {
  const { status, body } = await leader.http<{ allocations: Allocation[] }>(
    'POST',
    '/slots/allocate',
    { jobId, count: 2 },
  );
  expect(status).toBe(200);
  return body.allocations;
}

/** Every allocated slot the ResourceManager knows, as allocations. */
async function allocationsKnownTo(rm: ResourceManagerProcess): Promise<Allocation[]> {
  const known: Allocation[] = [];
  for (const id of ['tm-a', 'tm-b']) {
    for (const slot of (await rm.taskManager(id))?.slots ?? []) {
      if (!slot.free && slot.allocationId && slot.jobId) {
        known.push({
          taskManagerId: id,
          slotIndex: slot.index,
          allocationId: slot.allocationId,
          jobId: slot.jobId,
        });
      }
    }
  }
  return known;
}

const byAllocationId = (a: Allocation, b: Allocation) =>
  a.allocationId.localeCompare(b.allocationId);

describe('ResourceManager high availability on a 3-member etcd cluster (real processes)', () => {
  let etcd: EtcdCluster;
  const cluster = new Cluster();
  let clusterNumber = 0;

  beforeAll(async () => {
    etcd = await startEtcdCluster(3);
  }, 600_000); // a fresh machine installs etcd first

  afterEach(async () => {
    await cluster.killAll();
    // A test may have stopped members: the next starts with all three healthy.
    for (const member of etcd.members) {
      if (!member.process.running) {
        await member.process.restart();
      }
    }
    await etcd.waitHealthy();
  }, 30_000);

  afterAll(async () => {
    await cluster.killAll();
    await etcd?.stop();
  }, 30_000);

  /** Two ResourceManagers and two TaskManagers of a cluster of its own (its own HA_CLUSTER_ID). */
  async function startHaCluster(): Promise<HaCluster> {
    clusterNumber += 1;
    const env = {
      HA_MODE: 'etcd',
      HA_ETCD_ENDPOINTS: etcd.endpoints,
      HA_CLUSTER_ID: `ha-test-${clusterNumber}-${process.pid}`,
      HA_LEASE_TTL_S: String(LEASE_TTL_S),
    };
    const rms = [
      await cluster.startResourceManager({ name: 'rm-1', env }),
      await cluster.startResourceManager({ name: 'rm-2', env }),
    ];
    await Promise.all(rms.map((rm) => rm.readyToCampaign()));
    const tms = [
      cluster.startTaskManager({ id: 'tm-a', slots: 2, env }),
      cluster.startTaskManager({ id: 'tm-b', slots: 2, env }),
    ];
    const leader = await leaderAmong(rms);
    await waitFor(async () => (await leader.overview()).taskmanagers === 2, {
      timeoutMs: 15_000,
      description: 'the leader to list both TaskManagers',
    });
    return { rms, tms };
  }

  it(
    'elects one leader; the standby answers /overview and sends every other request to the leader with 503',
    async () => {
      const { rms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const standby = rms.find((rm) => rm !== leader) as ResourceManagerProcess;

      const leading = await leader.overview();
      expect(leading).toMatchObject({ leader: true, taskmanagers: 2, slotsTotal: 4 });
      expect(leading.leaderSince).toBeGreaterThan(leader.startedAt);
      expect(leading.fencingToken).toMatch(/^\d+$/);
      const standing = await standby.overview();
      expect(standing).toMatchObject({ leader: false, leaderSince: null, taskmanagers: 0 });

      const leaderUrl = `http://127.0.0.1:${leader.httpPort}`;
      for (const [method, path, body] of [
        ['GET', '/taskmanagers', undefined],
        ['POST', '/slots/allocate', { jobId: 'job-1', count: 1 }],
      ] as const) {
        const answer = await standby.http(method, path, body);
        expect({ path, status: answer.status, body: answer.body }).toEqual({
          path,
          status: 503,
          body: { error: 'not the leader', leader: leaderUrl },
        });
      }
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'SIGKILL of the leader: the standby leads, with both TaskManagers and every allocation as it was, within TTL + 2 intervals + 1 s',
    async () => {
      const { rms, tms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const standby = rms.find((rm) => rm !== leader) as ResourceManagerProcess;
      const oldToken = (await leader.overview()).fencingToken as string;
      const allocated = await allocate(leader, 'job-before-failover');

      const killedAt = Date.now();
      await leader.kill('SIGKILL');
      const took = await takeoverBy(standby, killedAt, SIGKILL_BUDGET_MS + 10_000);
      noteTiming(
        'SIGKILL takeover (standby leads both TaskManagers) after',
        took,
        SIGKILL_BUDGET_MS,
      );
      expect(took).toBeLessThanOrEqual(SIGKILL_BUDGET_MS);

      const newToken = (await standby.overview()).fencingToken as string;
      expect(BigInt(newToken)).toBeGreaterThan(BigInt(oldToken));
      // Soft state rebuilt from the TaskManagers: the same allocations, the same job.
      expect((await allocationsKnownTo(standby)).toSorted(byAllocationId)).toEqual(
        allocated.toSorted(byAllocationId),
      );
      for (const tm of tms) {
        expect(tm.registrations().at(-1)?.fencingToken).toBe(newToken);
      }
      // None of it can be allocated twice.
      const again = await standby.http('POST', '/slots/allocate', { jobId: 'job-2', count: 3 });
      expect(again.status).toBe(409);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'SIGTERM of the leader: it resigns, and the standby leads both TaskManagers within 2 intervals + 1 s',
    async () => {
      const { rms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const standby = rms.find((rm) => rm !== leader) as ResourceManagerProcess;
      const allocated = await allocate(leader, 'job-before-resign');

      const signalledAt = Date.now();
      const exited = leader.kill('SIGTERM');
      const took = await takeoverBy(standby, signalledAt, SIGTERM_BUDGET_MS + 10_000);
      noteTiming(
        'SIGTERM takeover (standby leads both TaskManagers) after',
        took,
        SIGTERM_BUDGET_MS,
      );
      expect(took).toBeLessThanOrEqual(SIGTERM_BUDGET_MS);
      // Nest re-raises the signal once it has shut down.
      expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(leader.findLine(/Stepped down as leader: resigned/)).toBeDefined();
      expect((await allocationsKnownTo(standby)).toSorted(byAllocationId)).toEqual(
        allocated.toSorted(byAllocationId),
      );
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'SIGSTOP of the leader past its TTL: the standby leads; woken with SIGCONT, the old one steps down and commands nothing',
    async () => {
      const { rms, tms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const standby = rms.find((rm) => rm !== leader) as ResourceManagerProcess;
      const allocated = await allocate(leader, 'job-before-stall');

      const stoppedAt = Date.now();
      leader.signal('SIGSTOP');
      await takeoverBy(standby, stoppedAt, TTL_MS + 15_000);
      const newToken = (await standby.overview()).fencingToken as string;
      const registrationsBefore = tms.map((tm) => tm.registrations().length);

      leader.signal('SIGCONT');
      await waitForLine(leader, /Stepped down as leader: /, { timeoutMs: 5_000 });
      const overview: Overview = await leader.overview();
      expect(overview).toMatchObject({ leader: false, taskmanagers: 0, fencingToken: null });
      // Let whatever it would still do happen: its timers fired on waking.
      await sleep(4 * interval);
      for (const [i, tm] of tms.entries()) {
        // Nothing it sent was taken: no disconnect obeyed, no new registration, slots kept.
        expect(tm.linesMatching(/disconnected us/)).toEqual([]);
        expect(tm.registrations().length).toBe(registrationsBefore[i]);
        expect(tm.registrations().at(-1)?.fencingToken).toBe(newToken);
      }
      expect((await allocationsKnownTo(standby)).toSorted(byAllocationId)).toEqual(
        allocated.toSorted(byAllocationId),
      );
      const allocation = await leader.http('POST', '/slots/allocate', { jobId: 'job-x', count: 1 });
      expect(allocation.status).toBe(503);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'losing one of the three etcd members changes nothing',
    async () => {
      const { rms, tms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const token = (await leader.overview()).fencingToken;
      const registrationsBefore = tms.map((tm) => tm.registrations().length);

      etcd.members[0].process.signal('SIGKILL');
      await sleep(2 * TTL_MS);

      expect(await leader.overview()).toMatchObject({
        leader: true,
        fencingToken: token,
        taskmanagers: 2,
      });
      expect(leader.linesMatching(/Stepped down as leader/)).toEqual([]);
      expect(tms.map((tm) => tm.registrations().length)).toEqual(registrationsBefore);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'losing etcd entirely: the leader steps down when its lease lapses, the TaskManagers keep their slots, and all recovers with etcd',
    async () => {
      const { rms, tms } = await startHaCluster();
      const leader = await leaderAmong(rms);
      const allocated = await allocate(leader, 'job-through-etcd-loss');

      const stoppedAt = Date.now();
      for (const member of etcd.members) {
        member.process.signal('SIGKILL');
      }
      await waitForLine(leader, /Stepped down as leader: /, { timeoutMs: TTL_MS + 5_000 });
      noteTiming(
        'the leader stepped down after etcd stopped, after',
        Date.now() - stoppedAt,
        TTL_MS,
      );
      expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TTL_MS + 1_000);
      // The TaskManagers notice the silence and keep what they hold.
      for (const tm of tms) {
        await waitForLine(
          tm,
          /lost: heartbeat timeout; registering again, keeping \d+ allocated slots/,
          {
            timeoutMs: FAST_HEARTBEATS.timeout + 5_000,
          },
        );
      }
      expect(await Promise.all(rms.map(async (rm) => (await rm.overview()).leader))).toEqual([
        false,
        false,
      ]);

      for (const member of etcd.members) {
        await member.process.restart();
      }
      await etcd.waitHealthy();
      const recovered = await leaderAmong(rms, 30_000);
      await takeoverBy(recovered, Date.now(), 30_000);
      expect((await allocationsKnownTo(recovered)).toSorted(byAllocationId)).toEqual(
        allocated.toSorted(byAllocationId),
      );
    },
    HA_TEST_TIMEOUT_MS,
  );
});

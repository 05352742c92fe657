import {
  Cluster,
  escapeRegExp,
  resourceManagerIdOf,
  FAST_HEARTBEATS,
  noteTiming,
  sleep,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type Allocation,
  type ResourceManagerProcess,
} from './cluster-harness.js';

const { interval, timeout } = FAST_HEARTBEATS;
const TASK_MANAGER_IDS = ['tm-1', 'tm-2'] as const;

/** Every allocated slot `rm` shows, as allocations, in a stable order. */
async function allocationsKnownTo(rm: ResourceManagerProcess): Promise<Allocation[]> {
  const known: Allocation[] = [];
  for (const id of TASK_MANAGER_IDS) {
    for (const slot of (await rm.taskManager(id))?.slots ?? []) {
      if (!slot.free && slot.allocationId !== null && slot.jobId !== null) {
        known.push({
          taskManagerId: id,
          slotIndex: slot.index,
          allocationId: slot.allocationId,
          jobId: slot.jobId,
        });
      }
    }
  }
  return known.toSorted((a, b) => a.allocationId.localeCompare(b.allocationId));
}

describe('a ResourceManager killed with SIGKILL and started again on the same ports (real processes)', () => {
  const cluster = new Cluster();
  afterEach(() => cluster.killAll());

  it(
    'is noticed by both TaskManagers, which register with the new one (newer fencing token) within a few intervals, bringing the allocations they kept',
    async () => {
      const rm1 = await cluster.startResourceManager();
      const tms = [
        cluster.startTaskManager({ id: 'tm-1', slots: 2, resourceManagerTcpPort: rm1.tcpPort }),
        cluster.startTaskManager({ id: 'tm-2', slots: 3, resourceManagerTcpPort: rm1.tcpPort }),
      ];
      const oldToken = await rm1.ready();
      await Promise.all(tms.map((tm) => tm.registered(oldToken)));
      await waitFor(async () => (await rm1.overview()).taskmanagers === 2, {
        timeoutMs: 5_000,
        description: 'the first ResourceManager to list both TaskManagers',
      });
      // Some slots in use when it dies: the TaskManagers keep them (soft state) and report them to
      // the new ResourceManager when they register.
      const allocated = await rm1.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', {
        jobId: 'job-before-restart',
        count: 3,
      });
      expect(allocated.status).toBe(200);
      const allocations = allocated.body.allocations.toSorted((a, b) =>
        a.allocationId.localeCompare(b.allocationId),
      );
      expect(allocations).toHaveLength(3);
      expect(await allocationsKnownTo(rm1)).toEqual(allocations);
      const heldBy = (id: string) => allocations.filter((a) => a.taskManagerId === id).length;

      const killedAt = Date.now();
      await rm1.kill('SIGKILL');

      // The TaskManagers only answer the ResourceManager's requests, so they notice its silence by
      // their heartbeat timeout (or unreachability, should an answer fail).
      const lost = new RegExp(
        `ResourceManager ${escapeRegExp(resourceManagerIdOf(oldToken))} lost: (heartbeat timeout|unreachable); registering again, keeping (\\d+) allocated slots`,
      );
      const noticedAfter = await Promise.all(
        tms.map(async (tm) => {
          const [, , kept] = await waitForLine(tm, lost, {
            timeoutMs: timeout + interval + 10_000,
          });
          expect({ tm: tm.id, kept: Number(kept) }).toEqual({ tm: tm.id, kept: heldBy(tm.id) });
          return Date.now() - killedAt;
        }),
      );
      for (const elapsed of noticedAfter) {
        noteTiming(
          'a TaskManager noticed the killed ResourceManager after',
          elapsed,
          timeout + interval + 1_000,
        );
        expect(elapsed).toBeLessThanOrEqual(timeout + interval + 1_000);
      }

      const rm2 = await cluster.startResourceManager({
        name: 'resource-manager-2',
        tcpPort: rm1.tcpPort,
        httpPort: rm1.httpPort,
      });
      const newToken = await rm2.ready();
      // Fencing tokens are digit strings that grow with each leadership (here: each start).
      expect(newToken).toMatch(/^\d{1,20}$/);
      expect(BigInt(newToken)).toBeGreaterThan(BigInt(oldToken));
      const readyAt = Date.now();
      const overview = await waitFor(
        async () => {
          const answer = await rm2.overview();
          return answer.taskmanagers === 2 && answer;
        },
        {
          timeoutMs: 10_000,
          intervalMs: 25,
          description: 'the new ResourceManager to list both TaskManagers',
        },
      );
      // They retry every interval at most (capped backoff): a few intervals, plus a margin for scheduling.
      noteTiming(
        'both TaskManagers registered with the new ResourceManager after',
        Date.now() - readyAt,
        5 * interval + 1_000,
      );
      expect(Date.now() - readyAt).toBeLessThanOrEqual(5 * interval + 1_000);
      // The restarted ResourceManager took the allocations the TaskManagers reported.
      expect(overview).toEqual({
        taskmanagers: 2,
        slotsTotal: 5,
        slotsAvailable: 5 - allocations.length,
        leader: true,
        leaderSince: Number(newToken),
        fencingToken: newToken,
      });
      expect(await allocationsKnownTo(rm2)).toEqual(allocations);
      for (const tm of tms) {
        const kept = heldBy(tm.id) > 0 ? ` \\(${heldBy(tm.id)} allocated, kept\\)` : '(?! \\()';
        expect(
          rm2.findLine(
            new RegExp(`TaskManager ${tm.id} registered from \\S+ with ${tm.slots} slots${kept}`),
          ),
        ).toBeDefined();
      }
      // None of them can be allocated twice: only the free slots are left.
      const tooMany = await rm2.http<{ message: string }>('POST', '/slots/allocate', {
        jobId: 'job-after-restart',
        count: 3,
      });
      expect(tooMany.status).toBe(409);
      expect(tooMany.body.message).toMatch(/asked for 3, 2 free/);
      for (const tm of tms) {
        expect(await tm.registered(newToken, 5_000)).toEqual({
          resourceManagerId: resourceManagerIdOf(newToken),
          fencingToken: newToken,
        });
      }

      // The new relationship is healthy: heartbeats flow both ways for longer than the timeout, with
      // no further loss on either side.
      const first = await rm2.taskManagers();
      await sleep(timeout + 2 * interval);
      const later = await rm2.taskManagers();
      expect(later.map((view) => view.id).toSorted()).toEqual(['tm-1', 'tm-2']);
      for (const view of later) {
        const before = first.find((candidate) => candidate.id === view.id);
        expect(view.lastHeartbeat).toBeGreaterThan(before!.lastHeartbeat);
        expect(view.timeSinceLastHeartbeat).toBeLessThan(timeout);
      }
      for (const tm of tms) {
        expect(tm.alive).toBe(true);
        expect(tm.linesMatching(lost)).toHaveLength(1);
      }
      expect(await allocationsKnownTo(rm2)).toEqual(allocations);
      expect(rm2.linesMatching(/ lost: /)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

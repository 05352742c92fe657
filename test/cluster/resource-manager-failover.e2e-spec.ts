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
} from './cluster-harness.js';

const { interval, timeout } = FAST_HEARTBEATS;

describe('a ResourceManager killed with SIGKILL and started again on the same ports (real processes)', () => {
  const cluster = new Cluster();
  afterEach(() => cluster.killAll());

  it(
    'is noticed by both TaskManagers, which register with the new one (new fencing token) within a few intervals',
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

      const killedAt = Date.now();
      await rm1.kill('SIGKILL');

      // The TaskManagers only answer the ResourceManager's requests, so they notice its silence by
      // their heartbeat timeout (or unreachability, should an answer fail).
      const lost = new RegExp(
        `ResourceManager ${escapeRegExp(resourceManagerIdOf(oldToken))} lost: (heartbeat timeout|unreachable); registering again`,
      );
      const noticedAfter = await Promise.all(
        tms.map(async (tm) => {
          await waitForLine(tm, lost, { timeoutMs: timeout + interval + 10_000 });
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
      expect(newToken).not.toBe(oldToken);
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
      expect(overview).toEqual({
        taskmanagers: 2,
        slotsTotal: 5,
        slotsAvailable: 5,
        fencingToken: newToken,
      });
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
      expect(rm2.linesMatching(/ lost: /)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

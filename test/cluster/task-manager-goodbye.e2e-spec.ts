import {
  Cluster,
  escapeRegExp,
  resourceManagerIdOf,
  noteTiming,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type HeartbeatSettings,
} from './cluster-harness.js';

// A long timeout and no unreachability detection (threshold -1): the ResourceManager can only drop
// the TaskManager quickly because it said goodbye.
const SLOW_HEARTBEATS: HeartbeatSettings = {
  interval: 500,
  timeout: 20_000,
  rpcFailureThreshold: -1,
};
const GOODBYE_BUDGET_MS = 2_000;

describe('a TaskManager stopped with SIGTERM (real processes)', () => {
  const cluster = new Cluster();
  afterEach(() => cluster.killAll());

  it(
    'says goodbye: the ResourceManager drops it at once, far below the timeout, and the process exits',
    async () => {
      const rm = await cluster.startResourceManager({ heartbeat: SLOW_HEARTBEATS });
      const tm = cluster.startTaskManager({
        id: 'tm-leaving',
        slots: 2,
        resourceManagerTcpPort: rm.tcpPort,
        heartbeat: SLOW_HEARTBEATS,
      });
      const token = await rm.ready();
      await tm.registered(token);
      await waitFor(
        async () => (await rm.taskManagers()).some((view) => view.id === 'tm-leaving'),
        {
          timeoutMs: 5_000,
          description: 'tm-leaving to be listed',
        },
      );

      const stoppedAt = Date.now();
      const exit = tm.kill('SIGTERM');
      const goneAt = await waitFor(
        async () =>
          !(await rm.taskManagers()).some((view) => view.id === 'tm-leaving') && Date.now(),
        {
          timeoutMs: 10_000,
          intervalMs: 25,
          description: 'tm-leaving to disappear from GET /taskmanagers',
        },
      );
      noteTiming('SIGTERMed tm-leaving dropped after', goneAt - stoppedAt, GOODBYE_BUDGET_MS);
      expect(goneAt - stoppedAt).toBeLessThanOrEqual(GOODBYE_BUDGET_MS);

      // The TaskManager exits by itself (Nest re-raises the signal after closing, or exits 0).
      const status = await exit;
      expect(status.signal === 'SIGTERM' || status.code === 0).toBe(true);
      expect(
        tm.findLine(
          new RegExp(
            `Said goodbye to ResourceManager ${escapeRegExp(resourceManagerIdOf(token))} \\(SIGTERM\\)`,
          ),
        ),
      ).toBeDefined();

      await waitForLine(rm, /TaskManager tm-leaving lost: /, { timeoutMs: 1_000 });
      const [line] = rm.lostLines('tm-leaving');
      expect(line).toMatch(
        /TaskManager tm-leaving lost: left \(goodbye\), (\d+ ms after its last heartbeat|no heartbeat in the \d+ ms since it registered); released 2 slots \(0 allocated\)/,
      );
      expect(rm.lostLines('tm-leaving')).toHaveLength(1);
      expect(await rm.overview()).toEqual({
        taskmanagers: 0,
        slotsTotal: 0,
        slotsAvailable: 0,
        leader: true,
        leaderSince: Number(token),
        fencingToken: token,
      });
      expect(rm.alive).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

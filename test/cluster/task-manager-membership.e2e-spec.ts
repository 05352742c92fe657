import {
  Cluster,
  resourceManagerIdOf,
  FAST_HEARTBEATS,
  noteTiming,
  sleep,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type Allocation,
  type ResourceManagerProcess,
  type TaskManagerProcess,
  type TaskManagerView,
} from './cluster-harness.js';

// One ResourceManager and two TaskManagers, as real processes, shared by the tests below (they run
// in order: 3 kills tm-a, 4 starts it again). Each test first checks what it relies on, so a
// failure points at the test that broke rather than at a later one.
const { interval, timeout } = FAST_HEARTBEATS;
const SLOTS = { 'tm-a': 2, 'tm-b': 3 } as const;
const TOTAL_SLOTS = SLOTS['tm-a'] + SLOTS['tm-b'];

function byId(views: readonly TaskManagerView[]): Record<string, TaskManagerView> {
  return Object.fromEntries(views.map((view) => [view.id, view]));
}

/** The port a TaskManager printed in "TaskManager <id> listening on 127.0.0.1:<port>". */
const listeningPort = async (tm: TaskManagerProcess) =>
  Number((await waitForLine(tm, /listening on 127\.0\.0\.1:(\d+) /))[1]);

describe('a ResourceManager with two TaskManagers (real processes)', () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;
  let fencingToken: string;
  let tmA: TaskManagerProcess;
  let tmB: TaskManagerProcess;

  const startTmA = () =>
    cluster.startTaskManager({
      id: 'tm-a',
      slots: SLOTS['tm-a'],
      resourceManagerTcpPort: rm.tcpPort,
    });

  /** Both TaskManagers listed by the ResourceManager (bounded wait). */
  const bothListed = () =>
    waitFor(
      async () => {
        const views = await rm.taskManagers();
        return views.length === 2 && byId(views);
      },
      { timeoutMs: 10_000, description: 'tm-a and tm-b to be listed by GET /taskmanagers' },
    );

  beforeAll(async () => {
    rm = await cluster.startResourceManager();
    tmA = startTmA();
    tmB = cluster.startTaskManager({
      id: 'tm-b',
      slots: SLOTS['tm-b'],
      resourceManagerTcpPort: rm.tcpPort,
    });
    fencingToken = await rm.ready();
    await Promise.all([tmA.registered(fencingToken), tmB.registered(fencingToken)]);
  }, TEST_TIMEOUT_MS);

  afterAll(() => cluster.killAll());

  it(
    'lists both TaskManagers with their slot counts, and their lastHeartbeat advances',
    async () => {
      const first = await bothListed();
      expect(first['tm-a']).toMatchObject({
        address: `127.0.0.1:${await listeningPort(tmA)}`,
        slotsNumber: 2,
        freeSlots: 2,
      });
      expect(first['tm-b']).toMatchObject({
        address: `127.0.0.1:${await listeningPort(tmB)}`,
        slotsNumber: 3,
        freeSlots: 3,
      });
      expect(
        rm.findLine(/TaskManager tm-a registered from 127\.0\.0\.1:\d+ with 2 slots/),
      ).toBeDefined();
      expect(
        rm.findLine(/TaskManager tm-b registered from 127\.0\.0\.1:\d+ with 3 slots/),
      ).toBeDefined();

      // A few intervals later, both have answered newer heartbeat requests.
      await sleep(4 * interval);
      const second = byId(await rm.taskManagers());
      for (const id of ['tm-a', 'tm-b']) {
        expect(second[id].lastHeartbeat).toBeGreaterThan(first[id].lastHeartbeat);
        expect(second[id].timeSinceLastHeartbeat).toBeGreaterThanOrEqual(0);
        expect(second[id].timeSinceLastHeartbeat).toBeLessThan(timeout);
      }
      expect(await rm.overview()).toEqual({
        taskmanagers: 2,
        slotsTotal: TOTAL_SLOTS,
        slotsAvailable: TOTAL_SLOTS,
        // Without HA it leads from its start, with a token of its start time in ms.
        leader: true,
        leaderSince: Number(fencingToken),
        fencingToken,
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'allocates slots on the TaskManagers, answers 409 for more than are free, releases them, and answers 400 for a bad body',
    async () => {
      await bothListed();
      expect(await rm.overview()).toMatchObject({
        slotsTotal: TOTAL_SLOTS,
        slotsAvailable: TOTAL_SLOTS,
      });

      const allocated = await rm.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', {
        jobId: 'job-1',
        count: 3,
      });
      expect(allocated.status).toBe(200);
      const { allocations } = allocated.body;
      expect(allocations).toHaveLength(3);
      for (const allocation of allocations) {
        expect(allocation).toEqual({
          taskManagerId: expect.stringMatching(/^tm-[ab]$/),
          slotIndex: expect.any(Number),
          allocationId: expect.any(String),
          jobId: 'job-1',
        });
      }
      expect(new Set(allocations.map((a) => `${a.taskManagerId}/${a.slotIndex}`)).size).toBe(3);
      expect(new Set(allocations.map((a) => a.allocationId)).size).toBe(3);
      const allocatedAt = Date.now();

      // Wait for a heartbeat from each TaskManager after the allocation: the slots the ResourceManager
      // shows are then the ones the TaskManager itself reported.
      await waitFor(
        async () => {
          const views = await rm.taskManagers();
          return views.length === 2 && views.every((view) => view.lastHeartbeat > allocatedAt);
        },
        {
          timeoutMs: 5_000,
          description: 'a heartbeat from both TaskManagers after the allocation',
        },
      );
      for (const id of ['tm-a', 'tm-b'] as const) {
        const details = await rm.taskManager(id);
        expect(details).toBeDefined();
        const mine = allocations.filter((a) => a.taskManagerId === id);
        const held = details!.slots.filter((slot) => !slot.free);
        expect(
          held.map(({ index, allocationId, jobId }) => ({ index, allocationId, jobId })),
        ).toEqual(
          mine
            .map(({ slotIndex, allocationId, jobId }) => ({
              index: slotIndex,
              allocationId,
              jobId,
            }))
            .toSorted((x, y) => x.index - y.index),
        );
        expect(details!.slots).toHaveLength(SLOTS[id]);
        expect(details!.freeSlots).toBe(SLOTS[id] - mine.length);
      }
      expect(await rm.overview()).toMatchObject({
        slotsTotal: TOTAL_SLOTS,
        slotsAvailable: TOTAL_SLOTS - 3,
      });

      // More than are free (2 are): 409, and nothing changes.
      const tooMany = await rm.http<{ message: string }>('POST', '/slots/allocate', {
        jobId: 'job-x',
        count: 3,
      });
      expect(tooMany.status).toBe(409);
      expect(tooMany.body.message).toMatch(/asked for 3, 2 free/);
      expect(await rm.overview()).toMatchObject({ slotsAvailable: TOTAL_SLOTS - 3 });

      // Bad bodies: 400, and nothing changes.
      const badRequests: Array<[string, unknown]> = [
        ['/slots/allocate', { jobId: 'job-1', count: 0 }],
        ['/slots/allocate', { jobId: 'job-1', count: 1.5 }],
        ['/slots/allocate', { jobId: 'job-1', count: '1' }],
        ['/slots/allocate', { count: 1 }],
        ['/slots/allocate', { jobId: 'not a valid id!', count: 1 }],
        ['/slots/allocate', '{"jobId": "job-1", "count": '],
        ['/slots/release', {}],
        ['/slots/release', { jobId: 42 }],
      ];
      for (const [path, body] of badRequests) {
        const answer = await rm.http('POST', path, body);
        expect({ path, body, status: answer.status }).toEqual({ path, body, status: 400 });
      }
      expect(await rm.overview()).toMatchObject({ slotsAvailable: TOTAL_SLOTS - 3 });

      // Release: every slot of the job is free again, on the TaskManagers too.
      const released = await rm.http<{ released: number }>('POST', '/slots/release', {
        jobId: 'job-1',
      });
      expect(released).toEqual({ status: 200, body: { released: 3 } });
      const releasedAt = Date.now();
      await waitFor(
        async () => {
          const views = await rm.taskManagers();
          return views.length === 2 && views.every((view) => view.lastHeartbeat > releasedAt);
        },
        { timeoutMs: 5_000, description: 'a heartbeat from both TaskManagers after the release' },
      );
      expect(await rm.overview()).toMatchObject({
        taskmanagers: 2,
        slotsTotal: TOTAL_SLOTS,
        slotsAvailable: TOTAL_SLOTS,
      });
      for (const id of ['tm-a', 'tm-b'] as const) {
        const details = await rm.taskManager(id);
        expect(details?.freeSlots).toBe(SLOTS[id]);
        expect(
          details?.slots.every(
            (slot) => slot.free && slot.jobId === null && slot.allocationId === null,
          ),
        ).toBe(true);
      }
      // Nothing left to release.
      expect(await rm.http('POST', '/slots/release', { jobId: 'job-1' })).toEqual({
        status: 200,
        body: { released: 0 },
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'drops a TaskManager killed with SIGKILL within timeout + interval, releases its slots, and leaves the other one alone',
    async () => {
      await bothListed();
      expect(tmA.alive).toBe(true);
      // Every slot allocated, so that both TaskManagers hold some.
      const filled = await rm.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', {
        jobId: 'job-2',
        count: TOTAL_SLOTS,
      });
      expect(filled.status).toBe(200);
      const tmBBefore = await rm.taskManager('tm-b');
      expect(tmBBefore?.freeSlots).toBe(0);
      expect(tmBBefore?.slots.every((slot) => slot.jobId === 'job-2')).toBe(true);
      expect(rm.lostLines('tm-a')).toEqual([]);

      const killedAt = Date.now();
      await tmA.kill('SIGKILL');
      const goneAt = await waitFor(
        async () => !(await rm.taskManagers()).some((view) => view.id === 'tm-a') && Date.now(),
        {
          timeoutMs: timeout + interval + 10_000,
          intervalMs: 25,
          description: 'tm-a to disappear from GET /taskmanagers',
        },
      );
      // Detected by the timeout at the latest (usually earlier, as unreachable); the margin covers
      // polling and process scheduling.
      noteTiming('SIGKILLed tm-a dropped after', goneAt - killedAt, timeout + interval + 1_000);
      expect(goneAt - killedAt).toBeLessThanOrEqual(timeout + interval + 1_000);
      expect(await rm.taskManager('tm-a')).toBeUndefined();
      expect((await rm.http('GET', '/taskmanagers/tm-a')).status).toBe(404);

      // Its slots are released; tm-b's allocated slots are kept.
      expect(await rm.overview()).toEqual({
        taskmanagers: 1,
        slotsTotal: SLOTS['tm-b'],
        slotsAvailable: 0,
        leader: true,
        leaderSince: Number(fencingToken),
        fencingToken,
      });
      const tmBAfter = await rm.taskManager('tm-b');
      expect(tmBAfter?.slots).toEqual(tmBBefore?.slots);
      // ... and it is still heartbeating.
      await sleep(3 * interval);
      const tmBLater = await rm.taskManager('tm-b');
      expect(tmBLater?.lastHeartbeat).toBeGreaterThan(tmBAfter!.lastHeartbeat);
      expect(tmBLater?.slots).toEqual(tmBBefore?.slots);
      expect(tmB.alive).toBe(true);

      // Exactly one "lost" line for tm-a (a few more intervals give a duplicate the chance to show), none for tm-b.
      await sleep(2 * interval);
      const lost = rm.lostLines('tm-a');
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatch(
        /TaskManager tm-a lost: (unreachable|heartbeat timeout), \d+ ms after its last heartbeat; released 2 slots \(2 allocated\)/,
      );
      expect(rm.lostLines('tm-b')).toEqual([]);
      expect(tmB.linesMatching(/lost|disconnected us/)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'registers a TaskManager again when it is restarted with the same TM_ID',
    async () => {
      // Relies on tm-a being dead and gone (the previous test's doing): make sure of it.
      if (tmA.alive) {
        await tmA.kill('SIGKILL');
      }
      await waitFor(async () => !(await rm.taskManagers()).some((view) => view.id === 'tm-a'), {
        timeoutMs: timeout + interval + 5_000,
        description: 'tm-a to be gone before its restart',
      });
      const registrationsBefore = rm.linesMatching(/TaskManager tm-a registered from/).length;
      const tmBSlots = (await rm.taskManager('tm-b'))?.slots;

      tmA = startTmA();
      expect(await tmA.registered()).toEqual({
        resourceManagerId: resourceManagerIdOf(fencingToken),
        fencingToken,
      });
      const port = await listeningPort(tmA);
      const first = await waitFor(() => rm.taskManager('tm-a'), {
        timeoutMs: 5_000,
        description: 'tm-a to be listed again',
      });
      expect(first).toMatchObject({
        id: 'tm-a',
        address: `127.0.0.1:${port}`,
        slotsNumber: 2,
        freeSlots: 2,
      });
      expect(first.slots).toEqual([
        { index: 0, free: true, allocationId: null, jobId: null },
        { index: 1, free: true, allocationId: null, jobId: null },
      ]);
      expect(rm.linesMatching(/TaskManager tm-a registered from/)).toHaveLength(
        registrationsBefore + 1,
      );

      // Heartbeats flow to the new process; tm-b is as it was.
      await sleep(3 * interval);
      const later = await rm.taskManager('tm-a');
      expect(later?.lastHeartbeat).toBeGreaterThan(first.lastHeartbeat);
      expect(later?.timeSinceLastHeartbeat).toBeLessThan(timeout);
      const listed = byId(await rm.taskManagers());
      expect(Object.keys(listed).toSorted()).toEqual(['tm-a', 'tm-b']);
      expect((await rm.taskManager('tm-b'))?.slots).toEqual(tmBSlots);
      const { taskmanagers, slotsTotal } = await rm.overview();
      expect({ taskmanagers, slotsTotal }).toEqual({ taskmanagers: 2, slotsTotal: TOTAL_SLOTS });
    },
    TEST_TIMEOUT_MS,
  );
});

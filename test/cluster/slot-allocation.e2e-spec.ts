import {
  Cluster,
  TEST_TIMEOUT_MS,
  waitFor,
  type Allocation,
  type ResourceManagerProcess,
  type TaskManagerDetails,
} from './cluster-harness.js';

// Slot requests that overlap, or that a TaskManager refuses, must leave the bookkeeping consistent.
describe('slot allocation under concurrent requests (real processes)', () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;

  beforeAll(async () => {
    rm = await cluster.startResourceManager();
    for (const id of ['tm-x', 'tm-y']) {
      cluster.startTaskManager({ id, slots: 2, resourceManagerTcpPort: rm.tcpPort });
    }
    await waitFor(async () => (await rm.overview()).slotsTotal === 4, {
      timeoutMs: 15_000,
      description: 'two TaskManagers with 2 slots each to register',
    });
  }, TEST_TIMEOUT_MS);

  afterAll(() => cluster.killAll());

  const allocatedSlots = async () => {
    const details = await Promise.all(['tm-x', 'tm-y'].map((id) => rm.taskManager(id)));
    return details
      .filter((tm): tm is TaskManagerDetails => !!tm)
      .flatMap((tm) =>
        tm.slots.filter((slot) => !slot.free).map((slot) => `${tm.id}/${slot.index}:${slot.jobId}`),
      );
  };

  it(
    'gives two overlapping requests distinct slots, and refuses a third with 409 without touching any slot',
    async () => {
      const [first, second] = await Promise.all(
        ['job-1', 'job-2'].map((jobId) =>
          rm.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', { jobId, count: 2 }),
        ),
      );
      expect([first.status, second.status]).toEqual([200, 200]);
      const slots = [...first.body.allocations, ...second.body.allocations].map(
        ({ taskManagerId, slotIndex }) => `${taskManagerId}/${slotIndex}`,
      );
      expect(new Set(slots).size).toBe(4);

      const third = await rm.http<{ message: string }>('POST', '/slots/allocate', {
        jobId: 'job-3',
        count: 1,
      });
      expect(third.status).toBe(409);
      expect(third.body.message).toMatch(/Not enough free slots/);

      // The TaskManagers' own reports agree: every slot held by job-1 or job-2, none by job-3.
      const held = await waitFor(
        async () => {
          const allocated = await allocatedSlots();
          return allocated.length === 4 && allocated;
        },
        { timeoutMs: 5_000, description: 'all four slots to be reported allocated' },
      );
      expect(held.filter((slot) => slot.endsWith(':job-1'))).toHaveLength(2);
      expect(held.filter((slot) => slot.endsWith(':job-2'))).toHaveLength(2);

      for (const jobId of ['job-1', 'job-2']) {
        expect(
          (await rm.http<{ released: number }>('POST', '/slots/release', { jobId })).body.released,
        ).toBe(2);
      }
      expect(await allocatedSlots()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

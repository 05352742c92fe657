import {
  Cluster,
  FAST_HEARTBEATS,
  noteTiming,
  resourceManagerIdOf,
  sleep,
  waitFor,
  waitForLine,
  type Allocation,
  type TaskManagerDetails,
} from './cluster-harness.js';
import type { LostConnections } from '../fixtures/fault-proxy.js';
import { startProxiedTaskManager, type ProxiedTaskManager } from './proxied-task-manager.js';

const { interval, timeout } = FAST_HEARTBEATS;
const SLOTS = 2;
/** Detection must come within the timeout plus one interval, plus this much for a loaded machine. */
const MARGIN_MS = 1_500;

describe('a partition between a TaskManager and the ResourceManager (real processes, black-holed both ways)', () => {
  const cluster = new Cluster();
  let link: ProxiedTaskManager | undefined;

  afterEach(async () => {
    await link?.close();
    await cluster.killAll();
  });

  // 'reset': connections that lost bytes are reset on healing. 'silent': they stay dead without a
  // word (a middlebox forgot them), so recovering takes new connections on both sides.
  it.each<LostConnections>(['reset', 'silent'])(
    'is detected by both sides within the timeout; once healed (lost connections: %s) the TaskManager registers again and the slot views agree',
    async (lostConnections) => {
      link = await startProxiedTaskManager(cluster, { id: 'tm-p', slots: SLOTS });
      const { rm, tm, fencingToken, toResourceManager, toTaskManager } = link;
      const resourceManagerId = resourceManagerIdOf(fencingToken);

      // An allocated slot before the partition, so that the views after it mean something.
      const allocated = await rm.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', {
        jobId: 'job-before',
        count: 1,
      });
      expect(allocated.status).toBe(200);
      const [before] = allocated.body.allocations;
      expect(allocated.body.allocations).toHaveLength(1);
      await waitFor(async () => (await rm.taskManager('tm-p'))?.freeSlots === SLOTS - 1, {
        description: 'the allocation in the ResourceManager view',
      });

      toResourceManager.blackHole({ lostConnections });
      toTaskManager.blackHole({ lostConnections });
      const partitionedAt = Date.now();

      const [rmLost] = await waitForLine(rm, /TaskManager tm-p lost: (.*)$/, {
        timeoutMs: timeout + interval + MARGIN_MS + 5_000,
      });
      const rmDetection = Date.now() - partitionedAt;
      const [tmLost] = await waitForLine(
        tm,
        new RegExp(`ResourceManager ${resourceManagerId} lost: (.*); registering again.*$`),
        { timeoutMs: timeout + interval + MARGIN_MS + 5_000 },
      );
      const tmDetection = Date.now() - partitionedAt;
      noteTiming('partition: ResourceManager detection', rmDetection, timeout + interval);
      noteTiming('partition: TaskManager detection', tmDetection, timeout + interval);

      // Connections stay open and silent: only the timeout can tell, never "unreachable".
      expect(rmLost).toMatch(
        /lost: heartbeat timeout, \d+ ms after its last heartbeat; released 2 slots \(1 allocated\)/,
      );
      // The TaskManager keeps its allocated slot (soft state), to report it when it registers again.
      expect(tmLost).toMatch(
        /lost: heartbeat timeout; registering again, keeping 1 allocated slots/,
      );
      for (const detection of [rmDetection, tmDetection]) {
        // The last heartbeat came at most one interval (plus a delivery) before the partition.
        expect(detection).toBeGreaterThanOrEqual(timeout - interval - 100);
        expect(detection).toBeLessThan(timeout + interval + MARGIN_MS);
      }

      // While partitioned, the TaskManager keeps trying and the ResourceManager does not list it.
      await sleep(2 * timeout);
      expect(await rm.taskManagers()).toEqual([]);
      expect(tm.registrations()).toHaveLength(1);
      expect(
        tm.linesMatching(/Registration with the ResourceManager at .* failed/).length,
      ).toBeGreaterThan(0);

      const acceptedBeforeHeal = toResourceManager.accepted;
      toResourceManager.pass();
      toTaskManager.pass();
      const healedAt = Date.now();

      await waitFor(() => tm.registrations().length === 2, {
        timeoutMs: 10_000,
        description: 'tm-p to register again',
      });
      noteTiming('partition: registration after healing', Date.now() - healedAt, 2 * interval);
      expect(tm.registrations()[1].fencingToken).toBe(fencingToken);
      // Its connection had lost bytes: it was reset or silenced on healing; the client opened a new one.
      expect(toResourceManager.accepted).toBeGreaterThan(acceptedBeforeHeal);

      // The TaskManager kept its allocation through the partition and reported it in its new
      // registration (Flink's soft state): the ResourceManager took it, and after heartbeats (slot
      // reports) have gone by, both sides still agree on it.
      const registeredAgainAt = Date.now();
      const view = await waitFor(
        async () => {
          const details = await rm.taskManager('tm-p');
          return details && details.lastHeartbeat > registeredAgainAt && details;
        },
        { timeoutMs: 10_000, description: 'a heartbeat from tm-p after it registered again' },
      );
      const keptSlot = (index: number) =>
        index === before.slotIndex
          ? { index, free: false, allocationId: before.allocationId, jobId: 'job-before' }
          : { index, free: true, allocationId: null, jobId: null };
      expect(view.slots).toEqual(Array.from({ length: SLOTS }, (_, index) => keptSlot(index)));
      expect(view.freeSlots).toBe(SLOTS - 1);
      expect(rm.linesMatching(/TaskManager tm-p registered from /)).toEqual([
        expect.stringMatching(/with 2 slots(?! \()/),
        expect.stringMatching(/with 2 slots \(1 allocated, kept\)/),
      ]);

      // The kept slot cannot be allocated twice: asking for every slot finds only the free one.
      const tooMany = await rm.http<{ message: string }>('POST', '/slots/allocate', {
        jobId: 'job-after',
        count: SLOTS,
      });
      expect(tooMany.status).toBe(409);
      expect(tooMany.body.message).toMatch(new RegExp(`asked for ${SLOTS}, ${SLOTS - 1} free`));

      // The TaskManager agrees: it accepts the free slot (it refuses a slot it holds), and its
      // next reports show both taken, the kept one still by its job.
      const reallocated = await rm.http<{ allocations: Allocation[] }>('POST', '/slots/allocate', {
        jobId: 'job-after',
        count: SLOTS - 1,
      });
      expect(reallocated.status).toBe(200);
      expect(reallocated.body.allocations.map((a) => a.slotIndex)).not.toContain(before.slotIndex);
      const afterReports = Date.now();
      const final = await waitFor(
        async () => {
          const details = await rm.taskManager('tm-p');
          return details && details.lastHeartbeat > afterReports + interval && details;
        },
        { timeoutMs: 10_000, description: 'two more heartbeats from tm-p' },
      );
      expect(final.slots.map((slot: TaskManagerDetails['slots'][number]) => slot.jobId)).toEqual(
        Array.from({ length: SLOTS }, (_, index) =>
          index === before.slotIndex ? 'job-before' : 'job-after',
        ),
      );
      expect(final.slots[before.slotIndex].allocationId).toBe(before.allocationId);
      expect(rm.lostLines('tm-p')).toHaveLength(1);
    },
    60_000,
  );
});

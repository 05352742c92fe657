/**
 * Flink's heartbeat triangle with real processes on 127.0.0.1: a ResourceManager, TaskManagers and
 * a JobMaster. The ResourceManager watches the JobMaster with its `jobMasters` sender (its own
 * timeout, JM_HEARTBEAT_TIMEOUT_MS); the JobMaster watches every TaskManager holding its slots with
 * its `taskManagers` sender; each TaskManager answers the JobMaster's heartbeats with the slots it
 * holds for it. Each test kills one corner and checks what the other two do, and when.
 */
import {
  Cluster,
  escapeRegExp,
  FAST_HEARTBEATS,
  noteTiming,
  resourceManagerIdOf,
  sleep,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type Allocation,
  type JobMasterProcess,
  type JobSlot,
  type JobView,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

const { interval, timeout, rpcFailureThreshold } = FAST_HEARTBEATS;
/** The ResourceManager's `jobMasters` timeout: deliberately not HEARTBEAT_TIMEOUT_MS (1500). */
const JM_HEARTBEAT_TIMEOUT_MS = 1_000;
/** Scheduling slack on a loaded machine, on top of what the settings allow. */
const MARGIN_MS = 1_000;
const SLOTS_PER_TASK_MANAGER = 2;
const JOB_ID = 'job-1';
const JOB_MASTER_ID = 'jm-1';

/** How long a sender takes to declare a dead peer for `reason`, with the given timeout, plus slack. */
function detectionBudget(reason: string, managerTimeout: number): number {
  return reason === 'unreachable'
    ? rpcFailureThreshold * interval + interval + MARGIN_MS
    : managerTimeout + interval + MARGIN_MS;
}

const byAllocation = (a: { allocationId: string }, b: { allocationId: string }) =>
  a.allocationId.localeCompare(b.allocationId);

/** The slots of a job without their order: what two views of it must agree on. */
const sortedSlots = (slots: readonly JobSlot[]): JobSlot[] =>
  slots
    .map(({ taskManagerId, slotIndex, allocationId }) => ({
      taskManagerId,
      slotIndex,
      allocationId,
    }))
    .toSorted(byAllocation);

/** Every allocated slot the ResourceManager shows on `taskManagerIds`, sorted by allocation id. */
async function allocationsKnownTo(
  rm: ResourceManagerProcess,
  taskManagerIds: readonly string[],
): Promise<Allocation[]> {
  const known: Allocation[] = [];
  for (const id of taskManagerIds) {
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
  return known.toSorted(byAllocation);
}

/** The job's slots as `Allocation`s (what the ResourceManager should show for them). */
const asAllocations = (jobId: string, slots: readonly JobSlot[]): Allocation[] =>
  sortedSlots(slots).map((slot) => ({ ...slot, jobId }));

/** The JobMaster's TCP port, from its ready line (the address the ResourceManager heartbeats). */
function tcpPortOf(jm: JobMasterProcess): number {
  const match = jm.findLine(/JobMaster \S+ ready: tcp 127\.0\.0\.1:(\d+)/);
  if (!match) {
    throw new Error(`${jm.name} printed no ready line`);
  }
  return Number(match[1]);
}

interface Triangle {
  readonly rm: ResourceManagerProcess;
  readonly tms: TaskManagerProcess[];
  readonly jm: JobMasterProcess;
  readonly fencingToken: string;
}

/** Submits a job of `count` slots, which must be granted at once. */
async function submitJob(jm: JobMasterProcess, count: number, jobId = JOB_ID): Promise<JobSlot[]> {
  const { status, body } = await jm.submit(jobId, count);
  expect({ status, jobId: body.jobId }).toEqual({ status: 201, jobId });
  expect(body.slots).toHaveLength(count);
  return sortedSlots(body.slots);
}

/** Waits until the job is `running` on `count` slots, none on `deadTaskManagers`. */
function runningAgain(
  jm: JobMasterProcess,
  count: number,
  deadTaskManagers: readonly string[],
  timeoutMs: number,
): Promise<JobView> {
  return waitFor(
    async () => {
      const job = await jm.job(JOB_ID);
      return (
        job.state === 'running' &&
        job.slots.length === count &&
        job.slots.every((slot) => !deadTaskManagers.includes(slot.taskManagerId)) &&
        job
      );
    },
    {
      timeoutMs,
      intervalMs: 25,
      description: `job ${JOB_ID} running on ${count} slots, none on ${deadTaskManagers.join(', ')}`,
    },
  );
}

/** Waits until every TaskManager's slots are free on `rm` (its /overview and each TaskManager). */
async function allFree(
  rm: ResourceManagerProcess,
  tms: readonly TaskManagerProcess[],
  timeoutMs: number,
) {
  await waitFor(
    async () => {
      const overview = await rm.overview();
      return overview.slotsAvailable === overview.slotsTotal && overview.slotsTotal === 6;
    },
    { timeoutMs, intervalMs: 20, description: 'every slot free again on the ResourceManager' },
  );
  for (const tm of tms) {
    expect((await rm.taskManager(tm.id))?.slots.every((slot) => slot.free)).toBe(true);
  }
}

/** Each TaskManager that held a slot of the job logs that it let the JobMaster go. */
async function taskManagersLetGo(
  tms: readonly TaskManagerProcess[],
  slots: readonly JobSlot[],
  timeoutMs: number,
): Promise<string[]> {
  const letGo = new RegExp(
    `(No slot of JobMaster ${JOB_MASTER_ID} is held any more; stopped monitoring it|JobMaster ${JOB_MASTER_ID} lost: .*)`,
  );
  const holders = tms.filter((tm) => slots.some((slot) => slot.taskManagerId === tm.id));
  return Promise.all(holders.map(async (tm) => (await waitForLine(tm, letGo, { timeoutMs }))[1]));
}

/** The TaskManagers holding any of `slots`. */
const holders = (current: readonly JobSlot[]) => [
  ...new Set(current.map((slot) => slot.taskManagerId)),
];
/** The JobMaster's line for the loss of TaskManager `id`, which held slots of its jobs. */
const lostLine = (id: string) =>
  new RegExp(
    `TaskManager ${escapeRegExp(id)} lost: (unreachable|heartbeat timeout); dropped (\\d+) slots? of `,
  );

describe('a JobMaster, its ResourceManager and the TaskManagers holding its slots (real processes)', () => {
  const cluster = new Cluster();
  afterEach(() => cluster.killAll());

  /** A ResourceManager, TaskManagers `taskManagerIds` (2 slots each) and a JobMaster, all registered. */
  async function startTriangle(taskManagerIds = ['tm-1', 'tm-2', 'tm-3']): Promise<Triangle> {
    const rm = await cluster.startResourceManager({
      env: { JM_HEARTBEAT_TIMEOUT_MS: String(JM_HEARTBEAT_TIMEOUT_MS) },
    });
    const tms = taskManagerIds.map((id) =>
      cluster.startTaskManager({
        id,
        slots: SLOTS_PER_TASK_MANAGER,
        resourceManagerTcpPort: rm.tcpPort,
      }),
    );
    const jm = await cluster.startJobMaster({
      id: JOB_MASTER_ID,
      resourceManagerTcpPort: rm.tcpPort,
    });
    const fencingToken = await rm.ready();
    await Promise.all([...tms.map((tm) => tm.registered(fencingToken)), jm.ready()]);
    await waitFor(() => jm.registrations().some((r) => r.fencingToken === fencingToken), {
      timeoutMs: 10_000,
      description: `${jm.name} to register with the ResourceManager`,
    });
    await waitFor(
      async () =>
        (await rm.overview()).taskmanagers === tms.length && (await rm.jobMasters()).length === 1,
      {
        timeoutMs: 10_000,
        description: 'the ResourceManager to list every TaskManager and the JobMaster',
      },
    );
    return { rm, tms, jm, fencingToken };
  }

  it(
    'runs a job on slots of live TaskManagers that the ResourceManager shows as the same allocations, and answers 409 and 400 when it must',
    async () => {
      const { rm, tms, jm } = await startTriangle();
      const liveIds = tms.map((tm) => tm.id);
      // Its jobMasters manager has a timeout of its own (JM_HEARTBEAT_TIMEOUT_MS).
      expect(
        rm.findLine(
          new RegExp(`timeout ${timeout} ms \\(JobMasters: ${JM_HEARTBEAT_TIMEOUT_MS} ms\\)`),
        ),
      ).toBeDefined();
      const slots = await submitJob(jm, 3);
      expect(new Set(slots.map((slot) => slot.allocationId)).size).toBe(3);
      for (const slot of slots) {
        expect(liveIds).toContain(slot.taskManagerId);
      }

      // The slot indexes are the ResourceManager's: the same allocation, for the same job, there.
      for (const slot of slots) {
        const details = await rm.taskManager(slot.taskManagerId);
        expect(details?.slots.find((candidate) => candidate.index === slot.slotIndex)).toEqual({
          index: slot.slotIndex,
          free: false,
          allocationId: slot.allocationId,
          jobId: JOB_ID,
        });
      }
      expect(await allocationsKnownTo(rm, liveIds)).toEqual(asAllocations(JOB_ID, slots));
      expect(await rm.overview()).toMatchObject({ slotsTotal: 6, slotsAvailable: 3 });

      // The ResourceManager lists the JobMaster, where it listens, its job, and hears from it.
      const [view] = await rm.jobMasters();
      expect(view).toMatchObject({
        id: JOB_MASTER_ID,
        address: `127.0.0.1:${tcpPortOf(jm)}`,
        jobs: [JOB_ID],
      });
      noteTiming(
        'GET /jobmasters timeSinceLastHeartbeat',
        view.timeSinceLastHeartbeat,
        interval + MARGIN_MS,
      );
      expect(view.timeSinceLastHeartbeat).toBeLessThanOrEqual(interval + MARGIN_MS);
      expect(Math.abs(Date.now() - view.timeSinceLastHeartbeat - view.lastHeartbeat)).toBeLessThan(
        MARGIN_MS,
      );
      // And keeps hearing from it: the last heartbeat moves on.
      await sleep(3 * interval);
      const [later] = await rm.jobMasters();
      expect(later.lastHeartbeat).toBeGreaterThan(view.lastHeartbeat);
      expect(later.timeSinceLastHeartbeat).toBeLessThanOrEqual(interval + MARGIN_MS);

      // Each TaskManager holding a slot watches the JobMaster; the others do not.
      for (const tm of tms) {
        const watching = new RegExp(
          `Monitoring JobMaster ${JOB_MASTER_ID}, which holds slots of jobs ${JOB_ID}`,
        );
        if (slots.some((slot) => slot.taskManagerId === tm.id)) {
          await waitForLine(tm, watching, { timeoutMs: 5_000 });
        } else {
          expect(tm.findLine(watching)).toBeUndefined();
        }
      }

      // Several heartbeats on (the TaskManagers' answers confirm every slot), still the same job.
      expect(await jm.job(JOB_ID)).toEqual({
        jobId: JOB_ID,
        state: 'running',
        slots: expect.any(Array),
      });
      expect(sortedSlots((await jm.job(JOB_ID)).slots)).toEqual(slots);

      // The same id again: 409, and the job keeps its slots.
      const again = await jm.submit(JOB_ID, 1);
      expect(again.status).toBe(409);
      // More than the 3 free slots: 409, nothing kept, nothing leaked.
      const tooMany = await jm.submit('job-2', 4);
      expect(tooMany.status).toBe(409);
      expect(JSON.stringify(tooMany.body)).toMatch(/asked for 4, 3 free/);
      expect((await jm.http('GET', '/jobs/job-2')).status).toBe(404);
      // Bad bodies: 400.
      for (const body of [
        { jobId: 'job-3' },
        { jobId: 'job-3', slots: 0 },
        { jobId: 'job-3', slots: 1.5 },
        { jobId: 'job-3', slots: '1' },
        { jobId: '', slots: 1 },
        { jobId: 'has space', slots: 1 },
        { slots: 1 },
        '{"jobId": "job-3", "slots": ',
        '[]',
      ]) {
        const answer = await jm.http('POST', '/jobs', body);
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      }
      expect((await jm.http('GET', '/jobs/job-3')).status).toBe(404);
      expect(await rm.overview()).toMatchObject({ slotsTotal: 6, slotsAvailable: 3 });
      expect(await allocationsKnownTo(rm, liveIds)).toEqual(asAllocations(JOB_ID, slots));
      expect(sortedSlots((await jm.job(JOB_ID)).slots)).toEqual(slots);
      expect((await rm.jobMasters()).map(({ id, jobs }) => ({ id, jobs }))).toEqual([
        { id: JOB_MASTER_ID, jobs: [JOB_ID] },
      ]);
      expect(jm.linesMatching(/ lost: /)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it('replaces the slots of a killed TaskManager on the others, and waits (restarting) for a new TaskManager when too few are free', async () => {
    const { rm, tms, jm } = await startTriangle();
    const slots = await submitJob(jm, 3);
    // 1. SIGKILL a TaskManager holding slots of the job: 4 slots remain, enough.
    const firstVictim = tms.find((tm) => tm.id === holders(slots)[0])!;
    const heldByFirst = slots.filter((slot) => slot.taskManagerId === firstVictim.id).length;
    const firstKilledAt = Date.now();
    await firstVictim.kill('SIGKILL');
    const [, firstReason, firstLost] = await waitForLine(jm, lostLine(firstVictim.id), {
      timeoutMs: timeout + interval + 10_000,
    });
    const firstNoticed = Date.now() - firstKilledAt;
    noteTiming(
      `the JobMaster noticed the killed TaskManager (${firstReason}) after`,
      firstNoticed,
      detectionBudget(firstReason, timeout),
    );
    expect(firstNoticed).toBeLessThanOrEqual(detectionBudget(firstReason, timeout));
    expect(Number(firstLost)).toBe(heldByFirst);
    const afterFirst = await runningAgain(jm, 3, [firstVictim.id], timeout + 10_000);
    const firstRecovered = Date.now() - firstKilledAt;
    // The ResourceManager may still offer the dead TaskManager's free slot until it notices the
    // loss itself (its own timeout at worst): the JobMaster retries every interval at most.
    noteTiming(
      'the job was running on 3 slots again after the TaskManager kill after',
      firstRecovered,
      timeout + 3 * interval + MARGIN_MS,
    );
    expect(firstRecovered).toBeLessThanOrEqual(timeout + 3 * interval + MARGIN_MS);
    await waitForLine(jm, new RegExp(`Job ${JOB_ID} got ${heldByFirst} replacement slots? `), {
      timeoutMs: 1_000,
    });
    // The slots it kept are still its own; the replacements are on the other TaskManagers.
    const kept = slots.filter((slot) => slot.taskManagerId !== firstVictim.id);
    for (const slot of kept) {
      expect(afterFirst.slots).toContainEqual(slot);
    }
    const survivors = tms.filter((tm) => tm !== firstVictim).map((tm) => tm.id);
    await waitFor(
      async () => {
        const known = await allocationsKnownTo(rm, survivors);
        return (await rm.overview()).taskmanagers === 2 && known;
      },
      { timeoutMs: 5_000, description: 'the ResourceManager to drop the killed TaskManager' },
    );
    expect(await allocationsKnownTo(rm, survivors)).toEqual(
      asAllocations(JOB_ID, afterFirst.slots),
    );

    // 2. SIGKILL another holder: the last TaskManager has fewer free slots than the job lacks.
    const secondVictim = tms.find((tm) => tm.id === holders(afterFirst.slots)[0])!;
    const [lastStanding] = survivors.filter((id) => id !== secondVictim.id);
    const keptOnLast = afterFirst.slots.filter((slot) => slot.taskManagerId === lastStanding);
    const noReplacement = new RegExp(
      `(Job ${JOB_ID} is short of \\d+ slots?: |Replacements for job ${JOB_ID} \\(\\d+ slots?\\) failed: )`,
    );
    const refusalsBefore = jm.linesMatching(noReplacement).length;
    const secondKilledAt = Date.now();
    await secondVictim.kill('SIGKILL');
    const [, secondReason] = await waitForLine(jm, lostLine(secondVictim.id), {
      timeoutMs: timeout + interval + 10_000,
    });
    const secondNoticed = Date.now() - secondKilledAt;
    noteTiming(
      `the JobMaster noticed the second killed TaskManager (${secondReason}) after`,
      secondNoticed,
      detectionBudget(secondReason, timeout),
    );
    expect(secondNoticed).toBeLessThanOrEqual(detectionBudget(secondReason, timeout));
    // It keeps asking (each refused: not enough free slots), restarting on the slots it has.
    await waitFor(() => jm.linesMatching(noReplacement).length >= refusalsBefore + 3, {
      timeoutMs: timeout + 10 * interval + MARGIN_MS,
      description: 'the JobMaster to ask for replacements again and again',
    });
    const restarting = await jm.job(JOB_ID);
    expect(restarting.state).toBe('restarting');
    expect(sortedSlots(restarting.slots)).toEqual(sortedSlots(keptOnLast));
    expect(jm.findLine(/Not enough free slots: asked for \d+, \d+ free/)).toBeDefined();
    await waitFor(async () => (await rm.overview()).taskmanagers === 1, {
      timeoutMs: 5_000,
      description: 'the ResourceManager to drop the second killed TaskManager',
    });

    // 3. A new TaskManager registers: the next retry (within an interval) gets its slots.
    const newcomer = cluster.startTaskManager({
      id: 'tm-4',
      slots: SLOTS_PER_TASK_MANAGER,
      resourceManagerTcpPort: rm.tcpPort,
    });
    await newcomer.registered();
    const registeredAt = Date.now();
    const recovered = await runningAgain(jm, 3, [firstVictim.id, secondVictim.id], 10_000);
    const recoveredAfter = Date.now() - registeredAt;
    noteTiming(
      "the restarting job got the new TaskManager's slots after it registered, after",
      recoveredAfter,
      2 * interval + MARGIN_MS,
    );
    expect(recoveredAfter).toBeLessThanOrEqual(2 * interval + MARGIN_MS);
    for (const slot of keptOnLast) {
      expect(recovered.slots).toContainEqual(slot);
    }
    expect(
      recovered.slots.every((slot) => [lastStanding, 'tm-4'].includes(slot.taskManagerId)),
    ).toBe(true);
    await waitFor(
      async () =>
        JSON.stringify(await allocationsKnownTo(rm, [lastStanding, 'tm-4'])) ===
        JSON.stringify(asAllocations(JOB_ID, recovered.slots)),
      { timeoutMs: 5_000, description: "the ResourceManager to show the job's new allocations" },
    );
    await waitForLine(
      newcomer,
      new RegExp(`Monitoring JobMaster ${JOB_MASTER_ID}, which holds slots of jobs ${JOB_ID}`),
      { timeoutMs: 5_000 },
    );
    // It stays running: the new TaskManager's answers confirm its slots.
    await sleep(timeout + interval);
    expect(sortedSlots((await jm.job(JOB_ID)).slots)).toEqual(sortedSlots(recovered.slots));
    expect((await jm.job(JOB_ID)).state).toBe('running');
  }, 45_000);

  it(
    'when the JobMaster is killed (SIGKILL), the ResourceManager drops it and frees its slots on every TaskManager',
    async () => {
      const { rm, tms, jm } = await startTriangle();
      const slots = await submitJob(jm, 3);
      const killedAt = Date.now();
      await jm.kill('SIGKILL');
      const [, reason, released] = await waitForLine(
        rm,
        new RegExp(
          `JobMaster ${JOB_MASTER_ID} lost: (unreachable|heartbeat timeout), .*; releasing (\\d+) slots of its 1 job \\(${JOB_ID}\\)`,
        ),
        { timeoutMs: JM_HEARTBEAT_TIMEOUT_MS + 10_000 },
      );
      const noticed = Date.now() - killedAt;
      noteTiming(
        `the ResourceManager noticed the killed JobMaster (${reason}) after`,
        noticed,
        detectionBudget(reason, JM_HEARTBEAT_TIMEOUT_MS),
      );
      expect(noticed).toBeLessThanOrEqual(detectionBudget(reason, JM_HEARTBEAT_TIMEOUT_MS));
      expect(Number(released)).toBe(3);
      // Dropped from the list at once (before the line is logged).
      expect(await rm.jobMasters()).toEqual([]);
      await allFree(rm, tms, 5_000);
      const freedAfter = Date.now() - killedAt;
      noteTiming(
        'every slot of the killed JobMaster was free again after',
        freedAfter,
        detectionBudget(reason, JM_HEARTBEAT_TIMEOUT_MS) + MARGIN_MS,
      );
      expect(freedAfter).toBeLessThanOrEqual(
        detectionBudget(reason, JM_HEARTBEAT_TIMEOUT_MS) + MARGIN_MS,
      );
      // The TaskManagers heard of it: the release, or their own timeout (the JM's heartbeats stopped).
      const lines = await taskManagersLetGo(tms, slots, timeout + interval + MARGIN_MS);
      expect(lines.length).toBeGreaterThan(0);
      // Nothing comes back: the jobs stay free.
      await sleep(timeout + interval);
      expect(await rm.overview()).toMatchObject({ slotsTotal: 6, slotsAvailable: 6 });
      expect(await rm.jobMasters()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when the JobMaster freezes (SIGSTOP), the ResourceManager declares it lost by its own JM_HEARTBEAT_TIMEOUT_MS, not HEARTBEAT_TIMEOUT_MS; thawed, the JobMaster gets its job going again',
    async () => {
      const { rm, tms, jm } = await startTriangle();
      await submitJob(jm, 3);
      // Freeze it just after the ResourceManager heard from it: the silence starts then.
      const [before] = await rm.jobMasters();
      await waitFor(
        async () => {
          const [view] = await rm.jobMasters();
          return view.lastHeartbeat > before.lastHeartbeat && view.timeSinceLastHeartbeat < 50;
        },
        { timeoutMs: 5_000, intervalMs: 5, description: 'a fresh heartbeat from the JobMaster' },
      );
      const stoppedAt = Date.now();
      jm.signal('SIGSTOP');
      const [, silence, released] = await waitForLine(
        rm,
        new RegExp(
          `JobMaster ${JOB_MASTER_ID} lost: heartbeat timeout, (\\d+) ms after its last heartbeat; releasing (\\d+) slots`,
        ),
        { timeoutMs: JM_HEARTBEAT_TIMEOUT_MS + 10_000 },
      );
      const noticed = Date.now() - stoppedAt;
      noteTiming(
        'the ResourceManager declared the frozen JobMaster lost after',
        noticed,
        JM_HEARTBEAT_TIMEOUT_MS + interval + MARGIN_MS,
      );
      noteTiming(
        'the silence the ResourceManager measured before declaring it',
        Number(silence),
        timeout,
      );
      // Its own measure: at least its timeout, and short of the module's 1500 ms.
      expect(Number(silence)).toBeGreaterThanOrEqual(JM_HEARTBEAT_TIMEOUT_MS);
      expect(Number(silence)).toBeLessThan(timeout);
      expect(noticed).toBeGreaterThanOrEqual(JM_HEARTBEAT_TIMEOUT_MS - interval);
      expect(noticed).toBeLessThanOrEqual(JM_HEARTBEAT_TIMEOUT_MS + interval + MARGIN_MS);
      expect(Number(released)).toBe(3);
      expect(await rm.jobMasters()).toEqual([]);
      await allFree(rm, tms, 5_000);

      // Thawed, it learns that the ResourceManager is gone (or moved on), registers again with
      // its job, and, its slots being gone from the TaskManagers, asks for new ones.
      jm.signal('SIGCONT');
      const thawedAt = Date.now();
      await waitFor(
        async () => {
          const [view] = await rm.jobMasters();
          return view?.jobs.includes(JOB_ID);
        },
        {
          timeoutMs: timeout + 10_000,
          description: 'the thawed JobMaster to register again with its job',
        },
      );
      const job = await runningAgain(jm, 3, [], timeout + 10_000);
      noteTiming(
        'the thawed JobMaster had its job running again after',
        Date.now() - thawedAt,
        2 * timeout + 4 * interval + MARGIN_MS,
      );
      expect(Date.now() - thawedAt).toBeLessThanOrEqual(2 * timeout + 4 * interval + MARGIN_MS);
      await waitFor(
        async () =>
          JSON.stringify(
            await allocationsKnownTo(
              rm,
              tms.map((tm) => tm.id),
            ),
          ) === JSON.stringify(asAllocations(JOB_ID, job.slots)),
        { timeoutMs: 5_000, description: "the ResourceManager to show the job's allocations" },
      );
      expect(await rm.overview()).toMatchObject({ slotsTotal: 6, slotsAvailable: 3 });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when the JobMaster is stopped (SIGTERM), it says goodbye: the ResourceManager drops it at once and frees its slots',
    async () => {
      const { rm, tms, jm } = await startTriangle();
      const slots = await submitJob(jm, 3);
      const signalledAt = Date.now();
      jm.signal('SIGTERM');
      await waitFor(async () => (await rm.jobMasters()).length === 0, {
        timeoutMs: 5_000,
        intervalMs: 10,
        description: 'the ResourceManager to drop the JobMaster',
      });
      const droppedAfter = Date.now() - signalledAt;
      // Well under its timeout, and under the unreachable detection (threshold × interval) too.
      noteTiming(
        'the ResourceManager dropped the JobMaster after its SIGTERM, after',
        droppedAfter,
        JM_HEARTBEAT_TIMEOUT_MS / 2,
      );
      expect(droppedAfter).toBeLessThan(JM_HEARTBEAT_TIMEOUT_MS / 2);
      await waitForLine(
        rm,
        new RegExp(
          `JobMaster ${JOB_MASTER_ID} lost: left \\(goodbye\\), .*; releasing 3 slots of its 1 job \\(${JOB_ID}\\)`,
        ),
        { timeoutMs: 1_000 },
      );
      await allFree(rm, tms, 2_000);
      noteTiming(
        'every slot was free after the SIGTERM, after',
        Date.now() - signalledAt,
        JM_HEARTBEAT_TIMEOUT_MS,
      );
      expect(Date.now() - signalledAt).toBeLessThan(JM_HEARTBEAT_TIMEOUT_MS);
      // Nest closes the app, then raises the signal again: a clean stop by SIGTERM.
      expect(await jm.waitForExit(10_000)).toEqual({ code: null, signal: 'SIGTERM' });
      expect(
        jm.findLine(
          /Said goodbye to ResourceManager \S+ \(SIGTERM\); it releases the slots of 1 job/,
        ),
      ).toBeDefined();
      await taskManagersLetGo(tms, slots, timeout + interval + MARGIN_MS);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when the ResourceManager is killed (SIGKILL) and started again on the same ports, the job keeps its slots and the JobMaster registers again with it',
    async () => {
      const { rm, tms, jm, fencingToken } = await startTriangle();
      const slots = await submitJob(jm, 3);
      const taskManagerIds = tms.map((tm) => tm.id);
      // Wait for the TaskManagers to confirm every slot before the ResourceManager goes.
      await sleep(3 * interval);
      const killedAt = Date.now();
      await rm.kill('SIGKILL');

      // The JobMaster only answers the ResourceManager's requests: it notices by its timeout.
      const [, reason] = await waitForLine(
        jm,
        new RegExp(
          `ResourceManager ${escapeRegExp(resourceManagerIdOf(fencingToken))} lost: (heartbeat timeout|unreachable); registering again, keeping 1 job`,
        ),
        { timeoutMs: timeout + 10_000, intervalMs: 20 },
      );
      const noticed = Date.now() - killedAt;
      noteTiming(
        `the JobMaster noticed the killed ResourceManager (${reason}) after`,
        noticed,
        timeout + interval + MARGIN_MS,
      );
      expect(noticed).toBeLessThanOrEqual(timeout + interval + MARGIN_MS);
      // Without a ResourceManager a new job cannot get slots: 503.
      expect((await jm.submit('job-2', 1)).status).toBe(503);

      // Meanwhile the JobMaster and the TaskManagers keep heartbeating: the job keeps its slots.
      const downUntil = Date.now() + timeout + 2 * interval;
      while (Date.now() < downUntil) {
        const job = await jm.job(JOB_ID);
        expect({ state: job.state, slots: sortedSlots(job.slots) }).toEqual({
          state: 'running',
          slots,
        });
        await sleep(interval);
      }
      for (const tm of tms) {
        expect(tm.findLine(new RegExp(`JobMaster ${JOB_MASTER_ID} lost`))).toBeUndefined();
      }

      const rm2 = await cluster.startResourceManager({
        name: 'resource-manager-2',
        tcpPort: rm.tcpPort,
        httpPort: rm.httpPort,
        env: { JM_HEARTBEAT_TIMEOUT_MS: String(JM_HEARTBEAT_TIMEOUT_MS) },
      });
      const newToken = await rm2.ready();
      const readyAt = Date.now();
      await waitFor(() => jm.registrations().some((r) => r.fencingToken === newToken), {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: 'the JobMaster to register with the new ResourceManager',
      });
      const registeredAfter = Date.now() - readyAt;
      // It retries every interval at most (capped backoff).
      noteTiming(
        'the JobMaster registered with the new ResourceManager after',
        registeredAfter,
        3 * interval + MARGIN_MS,
      );
      expect(registeredAfter).toBeLessThanOrEqual(3 * interval + MARGIN_MS);
      await waitForLine(
        jm,
        new RegExp(
          `JobMaster ${JOB_MASTER_ID} registered with ResourceManager ${escapeRegExp(resourceManagerIdOf(newToken))} \\(fencing token ${newToken}\\) with 1 job`,
        ),
        { timeoutMs: 1_000 },
      );
      await waitForLine(
        rm2,
        new RegExp(`JobMaster ${JOB_MASTER_ID} registered from \\S+ with 1 job \\(${JOB_ID}\\)`),
        {
          timeoutMs: 1_000,
        },
      );
      const [view] = await waitFor(
        async () => {
          const list = await rm2.jobMasters();
          return list.length === 1 && list;
        },
        { timeoutMs: 5_000, description: 'the new ResourceManager to list the JobMaster' },
      );
      expect(view).toMatchObject({
        id: JOB_MASTER_ID,
        address: `127.0.0.1:${tcpPortOf(jm)}`,
        jobs: [JOB_ID],
      });
      await Promise.all(tms.map((tm) => tm.registered(newToken)));
      await waitFor(
        async () => {
          const overview = await rm2.overview();
          return overview.taskmanagers === 3 && overview;
        },
        { timeoutMs: 5_000, description: 'the new ResourceManager to list the three TaskManagers' },
      );
      expect(await allocationsKnownTo(rm2, taskManagerIds)).toEqual(asAllocations(JOB_ID, slots));
      expect(await rm2.overview()).toMatchObject({ slotsTotal: 6, slotsAvailable: 3 });

      // All healthy for longer than any timeout: the same job, the same slots, no loss.
      await sleep(timeout + 2 * interval);
      expect(await jm.job(JOB_ID)).toEqual({
        jobId: JOB_ID,
        state: 'running',
        slots: expect.any(Array),
      });
      expect(sortedSlots((await jm.job(JOB_ID)).slots)).toEqual(slots);
      const [later] = await rm2.jobMasters();
      expect(later.jobs).toEqual([JOB_ID]);
      expect(later.timeSinceLastHeartbeat).toBeLessThanOrEqual(interval + MARGIN_MS);
      expect(rm2.linesMatching(/ lost: /)).toEqual([]);
      expect(jm.linesMatching(/TaskManager \S+ lost: /)).toEqual([]);
      // The new ResourceManager's free slots are really free: a second job gets them.
      const second = await jm.submit('job-2', 3);
      expect(second.status).toBe(201);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'cancels a job (DELETE): its slots are free on the TaskManagers, and the job is gone',
    async () => {
      const { rm, tms, jm } = await startTriangle();
      const slots = await submitJob(jm, 3);
      const cancelledAt = Date.now();
      const cancelled = await jm.http('DELETE', `/jobs/${JOB_ID}`);
      expect(cancelled).toEqual({ status: 200, body: { jobId: JOB_ID, released: 3 } });
      await allFree(rm, tms, 2_000);
      noteTiming(
        'every slot of the cancelled job was free after',
        Date.now() - cancelledAt,
        MARGIN_MS,
      );
      expect((await jm.http('GET', `/jobs/${JOB_ID}`)).status).toBe(404);
      expect((await jm.http('DELETE', `/jobs/${JOB_ID}`)).status).toBe(404);
      await waitForLine(
        jm,
        new RegExp(`Job ${JOB_ID} deleted: the ResourceManager released 3 slots`),
        {
          timeoutMs: 1_000,
        },
      );
      await taskManagersLetGo(tms, slots, timeout + interval + MARGIN_MS);
      // The JobMaster stays registered, with no job.
      await waitFor(
        async () => {
          const [view] = await rm.jobMasters();
          return view?.id === JOB_MASTER_ID && view.jobs.length === 0;
        },
        { timeoutMs: 2_000, description: 'the ResourceManager to list the JobMaster with no job' },
      );
      // The id is free again.
      const resubmitted = await jm.submit(JOB_ID, 2);
      expect(resubmitted.status).toBe(201);
      expect(await rm.overview()).toMatchObject({ slotsAvailable: 4 });
    },
    TEST_TIMEOUT_MS,
  );
});

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { TaskManagerPatterns, type SlotAllocation, type SlotStatus } from '#cluster';
import { rejectionOf } from '../../../test/fixtures/settling.js';
import {
  answerTaskManagerCommands,
  FENCING_TOKEN,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
  type TaskManagerCommand,
} from '../../../test/fixtures/resource-manager-services.js';
import { NotLeaderError } from './leadership/resource-manager-leadership.service.js';
import { SlotRequestError, type SlotPool } from './slot-pool.service.js';

const free = (index: number): SlotStatus => ({
  index,
  free: true,
  allocationId: null,
  jobId: null,
});

describe('SlotPool', () => {
  let services: ResourceManagerServices;
  let slotPool: SlotPool;
  /** The commands the TaskManagers got, in the order they were sent. */
  let commands: TaskManagerCommand[];
  /** TaskManagers that refuse every command. */
  let refusing: Set<string>;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    services = resourceManagerServices();
    slotPool = services.slotPool;
    ({ commands, refusing } = answerTaskManagerCommands(services));
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  const freeSlotsOf = (taskManagerId: string) =>
    services.registrations
      .get(taskManagerId)
      ?.slots.filter((slot) => slot.free)
      .map((slot) => slot.index);

  it('refuses slot requests once the leadership has ended, with a NotLeaderError, sending nothing', async () => {
    services.registrations.register(tmA);
    services.leadership.stepDown();

    await expect(slotPool.allocate('job-1', 1)).rejects.toBeInstanceOf(NotLeaderError);
    await expect(slotPool.release('job-1')).rejects.toBeInstanceOf(NotLeaderError);
    expect(commands).toEqual([]);
  });

  it('fails an allocation with a NotLeaderError when the leadership ends while its shares go out', async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    const proofFor = services.registrations.proofFor.bind(services.registrations);
    let proofs = 0;
    jest.spyOn(services.registrations, 'proofFor').mockImplementation((registration) => {
      proofs += 1;
      if (proofs === 2) {
        services.leadership.stepDown(); // the lease lapsed between the two shares
      }
      return proofFor(registration);
    });

    await expect(slotPool.allocate('job-1', 4)).rejects.toBeInstanceOf(NotLeaderError);
    // The second share never went out, and nothing was sent once the leadership had ended.
    expect(commands.map(({ taskManagerId, pattern }) => [taskManagerId, pattern])).toEqual([
      ['tm-a', TaskManagerPatterns.allocateSlots],
    ]);
  });

  it("sends the registration's credential with allocate and release commands", async () => {
    const { credential } = services.registrations.register(tmA);

    const [allocation] = await slotPool.allocate('job-1', 1);
    expect(await slotPool.release('job-1')).toBe(1);

    expect(commands.map(({ pattern, data }) => [pattern, data])).toEqual([
      [
        TaskManagerPatterns.allocateSlots,
        {
          fencingToken: FENCING_TOKEN,
          credential,
          allocations: [{ slotIndex: 0, allocationId: allocation.allocationId, jobId: 'job-1' }],
        },
      ],
      [
        TaskManagerPatterns.releaseSlots,
        { fencingToken: FENCING_TOKEN, credential, jobId: 'job-1' },
      ],
    ]);
  });

  it('spreads an allocation over the TaskManagers in registration order and keeps the slots they report', async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });

    const allocations = await slotPool.allocate('job-1', 3);

    expect(allocations).toEqual([
      { taskManagerId: 'tm-a', slotIndex: 0, allocationId: expect.any(String), jobId: 'job-1' },
      { taskManagerId: 'tm-a', slotIndex: 1, allocationId: expect.any(String), jobId: 'job-1' },
      { taskManagerId: 'tm-b', slotIndex: 0, allocationId: expect.any(String), jobId: 'job-1' },
    ]);
    expect(new Set(allocations.map(({ allocationId }) => allocationId)).size).toBe(3);
    expect(freeSlotsOf('tm-a')).toEqual([]);
    expect(freeSlotsOf('tm-b')).toEqual([1]);
    expect(await slotPool.release('job-1')).toBe(3);
    expect(freeSlotsOf('tm-a')).toEqual([0, 1]);
    expect(freeSlotsOf('tm-b')).toEqual([0, 1]);
  });

  it('refuses an allocation larger than the free slots, asking no TaskManager', async () => {
    services.registrations.register(tmA);
    const error = await rejectionOf(slotPool.allocate('job-1', 3));
    expect(error).toBeInstanceOf(SlotRequestError);
    expect((error as Error).message).toBe('Not enough free slots: asked for 3, 2 free');
    expect(commands).toEqual([]);
  });

  it('allocates all or nothing: when one TaskManager refuses, the shares given are released again', async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    refusing.add('tm-b');

    const error = await rejectionOf(slotPool.allocate('job-1', 3));

    expect(error).toBeInstanceOf(SlotRequestError);
    expect((error as Error).message).toBe('Allocation failed: tm-b refuses');
    const [toA, toB, undo] = commands;
    expect([toA, toB].map(({ taskManagerId, pattern }) => [taskManagerId, pattern])).toEqual([
      ['tm-a', TaskManagerPatterns.allocateSlots],
      ['tm-b', TaskManagerPatterns.allocateSlots],
    ]);
    const given = (toA.data.allocations as SlotAllocation[]).map(
      ({ allocationId }) => allocationId,
    );
    expect(undo).toEqual({
      taskManagerId: 'tm-a',
      pattern: TaskManagerPatterns.releaseSlots,
      data: expect.objectContaining({ jobId: 'job-1', allocationIds: given }),
    });
    expect(commands).toHaveLength(3);
    expect(freeSlotsOf('tm-a')).toEqual([0, 1]);
  });

  it('runs allocations one at a time, so that two requests never pick the same free slot', async () => {
    services.registrations.register(tmA);

    const [first, second, third] = await Promise.allSettled([
      slotPool.allocate('job-1', 1),
      slotPool.allocate('job-2', 1),
      slotPool.allocate('job-3', 1),
    ]);

    expect(first).toMatchObject({ status: 'fulfilled', value: [{ slotIndex: 0 }] });
    expect(second).toMatchObject({ status: 'fulfilled', value: [{ slotIndex: 1 }] });
    expect(third).toMatchObject({
      status: 'rejected',
      reason: new SlotRequestError('Not enough free slots: asked for 1, 0 free'),
    });
  });

  it('reports a release that a TaskManager refused as incomplete', async () => {
    services.registrations.register(tmA);
    await slotPool.allocate('job-1', 1);
    refusing.add('tm-a');
    const error = await rejectionOf(slotPool.release('job-1'));
    expect(error).toBeInstanceOf(SlotRequestError);
    expect((error as Error).message).toBe('Release incomplete: tm-a refuses');
  });

  it('sends no command over the client of a TaskManager released while its allocation was under way', async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    refusing.add('tm-b');

    const allocation = rejectionOf(slotPool.allocate('job-1', 3));
    // Runs after the commands went out and before tm-a answers (both are immediates, in order).
    await new Promise((resolve) => setImmediate(resolve));
    expect(commands).toHaveLength(2);
    services.registrations.release('tm-a', 'goodbye');

    expect(await allocation).toEqual(new SlotRequestError('Allocation failed: tm-b refuses'));
    // tm-a's share is not undone over its closed client: the release dropped its slots anyway.
    expect(commands).toHaveLength(2);
  });

  it("allocates for a JobMaster: each command names its owner, each granted slot its TaskManager's address", async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    const owner = { jobMasterId: 'jm-a', heartbeatSecret: 'secret-1' };

    const granted = await slotPool.allocateFor(owner, 'job-1', 3);

    expect(granted).toEqual([
      {
        taskManagerId: 'tm-a',
        host: '127.0.0.1',
        port: 40_001,
        slotIndex: 0,
        allocationId: expect.any(String),
      },
      {
        taskManagerId: 'tm-a',
        host: '127.0.0.1',
        port: 40_001,
        slotIndex: 1,
        allocationId: expect.any(String),
      },
      {
        taskManagerId: 'tm-b',
        host: '127.0.0.1',
        port: 40_002,
        slotIndex: 0,
        allocationId: expect.any(String),
      },
    ]);
    const sent = commands.flatMap(({ data }) => data.allocations as SlotAllocation[]);
    expect(sent).toEqual(
      granted.map(({ slotIndex, allocationId }) => ({
        slotIndex,
        allocationId,
        jobId: 'job-1',
      })),
    );
    // Each command names the owner once, for all of its allocations.
    expect(commands.map(({ data }) => data.jobMaster)).toEqual(commands.map(() => owner));
    // The HTTP API's allocations name no owner.
    await slotPool.allocate('job-2', 1);
    expect(commands.at(-1)?.data.allocations).toEqual([
      { slotIndex: 1, allocationId: expect.any(String), jobId: 'job-2' },
    ]);
    const [httpAllocation] = commands.at(-1)!.data.allocations as SlotAllocation[];
    expect(httpAllocation).not.toHaveProperty('jobMaster');
  });

  it('releases only the given allocations of a job, asking only the TaskManagers that hold them', async () => {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    const allocations = await slotPool.allocate('job-1', 4);
    const onB = allocations.filter(({ taskManagerId }) => taskManagerId === 'tm-b');
    commands.length = 0;

    expect(slotPool.heldSlots('job-1')).toBe(4);
    expect(await slotPool.release('job-1', [onB[0].allocationId, 'unknown-allocation'])).toBe(1);

    expect(
      commands.map(({ taskManagerId, pattern, data }) => [taskManagerId, pattern, data]),
    ).toEqual([
      [
        'tm-b',
        TaskManagerPatterns.releaseSlots,
        expect.objectContaining({ jobId: 'job-1', allocationIds: [onB[0].allocationId] }),
      ],
    ]);
    expect(freeSlotsOf('tm-a')).toEqual([]);
    expect(freeSlotsOf('tm-b')).toEqual([0]);
    expect(slotPool.heldSlots('job-1')).toBe(3);
    // None of the job's: nothing to ask.
    expect(await slotPool.release('job-1', [])).toBe(0);
    expect(commands).toHaveLength(1);
  });

  it('ignores a slot report older than what it knows', () => {
    services.registrations.register(tmA);
    const registration = services.registrations.get('tm-a')!;
    const busy: SlotStatus = { index: 0, free: false, allocationId: 'a-1', jobId: 'job-1' };

    slotPool.applyReport(registration, { version: 5, slots: [busy, free(1)] });
    slotPool.applyReport(registration, { version: 4, slots: [free(0), free(1)] });
    expect(freeSlotsOf('tm-a')).toEqual([1]);
    slotPool.applyReport(registration, { version: 5, slots: [free(0), free(1)] });
    expect(freeSlotsOf('tm-a')).toEqual([0, 1]);
  });
});

import { jest } from '@jest/globals';
import type { GrantedSlot, HeldSlot } from '#cluster';
import { countOf, describeSlots, JobTable } from './job-table.service.js';

const GRACE_MS = 5_000;

/** Slot `slotIndex` of `taskManagerId`, as the ResourceManager grants it. */
const granted = (taskManagerId: string, slotIndex: number, allocationId: string): GrantedSlot => ({
  taskManagerId,
  host: '127.0.0.1',
  port: taskManagerId === 'tm-a' ? 40_001 : 40_002,
  slotIndex,
  allocationId,
});
const held = (jobId: string, allocationId: string, slotIndex: number): HeldSlot => ({
  jobId,
  allocationId,
  slotIndex,
});

describe('JobTable', () => {
  let table: JobTable;
  /** What `performance.now()` reads: the grace of unconfirmed slots runs on it. */
  let now: number;

  beforeEach(() => {
    now = 1_000;
    jest.spyOn(performance, 'now').mockImplementation(() => now);
    table = new JobTable();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('adds a job with its granted slots, unconfirmed, and shows it running with its full count', () => {
    const job = table.add('job-1', 2, [
      granted('tm-a', 0, 'alloc-1'),
      granted('tm-b', 1, 'alloc-2'),
    ]);

    expect(table.size).toBe(1);
    expect(table.jobIds()).toEqual(['job-1']);
    expect(table.get('job-1')).toBe(job);
    expect(job.wanted).toBe(2);
    expect(job.slots.get('alloc-1')).toEqual({
      ...granted('tm-a', 0, 'alloc-1'),
      jobId: 'job-1',
      confirmed: false,
      grantedAt: 1_000,
    });
    expect(table.short()).toEqual([]);
    // The HTTP view: no host or port, nothing internal.
    expect(table.view(job)).toEqual({
      jobId: 'job-1',
      state: 'running',
      slots: [
        { taskManagerId: 'tm-a', slotIndex: 0, allocationId: 'alloc-1' },
        { taskManagerId: 'tm-b', slotIndex: 1, allocationId: 'alloc-2' },
      ],
    });
  });

  it('shows a job short of slots as restarting, lists the short ones in submission order, and a grant completes it', () => {
    const first = table.add('job-1', 2, [granted('tm-a', 0, 'alloc-1')]);
    table.add('job-2', 1, [granted('tm-a', 1, 'alloc-2')]);
    const third = table.add('job-3', 3, []);

    expect(table.view(first).state).toBe('restarting');
    expect(table.short().map((job) => job.jobId)).toEqual(['job-1', 'job-3']);

    now = 2_000;
    table.grant(first, [granted('tm-b', 0, 'alloc-3')]);
    expect(table.view(first)).toEqual({
      jobId: 'job-1',
      state: 'running',
      slots: [
        { taskManagerId: 'tm-a', slotIndex: 0, allocationId: 'alloc-1' },
        { taskManagerId: 'tm-b', slotIndex: 0, allocationId: 'alloc-3' },
      ],
    });
    expect(first.slots.get('alloc-3')).toMatchObject({ confirmed: false, grantedAt: 2_000 });
    expect(table.short()).toEqual([third]);
  });

  it('lists the slots held on one TaskManager across jobs, and the TaskManagers holding any', () => {
    table.add('job-1', 2, [granted('tm-a', 0, 'alloc-1'), granted('tm-b', 0, 'alloc-2')]);
    table.add('job-2', 1, [granted('tm-a', 1, 'alloc-3')]);

    expect(table.heldOn('tm-a')).toEqual([
      held('job-1', 'alloc-1', 0),
      held('job-2', 'alloc-3', 1),
    ]);
    expect(table.heldOn('tm-b')).toEqual([held('job-1', 'alloc-2', 0)]);
    expect(table.heldOn('tm-c')).toEqual([]);
    expect([...table.taskManagerIds()].toSorted()).toEqual(['tm-a', 'tm-b']);
  });

  it("drops a lost TaskManager's slots from every job and returns them, leaving the others", () => {
    const one = table.add('job-1', 2, [
      granted('tm-a', 0, 'alloc-1'),
      granted('tm-b', 0, 'alloc-2'),
    ]);
    const two = table.add('job-2', 1, [granted('tm-a', 1, 'alloc-3')]);

    expect(table.dropOn('tm-a')).toEqual([
      held('job-1', 'alloc-1', 0),
      held('job-2', 'alloc-3', 1),
    ]);

    expect([...one.slots.keys()]).toEqual(['alloc-2']);
    expect(two.slots.size).toBe(0);
    expect(table.heldOn('tm-a')).toEqual([]);
    expect([...table.taskManagerIds()]).toEqual(['tm-b']);
    expect(table.view(one).state).toBe('restarting');
    expect(table.short()).toEqual([one, two]);
    // The jobs stay: they ask for replacements.
    expect(table.jobIds()).toEqual(['job-1', 'job-2']);
    expect(table.dropOn('tm-a')).toEqual([]);
  });

  it('confirms the slots an answer lists, and drops a confirmed slot once an answer no longer lists it', () => {
    const job = table.add('job-1', 2, [
      granted('tm-a', 0, 'alloc-1'),
      granted('tm-a', 1, 'alloc-2'),
    ]);

    expect(
      table.reconcile('tm-a', [held('job-1', 'alloc-1', 0), held('job-1', 'alloc-2', 1)], GRACE_MS),
    ).toEqual({ dropped: [], unknown: [] });
    expect([...job.slots.values()].map((slot) => slot.confirmed)).toEqual([true, true]);

    // At once, not after any grace: a confirmed slot the TaskManager no longer holds is gone.
    expect(table.reconcile('tm-a', [held('job-1', 'alloc-2', 1)], GRACE_MS)).toEqual({
      dropped: [held('job-1', 'alloc-1', 0)],
      unknown: [],
    });
    expect([...job.slots.keys()]).toEqual(['alloc-2']);
    expect(table.view(job).state).toBe('restarting');
  });

  it('keeps an unconfirmed slot an answer does not list within the grace, and drops it after', () => {
    const job = table.add('job-1', 1, [granted('tm-a', 0, 'alloc-1')]);

    now += GRACE_MS - 1;
    expect(table.reconcile('tm-a', [], GRACE_MS)).toEqual({ dropped: [], unknown: [] });
    expect(job.slots.get('alloc-1')?.confirmed).toBe(false);

    now += 1;
    expect(table.reconcile('tm-a', [], GRACE_MS)).toEqual({
      dropped: [held('job-1', 'alloc-1', 0)],
      unknown: [],
    });
    expect(job.slots.size).toBe(0);
  });

  it("takes an answer only for that TaskManager's slots, matching job and allocation, and names what no job knows", () => {
    const one = table.add('job-1', 1, [granted('tm-a', 0, 'alloc-1')]);
    const two = table.add('job-2', 1, [granted('tm-b', 0, 'alloc-2')]);
    now += GRACE_MS;

    const { dropped, unknown } = table.reconcile(
      'tm-a',
      [
        // Our allocation id, but under another job: not ours.
        held('job-9', 'alloc-1', 0),
        // Ours, but on another TaskManager.
        held('job-2', 'alloc-2', 1),
      ],
      GRACE_MS,
    );
    expect(dropped).toEqual([held('job-1', 'alloc-1', 0)]);
    expect(unknown).toEqual([held('job-9', 'alloc-1', 0), held('job-2', 'alloc-2', 1)]);
    expect(one.slots.size).toBe(0);
    // tm-b's slot is untouched by tm-a's answer.
    expect(two.slots.get('alloc-2')).toMatchObject({ taskManagerId: 'tm-b', confirmed: false });
  });

  it('removes a job and returns it; removing it again returns nothing', () => {
    const job = table.add('job-1', 1, [granted('tm-a', 0, 'alloc-1')]);
    expect(table.remove('job-1')).toBe(job);
    expect(table.get('job-1')).toBeUndefined();
    expect(table.size).toBe(0);
    expect(table.heldOn('tm-a')).toEqual([]);
    expect(table.remove('job-1')).toBeUndefined();
  });
});

describe('describeSlots and countOf', () => {
  it('groups allocations by job for a log line', () => {
    expect(
      describeSlots([
        held('job-a', 'alloc-1', 0),
        held('job-b', 'alloc-3', 2),
        held('job-a', 'alloc-2', 1),
      ]),
    ).toBe('job-a: alloc-1, alloc-2; job-b: alloc-3');
    expect(describeSlots([])).toBe('');
  });

  it('counts with the plural only where it belongs', () => {
    expect(countOf(0)).toBe('0 slots');
    expect(countOf(1)).toBe('1 slot');
    expect(countOf(3, 'job')).toBe('3 jobs');
  });
});

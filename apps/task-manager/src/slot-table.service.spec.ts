import { slotReportSchema, type SlotOwner, type SlotReport } from '#cluster';
import { SlotTable } from './slot-table.service.js';
import { readTaskManagerConfig } from './task-manager.config.js';
import { byOwner, type OwnedAllocation } from '../../../test/fixtures/slot-allocations.js';

const jm1 = { jobMasterId: 'jm-1', heartbeatSecret: 'secret-1' };
const jm2 = { jobMasterId: 'jm-2', heartbeatSecret: 'secret-2' };

/** An allocation of slot `slotIndex` to `jobId`, for a JobMaster if `jobMaster` is given. */
const allocation = (slotIndex: number, jobId: string, jobMaster?: SlotOwner): OwnedAllocation => ({
  slotIndex,
  allocationId: `allocation-${slotIndex}`,
  jobId,
  ...(jobMaster && { jobMaster }),
});
const held = (slotIndex: number, jobId: string) => ({
  jobId,
  allocationId: `allocation-${slotIndex}`,
  slotIndex,
});

/** Allocates each JobMaster's share with one `allocate`, as one command brings it. */
function allocateAll(table: SlotTable, allocations: readonly OwnedAllocation[]): SlotReport {
  let report: SlotReport | undefined;
  for (const { jobMaster, allocations: share } of byOwner(allocations)) {
    report = table.allocate(share, jobMaster);
  }
  return report as SlotReport;
}

describe('SlotTable', () => {
  let slots: SlotTable;
  let reports: SlotReport[];

  beforeEach(() => {
    slots = new SlotTable(readTaskManagerConfig({ TM_ID: 'tm-a', TM_SLOTS: '4' }));
    reports = [];
    slots.changes.subscribe((report) => reports.push(report));
  });

  it('remembers whose JobMaster an allocation is for, but keeps that out of the slot report', () => {
    const report = allocateAll(slots, [
      allocation(0, 'job-a', jm1),
      allocation(1, 'job-b', jm1),
      allocation(2, 'job-c', jm2),
      allocation(3, 'http-job'),
    ]);

    // The report's schema is strict: owner fields would not pass it.
    expect(slotReportSchema.parse(report)).toEqual(report);
    expect(report.slots[0]).toEqual({
      index: 0,
      free: false,
      allocationId: 'allocation-0',
      jobId: 'job-a',
    });
    // One allocation per owner, as the commands bring them: every one a new version.
    expect(report.version).toBe(3);
    expect(reports.map(({ version }) => version)).toEqual([1, 2, 3]);
    expect(reports.at(-1)).toEqual(report);

    expect(slots.jobMasterIds()).toEqual(new Set(['jm-1', 'jm-2']));
    expect(slots.jobsOf('jm-1')).toEqual(['job-a', 'job-b']);
    expect(slots.heldFor('jm-1')).toEqual([held(0, 'job-a'), held(1, 'job-b')]);
    expect(slots.heldFor('jm-2', 'secret-2')).toEqual([held(2, 'job-c')]);
    expect(slots.heldFor('jm-2', 'secret-1')).toEqual([]);
    expect(slots.heldFor('jm-ghost')).toEqual([]);
    expect(slots.isOwner(jm1)).toBe(true);
    expect(slots.isOwner({ jobMasterId: 'jm-1', heartbeatSecret: 'secret-2' })).toBe(false);
    expect(slots.isOwner({ jobMasterId: 'jm-ghost', heartbeatSecret: 'secret-1' })).toBe(false);
  });

  it('keeps a slot its JobMaster has not listed yet, and frees it once listed and then left out', () => {
    allocateAll(slots, [allocation(0, 'job-a', jm1), allocation(1, 'job-a', jm1)]);
    const version = slots.report().version;

    // Just allocated: the JobMaster has not learnt of slot 1 yet (its grant is on the way).
    expect(slots.reconcile(jm1, [held(0, 'job-a')])).toEqual({
      freed: [],
      held: [held(0, 'job-a'), held(1, 'job-a')],
    });
    expect(slots.reconcile(jm1, [])).toEqual({
      freed: [held(0, 'job-a')],
      held: [held(1, 'job-a')],
    });
    expect(slots.report().slots[0]).toEqual({
      index: 0,
      free: true,
      allocationId: null,
      jobId: null,
    });
    expect(slots.report().version).toBe(version + 1);

    // Confirming changes nothing the ResourceManager sees: the version stays.
    expect(slots.reconcile(jm1, [held(1, 'job-a')]).freed).toEqual([]);
    expect(slots.report().version).toBe(version + 1);
    expect(slots.reconcile(jm1, []).freed).toEqual([held(1, 'job-a')]);
    expect(slots.report().version).toBe(version + 2);
    expect(slots.jobMasterIds()).toEqual(new Set());
    expect(reports.map((report) => report.version)).toEqual([1, 2, 3]);
  });

  it("leaves out of the answer an allocation it does not hold, and touches no other JobMaster's or run's slots", () => {
    allocateAll(slots, [
      allocation(0, 'job-a', jm1),
      allocation(1, 'job-b', jm2),
      // A former run of jm-1 (same id, another secret), confirmed by it earlier.
      allocation(2, 'job-old', { jobMasterId: 'jm-1', heartbeatSecret: 'secret-old' }),
      allocation(3, 'job-a'),
    ]);
    slots.reconcile({ jobMasterId: 'jm-1', heartbeatSecret: 'secret-old' }, [held(2, 'job-old')]);
    slots.reconcile(jm2, [held(1, 'job-b')]);

    const { freed, held: answer } = slots.reconcile(jm1, [
      held(0, 'job-a'),
      { jobId: 'job-a', allocationId: 'allocation-gone', slotIndex: 1 },
      // Not its slot: an HTTP allocation of a job of the same name.
      held(3, 'job-a'),
    ]);
    expect(freed).toEqual([]);
    expect(answer).toEqual([held(0, 'job-a')]);

    // jm-1 lets its slot go: only that one is freed, not jm-2's, its former run's, or the HTTP one.
    expect(slots.reconcile(jm1, []).freed).toEqual([held(0, 'job-a')]);
    expect(slots.report().slots.map((slot) => slot.jobId)).toEqual([
      null,
      'job-b',
      'job-old',
      'job-a',
    ]);
    expect(slots.heldFor('jm-1')).toEqual([held(2, 'job-old')]);
  });

  it('frees every slot of a lost JobMaster, whatever the secret, and nothing else', () => {
    allocateAll(slots, [
      allocation(0, 'job-a', jm1),
      allocation(1, 'job-b', jm1),
      allocation(2, 'job-c', jm2),
    ]);
    allocateAll(slots, [
      allocation(3, 'job-old', { jobMasterId: 'jm-1', heartbeatSecret: 'secret-old' }),
    ]);

    expect(slots.releaseJobMaster('jm-1')).toEqual([
      held(0, 'job-a'),
      held(1, 'job-b'),
      held(3, 'job-old'),
    ]);
    expect(slots.report().version).toBe(4); // three allocations, then the release
    expect(slots.allocatedCount()).toBe(1);
    expect(slots.jobMasterIds()).toEqual(new Set(['jm-2']));

    // Nothing left of it: no change, no new version.
    expect(slots.releaseJobMaster('jm-1')).toEqual([]);
    expect(slots.report().version).toBe(4);
  });

  it('forgets the owners of the slots the ResourceManager releases, and of everything on releaseAll', () => {
    allocateAll(slots, [allocation(0, 'job-a', jm1), allocation(1, 'job-a', jm1)]);
    allocateAll(slots, [allocation(2, 'job-c', jm2)]);

    slots.release('job-a', ['allocation-1']);
    expect(slots.heldFor('jm-1')).toEqual([held(0, 'job-a')]);
    slots.release('job-a');
    expect(slots.jobMasterIds()).toEqual(new Set(['jm-2']));

    // A freed slot allocated again over HTTP belongs to no JobMaster.
    allocateAll(slots, [allocation(0, 'http-job')]);
    expect(slots.jobMasterIds()).toEqual(new Set(['jm-2']));

    expect(slots.releaseAll().slots.every((slot) => slot.free)).toBe(true);
    expect(slots.jobMasterIds()).toEqual(new Set());
    expect(reports.map((report) => report.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

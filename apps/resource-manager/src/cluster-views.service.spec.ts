import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { SlotStatus } from '#cluster';
import {
  FENCING_TOKEN,
  jmA,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
} from '../../../test/fixtures/resource-manager-services.js';

describe('ClusterViews', () => {
  let services: ResourceManagerServices;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    services = resourceManagerServices();
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002, slots: 3 });
    const busy: SlotStatus = {
      index: 0,
      free: false,
      allocationId: 'allocation-1',
      jobId: 'job-1',
    };
    services.slotPool.applyReport(services.registrations.get('tm-a')!, {
      version: 1,
      slots: [busy, { index: 1, free: true, allocationId: null, jobId: null }],
    });
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it('lists the registered TaskManagers with their free slots and the time since their last heartbeat', () => {
    const heardAt = Date.now() - 700;
    services.heartbeatManager.getLastHeartbeatFrom.mockImplementation((id) =>
      id === 'tm-a' ? heardAt : 0,
    );
    const registeredAt = services.registrations.get('tm-b')!.registeredAt;

    const [a, b] = services.views.list();

    expect(a).toEqual({
      id: 'tm-a',
      address: '127.0.0.1:40001',
      slotsNumber: 2,
      freeSlots: 1,
      lastHeartbeat: heardAt,
      timeSinceLastHeartbeat: expect.any(Number),
    });
    expect(a.timeSinceLastHeartbeat).toBeGreaterThanOrEqual(700);
    // No heartbeat yet: it was last heard of when it registered.
    expect(b).toMatchObject({
      id: 'tm-b',
      slotsNumber: 3,
      freeSlots: 3,
      lastHeartbeat: registeredAt,
    });
  });

  it('lists the registered JobMasters with their jobs and the time since their last heartbeat; a lost one leaves at once', () => {
    services.jobMasterRegistrations.register({ ...jmA, jobs: ['job-1', 'job-2'] });
    services.jobMasterRegistrations.register({
      ...jmA,
      jobMasterId: 'jm-b',
      host: '10.0.0.7',
      port: 41_002,
    });
    const heardAt = Date.now() - 900;
    services.jobMasterHeartbeatManager.getLastHeartbeatFrom.mockImplementation((id) =>
      id === 'jm-a' ? heardAt : 0,
    );
    const registeredAt = services.jobMasterRegistrations.get('jm-b')!.registeredAt;

    const [a, b] = services.views.jobMasters();

    expect(a).toEqual({
      id: 'jm-a',
      address: '127.0.0.1:41001',
      jobs: ['job-1', 'job-2'],
      lastHeartbeat: heardAt,
      timeSinceLastHeartbeat: expect.any(Number),
    });
    expect(a.timeSinceLastHeartbeat).toBeGreaterThanOrEqual(900);
    // No heartbeat yet: it was last heard of when it registered.
    expect(b).toMatchObject({
      id: 'jm-b',
      address: '10.0.0.7:41002',
      jobs: [],
      lastHeartbeat: registeredAt,
    });
    // The TaskManagers' list is not theirs.
    expect(services.views.list().map(({ id }) => id)).toEqual(['tm-a', 'tm-b']);

    services.jobMasterHeartbeats.onJobMasterLost('jm-a', 'timeout');
    expect(services.views.jobMasters().map(({ id }) => id)).toEqual(['jm-b']);
    // A standby shows none (they went with the leadership).
    services.leadership.stepDown();
    expect(services.views.jobMasters()).toEqual([]);
  });

  it('finds one TaskManager with its slots, or nothing', () => {
    expect(services.views.find('tm-a')).toMatchObject({
      id: 'tm-a',
      freeSlots: 1,
      slots: [
        { index: 0, free: false, jobId: 'job-1' },
        { index: 1, free: true },
      ],
    });
    expect(services.views.find('tm-ghost')).toBeUndefined();
  });

  it('sums up the cluster with its leadership: leading since when, with which fencing token', () => {
    expect(services.views.overview()).toEqual({
      taskmanagers: 2,
      slotsTotal: 5,
      slotsAvailable: 4,
      leader: true,
      leaderSince: 1_000,
      fencingToken: FENCING_TOKEN,
    });
    services.registrations.release('tm-b', 'goodbye');
    expect(services.views.overview()).toMatchObject({ taskmanagers: 1, slotsTotal: 2 });
  });

  it('shows a standby as one: no leadership, no token, and no TaskManagers (they went with the leadership)', () => {
    services.leadership.stepDown();
    expect(services.views.overview()).toEqual({
      taskmanagers: 0,
      slotsTotal: 0,
      slotsAvailable: 0,
      leader: false,
      leaderSince: null,
      fencingToken: null,
    });
    expect(services.views.leadershipView()).toEqual({
      leader: false,
      leaderSince: null,
      fencingToken: null,
    });
  });
});

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { of } from 'rxjs';
import {
  largestTaskManagerFrame,
  MAX_SLOTS,
  TaskManagerPatterns,
  type RegistrationRequest,
  type SlotReport,
} from '#cluster';
import {
  FakeLeadership,
  FENCING_TOKEN,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
} from '../../../test/fixtures/resource-manager-services.js';
import { NotLeaderError } from './leadership/resource-manager-leadership.service.js';
import {
  RegistrationRefused,
  type MembershipChange,
  type TaskManagerRegistrations,
} from './task-manager-registrations.service.js';

/** What `register` throws, or undefined. */
function refusalOf(registrations: TaskManagerRegistrations, request: RegistrationRequest): unknown {
  try {
    registrations.register(request);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('TaskManagerRegistrations', () => {
  let services: ResourceManagerServices;
  let registrations: TaskManagerRegistrations;
  let warn: jest.SpiedFunction<Logger['warn']>;
  /** The command clients' sends: answered at once, so that no spec opens a connection. */
  let send: jest.SpiedFunction<ClientTCP['send']>;

  const addressOf = (taskManagerId: string) => {
    const registration = registrations.get(taskManagerId);
    return registration && `${registration.host}:${registration.port}`;
  };
  const goodbye = (taskManagerId: string, credential: string) =>
    registrations.unregister({ taskManagerId, fencingToken: FENCING_TOKEN, credential });

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    send = jest
      .spyOn(ClientTCP.prototype, 'send')
      .mockImplementation(() => of({ accepted: true }) as never);
    services = resourceManagerServices();
    registrations = services.registrations;
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it('refuses to replace a live registration without its credential, and keeps the real one', () => {
    const { credential } = registrations.register(tmA);
    const impostor = { ...tmA, port: 40_666 };

    for (const request of [impostor, { ...impostor, credential: 'guessed' }]) {
      const refusal = refusalOf(registrations, request);
      expect(refusal).toBeInstanceOf(RegistrationRefused);
      expect((refusal as Error).message).toMatch(
        /^tm-a is registered from 127\.0\.0\.1:40001 and the request lacks that registration's credential/,
      );
    }
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^Refused the registration of TaskManager tm-a from 127\.0\.0\.1:40666: tm-a is registered/,
      ),
    );
    expect(addressOf('tm-a')).toBe('127.0.0.1:40001');
    expect(registrations.proofFor(registrations.get('tm-a')!).credential).toBe(credential);
  });

  it('lets the TaskManager that holds the credential register again (it lost us, we did not lose it)', () => {
    const first = registrations.register(tmA);
    const second = registrations.register({ ...tmA, port: 40_002, credential: first.credential });
    expect(second.credential).not.toBe(first.credential);
    expect(addressOf('tm-a')).toBe('127.0.0.1:40002');
    // The credential it was replaced with spends the one before it.
    const third = registrations.register({ ...tmA, port: 40_002, credential: second.credential });
    expect(refusalOf(registrations, { ...tmA, credential: first.credential })).toBeInstanceOf(
      RegistrationRefused,
    );
    expect(addressOf('tm-a')).toBe('127.0.0.1:40002');
    expect(third.credential).not.toBe(second.credential);
  });

  it('takes a retry with the credential it was replaced with, when our answer to it was lost', () => {
    const first = registrations.register(tmA);
    // The TaskManager re-registers with its credential; our answer (a new credential) is lost.
    registrations.register({ ...tmA, credential: first.credential });

    const retried = registrations.register({ ...tmA, port: 40_004, credential: first.credential });

    expect(addressOf('tm-a')).toBe('127.0.0.1:40004');
    expect(goodbye('tm-a', retried.credential)).toBe(true);
  });

  it('takes a registration without credential once the old one is gone (a restarted TaskManager)', () => {
    const first = registrations.register(tmA);
    expect(goodbye('tm-a', first.credential)).toBe(true);
    expect(registrations.register({ ...tmA, port: 40_003 }).credential).toEqual(expect.any(String));
    expect(addressOf('tm-a')).toBe('127.0.0.1:40003');
  });

  it('ignores a goodbye without the registration credential or fencing token', () => {
    const { credential } = registrations.register(tmA);
    expect(goodbye('tm-a', 'guessed')).toBe(false);
    // An older leadership's token (a deposed leader's), or a newer one: not this leadership's.
    for (const fencingToken of ['1000', '1002']) {
      expect(registrations.unregister({ taskManagerId: 'tm-a', fencingToken, credential })).toBe(
        false,
      );
    }
    expect(goodbye('tm-ghost', credential)).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      'Ignored a goodbye from tm-a: wrong credential for tm-a (not the TaskManager that registered)',
    );
    expect(warn).toHaveBeenCalledWith(
      `Ignored a goodbye from tm-a: fencing token 1000 is not this leadership's (${FENCING_TOKEN})`,
    );
    expect(warn).toHaveBeenCalledWith(
      `Ignored a goodbye from tm-a: fencing token 1002 is not this leadership's (${FENCING_TOKEN})`,
    );
    expect(warn).toHaveBeenCalledWith(
      'Ignored a goodbye from tm-ghost: tm-ghost is not registered',
    );
    expect(addressOf('tm-a')).toBe('127.0.0.1:40001');
  });

  it('refuses a TaskManager whose heartbeats would not fit its own frame limit', () => {
    const needed = largestTaskManagerFrame(MAX_SLOTS);
    const refusal = refusalOf(registrations, { ...tmA, slots: MAX_SLOTS });
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe(
      `its heartbeats with ${MAX_SLOTS} slots need frames of up to ${needed} characters, ` +
        `more than this ResourceManager's TCP_MAX_BUFFER_SIZE 65536`,
    );
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Refused the registration of TaskManager tm-a .*TCP_MAX_BUFFER_SIZE/),
    );
    expect(registrations.all()).toEqual([]);

    // With a larger limit, the same registration is taken.
    const roomy = resourceManagerServices({ TCP_MAX_BUFFER_SIZE: String(needed) });
    try {
      expect(() => roomy.registrations.register({ ...tmA, slots: MAX_SLOTS })).not.toThrow();
    } finally {
      roomy.shutdown();
    }
  });

  it('monitors each registration and stops monitoring it on release', () => {
    registrations.register(tmA);
    expect(services.heartbeatManager.monitorTarget).toHaveBeenCalledWith('tm-a', {});
    registrations.release('tm-a', 'unreachable');
    expect(services.heartbeatManager.unmonitorTarget).toHaveBeenCalledWith('tm-a');
    expect(registrations.get('tm-a')).toBeUndefined();
  });

  it('tells a lost TaskManager, with its proof and the reason, to disconnect; not one that left or registered again', () => {
    const a = registrations.register(tmA);
    const b = registrations.register({ ...tmA, taskManagerId: 'tm-b' });
    const c = registrations.register({ ...tmA, taskManagerId: 'tm-c' });

    registrations.register({ ...tmA, credential: a.credential }); // replaces tm-a
    goodbye('tm-b', b.credential);
    expect(send).not.toHaveBeenCalled();

    registrations.release('tm-c', 'timeout');
    expect(send.mock.calls.map(([pattern, data]) => [pattern, data])).toEqual([
      [
        TaskManagerPatterns.disconnect,
        { fencingToken: FENCING_TOKEN, credential: c.credential, reason: 'heartbeat timeout' },
      ],
    ]);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^TaskManager tm-c lost: heartbeat timeout, no heartbeat in the \d+ ms since it registered; released 2 slots \(0 allocated\)$/,
      ),
    );
  });

  it('names the silence since the last heartbeat when a released TaskManager sent one', () => {
    registrations.register(tmA);
    services.heartbeatManager.getLastHeartbeatFrom.mockReturnValue(Date.now() - 1_500);
    registrations.release('tm-a', 'goodbye');
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^TaskManager tm-a lost: left \(goodbye\), 1\d{3} ms after its last heartbeat;/,
      ),
    );
  });

  it('tells every registration and release in membershipChanges$, with its reason, and completes on shutdown', () => {
    const changes: MembershipChange[] = [];
    let completed = false;
    registrations.membershipChanges$.subscribe({
      next: (change) => changes.push(change),
      complete: () => (completed = true),
    });
    const before = Date.now();

    const a = registrations.register(tmA);
    const b = registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002, slots: 3 });
    registrations.register({ ...tmA, credential: a.credential, port: 40_005 });
    // A registration is told with the time it registered at.
    expect(changes.at(-1)?.at).toBe(registrations.get('tm-a')?.registeredAt);
    refusalOf(registrations, { ...tmA, port: 40_666 }); // refused: no change
    goodbye('tm-b', 'guessed'); // ignored: no change
    goodbye('tm-b', b.credential);
    registrations.release('tm-a', 'timeout');
    registrations.release('tm-a', 'unreachable'); // already released: no change

    expect(changes).toEqual([
      {
        type: 'registered',
        taskManagerId: 'tm-a',
        address: '127.0.0.1:40001',
        slotsNumber: 2,
        at: expect.any(Number),
      },
      {
        type: 'registered',
        taskManagerId: 'tm-b',
        address: '127.0.0.1:40002',
        slotsNumber: 3,
        at: expect.any(Number),
      },
      { type: 'released', taskManagerId: 'tm-a', reason: 'replaced', at: expect.any(Number) },
      {
        type: 'registered',
        taskManagerId: 'tm-a',
        address: '127.0.0.1:40005',
        slotsNumber: 2,
        at: expect.any(Number),
      },
      { type: 'released', taskManagerId: 'tm-b', reason: 'goodbye', at: expect.any(Number) },
      { type: 'released', taskManagerId: 'tm-a', reason: 'timeout', at: expect.any(Number) },
    ]);
    for (const { at } of changes) {
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(Date.now());
    }
    expect(completed).toBe(false);
    services.shutdown();
    expect(completed).toBe(true);
  });

  it('answers a registration with the fencing token of its leadership', () => {
    expect(registrations.register(tmA)).toEqual({
      resourceManagerId: 'resource-manager-test',
      fencingToken: FENCING_TOKEN,
      credential: expect.any(String),
    });
  });

  it('refuses every registration on a standby, naming the leader, and registers nobody', () => {
    const changes: MembershipChange[] = [];
    registrations.membershipChanges$.subscribe((change) => changes.push(change));
    services.leadership.stepDown();

    const refusal = refusalOf(registrations, tmA);
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe(
      `this ResourceManager does not lead (the leader is ${FakeLeadership.LEADER_URL})`,
    );
    expect(warn).toHaveBeenCalledWith(
      `Refused the registration of TaskManager tm-a from 127.0.0.1:40001: this ResourceManager does not lead (the leader is ${FakeLeadership.LEADER_URL})`,
    );
    expect(registrations.all()).toEqual([]);
    expect(services.heartbeatManager.monitorTarget).not.toHaveBeenCalled();
    expect(changes).toEqual([]);
  });

  it('keeps the allocations a registration reports (soft state rebuilt after a failover), with their version', () => {
    const slotReport: SlotReport = {
      version: 5,
      slots: [
        { index: 0, free: false, allocationId: 'allocation-1', jobId: 'job-1' },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    };
    registrations.register({ ...tmA, slotReport });

    const registration = registrations.get('tm-a')!;
    expect(registration.slots).toEqual(slotReport.slots);
    expect(registration.slots).not.toBe(slotReport.slots); // a copy: the request is not kept
    expect(registration.reportVersion).toBe(5);
    expect(services.views.overview()).toMatchObject({ slotsTotal: 2, slotsAvailable: 1 });
    // A heartbeat's report from before the registration changes nothing: the version orders them.
    services.slotPool.applyReport(registration, {
      version: 4,
      slots: [
        { index: 0, free: true, allocationId: null, jobId: null },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
    expect(registration.slots).toEqual(slotReport.slots);

    // Without a report, every slot starts free and any report is newer.
    registrations.register({ ...tmA, taskManagerId: 'tm-b' });
    expect(registrations.get('tm-b')).toMatchObject({
      reportVersion: -1,
      slots: [
        { index: 0, free: true, allocationId: null, jobId: null },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
  });

  it.each<[string, SlotReport['slots']]>([
    ['too few slots', [{ index: 0, free: false, allocationId: 'a-1', jobId: 'job-1' }]],
    [
      'slots out of order',
      [
        { index: 1, free: true, allocationId: null, jobId: null },
        { index: 0, free: false, allocationId: 'a-1', jobId: 'job-1' },
      ],
    ],
    [
      'too many slots',
      [0, 1, 2].map((index) => ({ index, free: true, allocationId: null, jobId: null }) as const),
    ],
  ])('refuses a registration whose slot report has %s', (_case, slots) => {
    const refusal = refusalOf(registrations, { ...tmA, slotReport: { version: 1, slots } });
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe('its slot report must list its 2 slots in order');
    expect(registrations.all()).toEqual([]);
    expect(services.heartbeatManager.monitorTarget).not.toHaveBeenCalled();
  });

  it('lets every registration go when it steps down: unmonitored, no disconnect order, told as stepped-down', () => {
    const changes: MembershipChange[] = [];
    registrations.membershipChanges$.subscribe((change) => changes.push(change));
    const close = jest.spyOn(services.clients, 'close');
    const disconnectAndClose = jest.spyOn(services.clients, 'disconnectAndClose');
    registrations.register(tmA);
    registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    const clients = registrations.all().map((registration) => registration.client);
    changes.length = 0;

    services.leadership.stepDown();

    expect(registrations.all()).toEqual([]);
    expect(changes).toEqual([
      { type: 'released', taskManagerId: 'tm-a', reason: 'stepped-down', at: expect.any(Number) },
      { type: 'released', taskManagerId: 'tm-b', reason: 'stepped-down', at: expect.any(Number) },
    ]);
    expect(services.heartbeatManager.unmonitorTarget.mock.calls).toEqual([['tm-a'], ['tm-b']]);
    // The TaskManagers move to the new leader by themselves, keeping their slots: no order to drop them.
    expect(send).not.toHaveBeenCalled();
    expect(disconnectAndClose).not.toHaveBeenCalled();
    expect(close.mock.calls).toEqual(clients.map((client) => [client]));
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^TaskManager tm-a lost: this ResourceManager stepped down as leader, no heartbeat in the \d+ ms since it registered; released 2 slots \(0 allocated\)$/,
      ),
    );
  });

  it('proves nothing once it stepped down: proofFor throws a NotLeaderError naming the leader', () => {
    registrations.register(tmA);
    const registration = registrations.get('tm-a')!;
    expect(registrations.proofFor(registration).fencingToken).toBe(FENCING_TOKEN);

    services.leadership.stepDown();

    let thrown: unknown;
    try {
      registrations.proofFor(registration);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NotLeaderError);
    expect((thrown as NotLeaderError).leaderUrl).toBe(FakeLeadership.LEADER_URL);
    expect((thrown as Error).message).toBe(
      `not the leader (the leader is ${FakeLeadership.LEADER_URL})`,
    );
  });
});

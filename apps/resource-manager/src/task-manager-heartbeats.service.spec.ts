import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { of } from 'rxjs';
import { ProtocolError, type SlotReport, type SlotStatus } from '#cluster';
import { acceptHeartbeat } from 'nestjs-heartbeat';
import {
  FENCING_TOKEN,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
} from '../../../test/fixtures/resource-manager-services.js';
import type { TaskManagerHeartbeats } from './task-manager-heartbeats.service.js';

/** A heartbeat from tm-a as the ingress hands it to the vetting handler. */
const incoming = (payload: unknown) => ({
  manager: 'taskManagers',
  kind: 'receive' as const,
  origin: 'tm-a',
  payload,
});

const allocated = (index: number): SlotStatus => ({
  index,
  free: false,
  allocationId: 'allocation-1',
  jobId: 'job-1',
});

/** A heartbeat as the vetting handler leaves it for the slot report handler. */
const vetted = (slots: SlotReport['slots']) => ({
  fencingToken: FENCING_TOKEN,
  credential: 'credential-1',
  slotReport: { version: 1, slots },
});

describe('TaskManagerHeartbeats', () => {
  let services: ResourceManagerServices;
  let heartbeats: TaskManagerHeartbeats;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // A lost TaskManager is told to disconnect: answered here, so no connection is opened.
    jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(() => of({}) as never);
    services = resourceManagerServices();
    heartbeats = services.heartbeats;
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it("proves itself to a TaskManager with that registration's credential in every heartbeat request", () => {
    const a = services.registrations.register(tmA);
    const b = services.registrations.register({ ...tmA, taskManagerId: 'tm-b' });
    expect(a.credential).not.toBe(b.credential);
    expect(heartbeats.heartbeatPayload('tm-a')).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: a.credential,
    });
    expect(heartbeats.heartbeatPayload('tm-b')).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: b.credential,
    });
    expect(heartbeats.heartbeatPayload('tm-ghost')).toBeNull();
  });

  it('parses a heartbeat once, when vetting it: the slot report handler gets the parsed form', () => {
    const { credential } = services.registrations.register(tmA);
    const slotReport: SlotReport = {
      version: 3,
      slots: [
        { index: 0, free: false, allocationId: 'allocation-1', jobId: 'job-1' },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    };

    const verdict = heartbeats.vetHeartbeat(
      incoming({ fencingToken: FENCING_TOKEN, credential, slotReport }),
    );
    expect(verdict).toEqual(
      acceptHeartbeat({ fencingToken: FENCING_TOKEN, credential, slotReport }),
    );
    heartbeats.onSlotReport('tm-a', verdict.payload);
    expect(services.views.find('tm-a')?.slots).toEqual(slotReport.slots);
    expect(services.views.find('tm-a')?.freeSlots).toBe(1);

    expect(() =>
      heartbeats.vetHeartbeat(
        incoming({ fencingToken: FENCING_TOKEN, credential, slotReport, extra: 1 }),
      ),
    ).toThrow(/^heartbeat payload: /);
    expect(() =>
      heartbeats.vetHeartbeat(
        incoming({ fencingToken: FENCING_TOKEN, credential: 'guessed', slotReport }),
      ),
    ).toThrow(/^wrong credential for tm-a/);
  });

  it('rejects a heartbeat in the name of an unregistered TaskManager or with another fencing token', () => {
    const { credential } = services.registrations.register({ ...tmA, taskManagerId: 'tm-b' });
    const slotReport: SlotReport = { version: 0, slots: [] };
    expect(() =>
      heartbeats.vetHeartbeat(incoming({ fencingToken: FENCING_TOKEN, credential, slotReport })),
    ).toThrow('tm-a is not registered');
    const a = services.registrations.register(tmA);
    // A deposed leadership's token, or a newer one, with tm-a's own credential: not this leadership's.
    for (const fencingToken of ['1000', '1002']) {
      expect(() =>
        heartbeats.vetHeartbeat(
          incoming({
            fencingToken,
            credential: a.credential,
            slotReport: { version: 0, slots: [] },
          }),
        ),
      ).toThrow(
        new ProtocolError(
          `fencing token ${fencingToken} is not this leadership's (${FENCING_TOKEN})`,
        ),
      );
    }
    // Not a fencing token at all.
    expect(() =>
      heartbeats.vetHeartbeat(
        incoming({ fencingToken: 'stale', credential: a.credential, slotReport }),
      ),
    ).toThrow(/^heartbeat payload\.fencingToken: /);
  });

  it('asks nothing and takes no heartbeat once it stepped down', () => {
    const { credential } = services.registrations.register(tmA);
    const slotReport: SlotReport = {
      version: 1,
      slots: [allocated(0), { index: 1, free: true, allocationId: null, jobId: null }],
    };
    expect(heartbeats.heartbeatPayload('tm-a')).not.toBeNull();

    services.leadership.stepDown();

    expect(heartbeats.heartbeatPayload('tm-a')).toBeNull();
    expect(() =>
      heartbeats.vetHeartbeat(incoming({ fencingToken: FENCING_TOKEN, credential, slotReport })),
    ).toThrow(new ProtocolError('tm-a is not registered'));
  });

  it('asks nothing and takes no heartbeat the moment its lease lapses, before its registrations are let go', () => {
    const { credential } = services.registrations.register(tmA);
    const slotReport: SlotReport = {
      version: 1,
      slots: [allocated(0), { index: 1, free: true, allocationId: null, jobId: null }],
    };
    // The leadership already says it does not lead; the step-down has not reached the registrations.
    jest.spyOn(services.leadership, 'isLeader').mockReturnValue(false);
    jest
      .spyOn(services.leadership, 'current', 'get')
      .mockReturnValue({ leader: false, fencingToken: null, since: null });
    expect(services.registrations.get('tm-a')).toBeDefined();

    expect(heartbeats.heartbeatPayload('tm-a')).toBeNull();
    expect(() =>
      heartbeats.vetHeartbeat(incoming({ fencingToken: FENCING_TOKEN, credential, slotReport })),
    ).toThrow(new ProtocolError('this ResourceManager does not lead'));
  });

  it('refuses a slot report that does not list exactly the registered slots in order, and keeps its bookkeeping', () => {
    services.registrations.register(tmA);
    for (const slots of [
      [allocated(0)],
      [allocated(1), allocated(0)],
      [allocated(0), allocated(1), allocated(2)],
    ]) {
      expect(() => heartbeats.onSlotReport('tm-a', vetted(slots))).toThrow(
        new ProtocolError('tm-a: its slot report must list its 2 slots in order'),
      );
    }
    expect(services.views.find('tm-a')?.freeSlots).toBe(2);
    // The report of a TaskManager released in the meantime is of no more use.
    expect(() => heartbeats.onSlotReport('tm-ghost', vetted([]))).not.toThrow();
  });

  it.each([
    ['timeout', 'heartbeat timeout'],
    ['unreachable', 'unreachable'],
  ] as const)('releases a TaskManager lost by %s, naming the reason', (reason, logged) => {
    services.registrations.register(tmA);
    heartbeats.onTaskManagerLost('tm-a', reason);

    expect(services.views.list()).toEqual([]);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(new RegExp(`^TaskManager tm-a lost: ${logged}, `)),
    );
  });
});

import { jest } from '@jest/globals';
import { Logger, type INestMicroservice } from '@nestjs/common';
import { ClientTCP, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import type { AddressInfo, Server } from 'node:net';
import { firstValueFrom } from 'rxjs';
import {
  JOB_MASTER_HEARTBEATS,
  ProtocolError,
  TaskManagerPatterns,
  type HeldSlot,
  type JobMasterToTaskManagerHeartbeat,
  type SlotOwner,
} from '#cluster';
import {
  acceptHeartbeat,
  createCheckedJsonSocket,
  HEARTBEAT_REQUEST_PATTERN,
  HeartbeatModule,
  HeartbeatRegistry,
  ManualClock,
  type HeartbeatManager,
} from 'nestjs-heartbeat';
import { JobMasterHeartbeats } from './job-master-heartbeats.service.js';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { ResourceManagerGateway } from './resource-manager.gateway.js';
import { SlotTable } from './slot-table.service.js';
import { readTaskManagerConfig, TASK_MANAGER_CONFIG } from './task-manager.config.js';
import { TaskManagerModule } from './task-manager.module.js';
import { byOwner, type OwnedAllocation } from '../../../test/fixtures/slot-allocations.js';

const INTERVAL = 1_000;
const TIMEOUT = 5_000;
const jm1 = { jobMasterId: 'jm-1', heartbeatSecret: 'secret-1' };
const jm2 = { jobMasterId: 'jm-2', heartbeatSecret: 'secret-2' };
/** The ResourceManager's proof, which the stand-in connection takes. */
const proof = { fencingToken: '1001', credential: 'credential-1' };

const allocation = (slotIndex: number, jobId: string, jobMaster?: SlotOwner): OwnedAllocation => ({
  slotIndex,
  allocationId: `allocation-${slotIndex}`,
  jobId,
  ...(jobMaster && { jobMaster }),
});
const held = (slotIndex: number, jobId: string): HeldSlot => ({
  jobId,
  allocationId: `allocation-${slotIndex}`,
  slotIndex,
});

describe('JobMasterHeartbeats', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule;
  let service: JobMasterHeartbeats;
  let gateway: ResourceManagerGateway;
  let slots: SlotTable;
  let manager: HeartbeatManager;
  let log: jest.SpiedFunction<Logger['log']>;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(async () => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    clock = new ManualClock();
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'tm-a',
          managers: { [JOB_MASTER_HEARTBEATS]: 'receiver' },
          interval: INTERVAL,
          timeout: TIMEOUT,
          clock,
          scheduler: clock,
        }),
      ],
      controllers: [ResourceManagerGateway],
      providers: [
        {
          provide: TASK_MANAGER_CONFIG,
          useValue: readTaskManagerConfig({ TM_ID: 'tm-a', TM_SLOTS: '4' }),
        },
        SlotTable,
        JobMasterHeartbeats,
        // The ResourceManager's commands pass (its checks are ResourceManagerConnection's spec's).
        { provide: ResourceManagerConnection, useValue: { refusal: () => undefined } },
      ],
    }).compile();
    await moduleRef.init();
    service = moduleRef.get(JobMasterHeartbeats);
    gateway = moduleRef.get(ResourceManagerGateway);
    slots = moduleRef.get(SlotTable);
    manager = moduleRef.get(HeartbeatRegistry).getManager(JOB_MASTER_HEARTBEATS);
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.restoreAllMocks();
  });

  const allocate = (...allocations: OwnedAllocation[]) =>
    byOwner(allocations).forEach((command) => gateway.allocate({ ...proof, ...command }));

  /** Vets a heartbeat request from `origin`, as a thunk for `toThrow`. */
  const vet = (origin: string, payload: unknown) => () =>
    service.vetHeartbeat({ manager: JOB_MASTER_HEARTBEATS, kind: 'request', origin, payload });

  /** A heartbeat request from a JobMaster, as the transport hands it over: vetted, then to the manager. */
  const heartbeat = (origin: string, payload: JobMasterToTaskManagerHeartbeat) =>
    manager.requestHeartbeat(origin, vet(origin, payload)().payload);

  it('monitors a JobMaster from the moment an allocation for it arrives, and none for HTTP allocations', () => {
    allocate(allocation(3, 'http-job'));
    expect(manager.getMonitoredTargets()).toEqual([]);

    allocate(allocation(0, 'job-a', jm1), allocation(1, 'job-b', jm1));
    expect(manager.getMonitoredTargets()).toEqual(['jm-1']);
    // Not heard from yet: its timeout runs from now.
    expect(manager.getLastHeartbeatFrom('jm-1')).toBe(0);
    expect(log).toHaveBeenCalledWith(
      'Monitoring JobMaster jm-1, which holds slots of jobs job-a, job-b',
    );

    allocate(allocation(2, 'job-c', jm1));
    expect(manager.getMonitoredTargets()).toEqual(['jm-1']);
    expect(log.mock.calls.filter(([line]) => String(line).startsWith('Monitoring'))).toHaveLength(
      1,
    );
  });

  it('accepts heartbeats only from a JobMaster that owns slots here, with its secret, parsed once', () => {
    allocate(allocation(0, 'job-a', jm1));
    const payload = { heartbeatSecret: 'secret-1', slots: [held(0, 'job-a')] };
    expect(vet('jm-1', payload)()).toEqual(acceptHeartbeat(payload));
    expect(vet('jm-2', { ...payload, heartbeatSecret: 'secret-2' })).toThrow(
      new ProtocolError('jm-2 is not a JobMaster that holds slots on this TaskManager'),
    );
    expect(vet('jm-1', { ...payload, heartbeatSecret: 'guessed' })).toThrow(
      new ProtocolError(
        'wrong heartbeat secret for JobMaster jm-1 (not the one its slot requests gave)',
      ),
    );
    expect(vet('jm-1', { ...payload, extra: 1 })).toThrow(/^heartbeat payload: /);
    expect(vet('jm-1', { heartbeatSecret: 'secret-1', slots: [{ jobId: 'job-a' }] })).toThrow(
      /^heartbeat payload\.slots\[0\]\.allocationId: /,
    );
    expect(vet('jm-1', null)).toThrow(/^heartbeat payload: /);
  });

  it('frees the slots of an earlier run of a JobMaster once its new run heartbeats', async () => {
    allocate(allocation(0, 'job-old', { jobMasterId: 'jm-1', heartbeatSecret: 'secret-old' }));
    allocate(allocation(1, 'job-a', jm1), allocation(2, 'job-b', jm2));

    await expect(
      heartbeat('jm-1', { heartbeatSecret: 'secret-1', slots: [held(1, 'job-a')] }),
    ).resolves.toEqual({ origin: 'tm-a', payload: { slots: [held(1, 'job-a')] } });

    expect(slots.report().slots.map((slot) => slot.jobId)).toEqual([null, 'job-a', 'job-b', null]);
    expect(log).toHaveBeenCalledWith(
      'JobMaster jm-1 restarted: freed 1 slot of its earlier run (job-old: allocation-0)',
    );
  });

  it("answers with the slots held for the JobMaster's jobs, and frees those it no longer lists once it has listed them", async () => {
    allocate(allocation(0, 'job-a', jm1), allocation(1, 'job-a', jm1), allocation(2, 'job-b', jm2));
    const version = slots.report().version;

    // Its grant for slot 1 is still on the way: not listed, and kept. A listed allocation this
    // TaskManager does not hold is not in the answer.
    await expect(
      heartbeat('jm-1', {
        heartbeatSecret: 'secret-1',
        slots: [held(0, 'job-a'), { jobId: 'job-a', allocationId: 'allocation-x', slotIndex: 3 }],
      }),
    ).resolves.toEqual({
      origin: 'tm-a',
      payload: { slots: [held(0, 'job-a'), held(1, 'job-a')] },
    });
    await heartbeat('jm-1', {
      heartbeatSecret: 'secret-1',
      slots: [held(0, 'job-a'), held(1, 'job-a')],
    });
    expect(slots.report().version).toBe(version);

    // The JobMaster let slot 0 go.
    await expect(
      heartbeat('jm-1', { heartbeatSecret: 'secret-1', slots: [held(1, 'job-a')] }),
    ).resolves.toEqual({ origin: 'tm-a', payload: { slots: [held(1, 'job-a')] } });
    expect(log).toHaveBeenCalledWith(
      'JobMaster jm-1 no longer lists 1 slot; freed (job-a: allocation-0)',
    );
    expect(slots.report().version).toBe(version + 1);
    expect(slots.report().slots.map((slot) => slot.jobId)).toEqual([null, 'job-a', 'job-b', null]);
    expect(manager.getMonitoredTargets().toSorted()).toEqual(['jm-1', 'jm-2']);

    // And then the last one: nothing of it is held any more, so it is no longer monitored.
    await expect(
      heartbeat('jm-1', { heartbeatSecret: 'secret-1', slots: [] }),
    ).resolves.toBeUndefined();
    expect(manager.getMonitoredTargets()).toEqual(['jm-2']);
    expect(log).toHaveBeenCalledWith(
      'No slot of JobMaster jm-1 is held any more; stopped monitoring it',
    );
    expect(vet('jm-1', { heartbeatSecret: 'secret-1', slots: [] })).toThrow(
      /^jm-1 is not a JobMaster that holds slots/,
    );
  });

  it('keeps a JobMaster that heartbeats within the timeout; frees its slots, logs, and unmonitors it when it stops', async () => {
    allocate(allocation(0, 'job-a', jm1), allocation(1, 'job-a', jm1), allocation(2, 'job-b', jm2));
    for (let beat = 0; beat < 3; beat += 1) {
      clock.advance(TIMEOUT - 1);
      await heartbeat('jm-1', { heartbeatSecret: 'secret-1', slots: [held(0, 'job-a')] });
      await heartbeat('jm-2', { heartbeatSecret: 'secret-2', slots: [held(2, 'job-b')] });
    }
    expect(warn).not.toHaveBeenCalled();
    const version = slots.report().version;

    clock.advance(TIMEOUT - 1);
    await heartbeat('jm-2', { heartbeatSecret: 'secret-2', slots: [held(2, 'job-b')] });
    clock.advance(1);

    expect(warn.mock.calls).toEqual([
      ['JobMaster jm-1 lost: heartbeat timeout; freed 2 slots of jobs job-a'],
    ]);
    expect(slots.report().version).toBe(version + 1);
    expect(slots.report().slots.map((slot) => slot.jobId)).toEqual([null, null, 'job-b', null]);
    expect(manager.getMonitoredTargets()).toEqual(['jm-2']);
    // The one line: no "stopped monitoring" besides it.
    expect(log).not.toHaveBeenCalledWith(expect.stringMatching(/^No slot of JobMaster jm-1/));

    // Allocated again later, it is monitored afresh.
    allocate(allocation(0, 'job-a2', jm1));
    expect(manager.getMonitoredTargets().toSorted()).toEqual(['jm-1', 'jm-2']);
    expect(manager.getLastHeartbeatFrom('jm-1')).toBe(0);
  });

  it('names every job of a lost JobMaster in its one line', () => {
    allocate(allocation(0, 'job-a', jm1), allocation(1, 'job-b', jm1), allocation(2, 'job-a', jm1));
    clock.advance(TIMEOUT);
    expect(warn.mock.calls).toEqual([
      ['JobMaster jm-1 lost: heartbeat timeout; freed 3 slots of jobs job-a, job-b'],
    ]);
    expect(slots.allocatedCount()).toBe(0);
  });

  it('stops monitoring a JobMaster once the ResourceManager released its last slot, or dropped them all', () => {
    allocate(allocation(0, 'job-a', jm1), allocation(1, 'job-b', jm1), allocation(2, 'job-c', jm2));

    gateway.release({ ...proof, jobId: 'job-a' });
    expect(manager.getMonitoredTargets().toSorted()).toEqual(['jm-1', 'jm-2']);
    gateway.release({ ...proof, jobId: 'job-b', allocationIds: ['allocation-1'] });
    expect(manager.getMonitoredTargets()).toEqual(['jm-2']);

    // A disconnect order voids every allocation (ResourceManagerConnection calls releaseAll).
    slots.releaseAll();
    expect(manager.getMonitoredTargets()).toEqual([]);
    // Nothing left to time out.
    clock.advance(TIMEOUT * 2);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe("The TaskManager's TCP endpoint", () => {
  let app: INestMicroservice;
  let client: ClientTCP;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const config = readTaskManagerConfig({ TM_ID: 'tm-a' });
    // As main.ts serves it (the ResourceManager connection is not started: no registration here).
    app = await Test.createTestingModule({ imports: [TaskManagerModule.forConfig(config)] })
      .compile()
      .then((moduleRef) =>
        moduleRef.createNestMicroservice<MicroserviceOptions>({
          transport: Transport.TCP,
          options: {
            host: '127.0.0.1',
            port: 0,
            socketClass: createCheckedJsonSocket({
              limits: config.frameLimits,
              patterns: Object.values(TaskManagerPatterns),
            }),
          },
        }),
      );
    await app.listen();
    const { port } = app.unwrap<Server>().address() as AddressInfo;
    client = new ClientTCP({ host: '127.0.0.1', port });
  });

  afterEach(async () => {
    await client.close();
    await app.close();
    jest.restoreAllMocks();
  });

  /** A JobMaster's heartbeat request, as its `taskManagers` sender sends it. */
  const request = (payload: JobMasterToTaskManagerHeartbeat) =>
    firstValueFrom(
      client.send(HEARTBEAT_REQUEST_PATTERN, {
        manager: JOB_MASTER_HEARTBEATS,
        origin: 'jm-1',
        payload,
      }),
    );

  it('takes heartbeat requests addressed to its jobMasters manager, and answers in the reply', async () => {
    app.get(SlotTable).allocate([allocation(1, 'job-a')], jm1);
    await expect(
      request({ heartbeatSecret: 'secret-1', slots: [held(1, 'job-a')] }),
    ).resolves.toEqual({
      accepted: true,
      heartbeat: { origin: 'tm-a', payload: { slots: [held(1, 'job-a')] } },
    });
    await expect(request({ heartbeatSecret: 'guessed', slots: [] })).rejects.toMatchObject({
      message: expect.stringMatching(/wrong heartbeat secret for JobMaster jm-1/),
    });
  });
});

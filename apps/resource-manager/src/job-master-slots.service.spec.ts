import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import {
  slotRequestAnswerSchema,
  TaskManagerPatterns,
  type SlotAllocation,
  type SlotRequest,
} from '#cluster';
import { rejectionOf } from '../../../test/fixtures/settling.js';
import {
  answerTaskManagerCommands,
  FENCING_TOKEN,
  jmA,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
  type TaskManagerCommand,
} from '../../../test/fixtures/resource-manager-services.js';
import { JobMasterGateway } from './job-master.gateway.js';
import { JobMasterRequestRefused, type JobMasterSlots } from './job-master-slots.service.js';
import { NotLeaderError } from './leadership/resource-manager-leadership.service.js';

describe('JobMasterSlots', () => {
  let services: ResourceManagerServices;
  let slots: JobMasterSlots;
  let warn: jest.SpiedFunction<Logger['warn']>;
  let log: jest.SpiedFunction<Logger['log']>;
  let commands: TaskManagerCommand[];
  let refusing: Set<string>;
  /** jm-a's credential. */
  let credential: string;

  /** A slot request of jm-a, with its proof. */
  const request = (jobId: string, count: number, overrides: Partial<SlotRequest> = {}) => ({
    jobMasterId: 'jm-a',
    fencingToken: FENCING_TOKEN,
    credential,
    jobId,
    count,
    heartbeatSecret: 'secret-a',
    ...overrides,
  });
  const release = (jobId: string, allocationIds?: string[]) =>
    slots.releaseSlots({
      jobMasterId: 'jm-a',
      fencingToken: FENCING_TOKEN,
      credential,
      jobId,
      allocationIds,
    });
  const jobsOf = (jobMasterId: string) => [
    ...(services.jobMasterRegistrations.get(jobMasterId)?.jobs.keys() ?? []),
  ];

  beforeEach(() => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    services = resourceManagerServices();
    slots = services.jobMasterSlots;
    ({ commands, refusing } = answerTaskManagerCommands(services));
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    ({ credential } = services.jobMasterRegistrations.register(jmA));
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it("grants slots with each TaskManager's address, tells the TaskManagers whose they are, and records the job as the JobMaster's", async () => {
    const answer = await slots.requestSlots(request('job-1', 3));

    expect(slotRequestAnswerSchema.parse(answer)).toEqual({
      granted: true,
      slots: [
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
      ],
    });
    // Each allocation command names the JobMaster once, for all of its allocations.
    const allocateCommands = commands.filter(({ data }) => 'allocations' in data);
    expect(allocateCommands.map(({ data }) => data.jobMaster)).toEqual(
      allocateCommands.map(() => ({ jobMasterId: 'jm-a', heartbeatSecret: 'secret-a' })),
    );
    expect(
      allocateCommands.flatMap(({ data }) => data.allocations as SlotAllocation[]),
    ).toHaveLength(3);
    expect(jobsOf('jm-a')).toEqual(['job-1']);
    expect(services.jobMasterRegistrations.get('jm-a')?.jobs.get('job-1')).toBe('granted');
    expect(log).toHaveBeenCalledWith(
      'Granted 3 slots to job job-1 of JobMaster jm-a (on tm-a, tm-b)',
    );
    // Replacements for a job it runs: granted on the free slot left.
    expect(await slots.requestSlots(request('job-1', 1))).toMatchObject({
      granted: true,
      slots: [{ taskManagerId: 'tm-b', slotIndex: 1 }],
    });
  });

  it('answers not granted when the cluster cannot give that many, and does not keep a job that got nothing', async () => {
    expect(await slots.requestSlots(request('job-1', 5))).toEqual({
      granted: false,
      reason: 'Not enough free slots: asked for 5, 4 free',
    });
    expect(jobsOf('jm-a')).toEqual([]);
    expect(commands).toEqual([]);

    // A TaskManager that refuses: not granted either, and the shares given are undone.
    refusing.add('tm-b');
    expect(await slots.requestSlots(request('job-1', 3))).toEqual({
      granted: false,
      reason: 'Allocation failed: tm-b refuses',
    });
    expect(services.slotPool.heldSlots('job-1')).toBe(0);
    expect(jobsOf('jm-a')).toEqual([]);

    // A job it runs stays its own when its replacements are not granted.
    refusing.clear();
    await slots.requestSlots(request('job-2', 2));
    expect(await slots.requestSlots(request('job-2', 3))).toMatchObject({ granted: false });
    expect(jobsOf('jm-a')).toEqual(['job-2']);
  });

  it('refuses a job of another live JobMaster, asking no TaskManager', async () => {
    const b = services.jobMasterRegistrations.register({
      ...jmA,
      jobMasterId: 'jm-b',
      port: 41_002,
      jobs: ['job-b'],
    });
    await slots.requestSlots(request('job-1', 1));
    commands.length = 0;

    const refusal = await rejectionOf(
      slots.requestSlots(request('job-1', 1, { jobMasterId: 'jm-b', credential: b.credential })),
    );
    expect(refusal).toBeInstanceOf(JobMasterRequestRefused);
    expect((refusal as Error).message).toBe('job job-1 is run by JobMaster jm-a');
    expect(warn).toHaveBeenCalledWith(
      'Refused 1 slot for job job-1 asked by JobMaster jm-b: job job-1 is run by JobMaster jm-a',
    );
    // Nor may it release another's job, or one nobody runs.
    for (const jobId of ['job-b', 'job-unknown']) {
      expect(await rejectionOf(release(jobId))).toBeInstanceOf(JobMasterRequestRefused);
    }
    expect(warn).toHaveBeenCalledWith(
      'Refused the release of job job-b asked by JobMaster jm-a: job job-b is run by JobMaster jm-b',
    );
    expect(warn).toHaveBeenCalledWith(
      'Refused the release of job job-unknown asked by JobMaster jm-a: job job-unknown is not a job of jm-a',
    );
    expect(commands).toEqual([]);

    // Once jm-a is lost, the job is free to take.
    services.jobMasterRegistrations.release('jm-a', 'timeout');
    expect(
      await slots.requestSlots(
        request('job-1', 1, { jobMasterId: 'jm-b', credential: b.credential }),
      ),
    ).toMatchObject({ granted: true });
    expect(jobsOf('jm-b')).toEqual(['job-b', 'job-1']);
  });

  it('refuses requests without the registration credential or this leadership, or from an unknown JobMaster', async () => {
    for (const [overrides, reason] of [
      [{ credential: 'guessed' }, 'wrong credential for jm-a (not the JobMaster that registered)'],
      [{ fencingToken: '1000' }, `fencing token 1000 is not this leadership's (${FENCING_TOKEN})`],
      [{ jobMasterId: 'jm-ghost' }, 'jm-ghost is not registered'],
    ] as const) {
      const refusal = await rejectionOf(slots.requestSlots(request('job-1', 1, overrides)));
      expect(refusal).toEqual(new JobMasterRequestRefused(reason));
    }
    expect(commands).toEqual([]);
    expect(jobsOf('jm-a')).toEqual([]);
  });

  it('a claim made for a request holds off another JobMaster while the allocation runs', async () => {
    const b = services.jobMasterRegistrations.register({
      ...jmA,
      jobMasterId: 'jm-b',
      port: 41_002,
    });
    const first = slots.requestSlots(request('job-1', 1));
    const second = rejectionOf(
      slots.requestSlots(request('job-1', 1, { jobMasterId: 'jm-b', credential: b.credential })),
    );
    expect(await first).toMatchObject({ granted: true });
    expect(await second).toEqual(new JobMasterRequestRefused('job job-1 is run by JobMaster jm-a'));
  });

  it("releases the given allocations of a job (it stays the JobMaster's), or all of them (it is done with)", async () => {
    const answer = await slots.requestSlots(request('job-1', 3));
    const granted = answer.granted ? answer.slots : [];
    commands.length = 0;

    expect(await release('job-1', [granted[2].allocationId])).toEqual({ released: 1 });
    expect(
      commands.map(({ taskManagerId, pattern, data }) => [taskManagerId, pattern, data]),
    ).toEqual([
      [
        'tm-b',
        TaskManagerPatterns.releaseSlots,
        expect.objectContaining({ jobId: 'job-1', allocationIds: [granted[2].allocationId] }),
      ],
    ]);
    expect(jobsOf('jm-a')).toEqual(['job-1']);

    expect(await release('job-1')).toEqual({ released: 2 });
    expect(services.slotPool.heldSlots('job-1')).toBe(0);
    expect(jobsOf('jm-a')).toEqual([]);
    expect(log).toHaveBeenCalledWith(
      'Released 2 slots of job job-1 of JobMaster jm-a (the job is done with)',
    );
  });

  it('answers slot requests over TCP: granted or not as answers, every refusal as an error reply', async () => {
    const gateway = new JobMasterGateway(services.jobMasterRegistrations, slots);

    expect(await gateway.requestSlots(request('job-1', 1))).toMatchObject({ granted: true });
    expect(await gateway.requestSlots(request('job-2', 9))).toEqual({
      granted: false,
      reason: 'Not enough free slots: asked for 9, 3 free',
    });
    const refused = await rejectionOf(
      gateway.requestSlots(request('job-1', 1, { credential: 'guessed' })),
    );
    expect(refused).toBeInstanceOf(RpcException);
    expect((refused as RpcException).getError()).toBe(
      'wrong credential for jm-a (not the JobMaster that registered)',
    );
    // A leadership that ended let the registrations go: error replies, no allocation.
    services.leadership.stepDown();
    const notLeader = await rejectionOf(gateway.requestSlots(request('job-3', 1)));
    expect(notLeader).toBeInstanceOf(RpcException);
    expect((notLeader as RpcException).getError()).toBe('jm-a is not registered');
    const releaseRefused = await rejectionOf(
      gateway.releaseSlots({
        jobMasterId: 'jm-a',
        fencingToken: FENCING_TOKEN,
        credential,
        jobId: 'job-1',
      }),
    );
    expect((releaseRefused as RpcException).getError()).toBe('jm-a is not registered');
    // Registration refusals are error replies too.
    expect(() => gateway.register(jmA)).toThrow(RpcException);
  });

  it('fails a request that meets the end of the leadership halfway with a NotLeaderError', async () => {
    const proofFor = services.registrations.proofFor.bind(services.registrations);
    jest.spyOn(services.registrations, 'proofFor').mockImplementation((registration) => {
      services.leadership.stepDown();
      return proofFor(registration);
    });
    expect(await rejectionOf(slots.requestSlots(request('job-1', 1)))).toBeInstanceOf(
      NotLeaderError,
    );
  });
});

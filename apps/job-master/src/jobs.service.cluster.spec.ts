import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { BehaviorSubject } from 'rxjs';
import type { z } from 'zod';
import {
  JOB_MASTER_HEARTBEATS,
  JobMasterToResourceManagerPatterns,
  parseMessage,
  ProtocolError,
  TASK_MANAGER_HEARTBEATS,
  type GrantedSlot,
  type HeldSlot,
  type JobMasterToTaskManagerHeartbeat,
  type RegistrationResponse,
} from '#cluster';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  HeartbeatTargetFactory,
  ManualClock,
  type HeartbeatAnswer,
  type HeartbeatManager,
  type HeartbeatTarget,
  type TcpHeartbeatTargetOptions,
} from 'nestjs-heartbeat';
import { JOB_MASTER_CONFIG, readJobMasterConfig } from './job-master.config.js';
import { JobTable } from './job-table.service.js';
import {
  JobConflictError,
  JobsService,
  REPLACEMENT_RETRY,
  ResourceManagerError,
  UnknownJobError,
} from './jobs.service.js';
import { NotRegisteredError, ResourceManagerLink } from './resource-manager-link.service.js';

const INTERVAL = 1_000;
const TIMEOUT = 5_000;
const REGISTRATION: RegistrationResponse = {
  resourceManagerId: 'rm-1',
  fencingToken: '1001',
  credential: 'credential-1',
};
/** Lets every promise chain started so far run to its end (timers stay fake). */
const settle = async () => {
  for (let turn = 0; turn < 10; turn += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
};

/** A slot of a job, as the HTTP API shows it. */
const place = (taskManagerId: string, slotIndex: number, allocationId: string) => ({
  taskManagerId,
  slotIndex,
  allocationId,
});
const held = (jobId: string, allocationId: string, slotIndex: number): HeldSlot => ({
  jobId,
  allocationId,
  slotIndex,
});

/** A TaskManager as the fake cluster runs it: its slots, and what it holds for this JobMaster. */
interface FakeTaskManager {
  readonly id: string;
  readonly port: number;
  readonly slots: number;
  /** Registered with the ResourceManager: its free slots may be granted. */
  alive: boolean;
  /** Whether it answers our heartbeat requests. */
  answering: boolean;
  readonly holding: Map<string, HeldSlot>;
  /** The payloads of the heartbeat requests it got from us. */
  readonly requests: Array<JobMasterToTaskManagerHeartbeat | null>;
}

/**
 * The ResourceManager and its TaskManagers as the JobMaster sees them: slot requests granted from
 * the free slots of live TaskManagers (all or nothing), releases, and the TaskManagers' answers to
 * our heartbeats (what they hold for us).
 */
class FakeCluster {
  readonly taskManagers = new Map<string, FakeTaskManager>();
  /** Every request to the ResourceManager, in order. */
  readonly requests: Array<{ pattern: string; data: Record<string, unknown> }> = [];
  /** False: requests fail as with no connection (no answer). */
  reachable = true;
  private nextAllocation = 1;

  addTaskManager(id: string, slots: number): FakeTaskManager {
    const taskManager: FakeTaskManager = {
      id,
      port: 40_000 + this.taskManagers.size + 1,
      slots,
      alive: true,
      answering: true,
      holding: new Map(),
      requests: [],
    };
    this.taskManagers.set(id, taskManager);
    return taskManager;
  }

  byPort(port: number): FakeTaskManager {
    const taskManager = [...this.taskManagers.values()].find((tm) => tm.port === port);
    if (!taskManager) {
      throw new Error(`no TaskManager at port ${port}`);
    }
    return taskManager;
  }

  /** A TaskManager dies: no answers, and the ResourceManager grants none of its slots. */
  kill(id: string): void {
    const taskManager = this.taskManagers.get(id) as FakeTaskManager;
    taskManager.alive = false;
    taskManager.answering = false;
    taskManager.holding.clear();
  }

  slotRequests(): Array<Record<string, unknown>> {
    return this.requests
      .filter(({ pattern }) => pattern === JobMasterToResourceManagerPatterns.requestSlots)
      .map(({ data }) => data);
  }

  releases(): Array<Record<string, unknown>> {
    return this.requests
      .filter(({ pattern }) => pattern === JobMasterToResourceManagerPatterns.releaseSlots)
      .map(({ data }) => data);
  }

  respond(pattern: string, data: Record<string, unknown>): unknown {
    this.requests.push({ pattern, data });
    if (!this.reachable) {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6123'), {
        code: 'ECONNREFUSED',
      });
    }
    if (pattern === JobMasterToResourceManagerPatterns.requestSlots) {
      const { jobId, count } = data as { jobId: string; count: number };
      const free = [...this.taskManagers.values()]
        .filter((tm) => tm.alive)
        .flatMap((tm) => {
          const used = new Set([...tm.holding.values()].map(({ slotIndex }) => slotIndex));
          return Array.from({ length: tm.slots }, (_, slotIndex) => slotIndex)
            .filter((slotIndex) => !used.has(slotIndex))
            .map((slotIndex) => ({ tm, slotIndex }));
        });
      if (free.length < count) {
        return { granted: false, reason: `not enough free slots: ${free.length} of ${count}` };
      }
      const slots: GrantedSlot[] = free.slice(0, count).map(({ tm, slotIndex }) => {
        const allocationId = `alloc-${this.nextAllocation++}`;
        tm.holding.set(allocationId, { jobId, allocationId, slotIndex });
        return { taskManagerId: tm.id, host: '127.0.0.1', port: tm.port, slotIndex, allocationId };
      });
      return { granted: true, slots };
    }
    if (pattern === JobMasterToResourceManagerPatterns.releaseSlots) {
      const { jobId, allocationIds } = data as { jobId: string; allocationIds?: string[] };
      let released = 0;
      for (const tm of this.taskManagers.values()) {
        for (const [allocationId, slot] of tm.holding) {
          if (slot.jobId === jobId && (!allocationIds || allocationIds.includes(allocationId))) {
            tm.holding.delete(allocationId);
            released += 1;
          }
        }
      }
      return { released };
    }
    throw new Error(`unexpected ${pattern}`);
  }
}

/** Stands in for ResourceManagerLink: its registration (as it changes) and its `request`. */
class FakeLink {
  private readonly registrations = new BehaviorSubject<RegistrationResponse | null>(REGISTRATION);
  readonly registration$ = this.registrations.asObservable();
  /** A refusal to answer the next request with, as the ResourceManager's error reply. */
  refusal: string | null = null;

  constructor(private readonly cluster: FakeCluster) {}

  get registration(): RegistrationResponse | null {
    return this.registrations.value;
  }

  setRegistration(registration: RegistrationResponse | null): void {
    this.registrations.next(registration);
  }

  async request<S extends z.ZodType>(
    pattern: string,
    data: object,
    schema: S,
    what: string,
  ): Promise<z.output<S>> {
    if (!this.registration) {
      throw new NotRegisteredError('this JobMaster is not registered with a ResourceManager');
    }
    await Promise.resolve(); // an answer comes later, never at once
    if (this.refusal) {
      const message = this.refusal;
      this.refusal = null;
      this.cluster.requests.push({ pattern, data: data as Record<string, unknown> });
      throw { status: 'error', message };
    }
    return parseMessage(
      schema,
      this.cluster.respond(pattern, data as Record<string, unknown>),
      what,
    );
  }
}

describe('JobsService', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule;
  let service: JobsService;
  let table: JobTable;
  let manager: HeartbeatManager;
  let cluster: FakeCluster;
  let link: FakeLink;
  let targets: {
    createTcpTarget: jest.Mock<(options: TcpHeartbeatTargetOptions) => HeartbeatTarget>;
  };
  let log: jest.SpiedFunction<Logger['log']>;
  let warn: jest.SpiedFunction<Logger['warn']>;
  let closed: boolean;

  beforeEach(async () => {
    closed = false;
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // The retries' timers (setTimeout, via the SchedulerRegistry) are fake; promises run as ever.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    clock = new ManualClock();
    cluster = new FakeCluster();
    cluster.addTaskManager('tm-a', 2);
    cluster.addTaskManager('tm-b', 2);
    link = new FakeLink(cluster);
    // Each target is its TaskManager (found by port): it answers with what it holds for us.
    targets = {
      createTcpTarget: jest.fn((options: TcpHeartbeatTargetOptions) => {
        const tm = cluster.byPort(options.port);
        return {
          requestHeartbeat: async (
            _origin: string,
            payload: unknown,
          ): Promise<HeartbeatAnswer | void> => {
            tm.requests.push(payload as JobMasterToTaskManagerHeartbeat | null);
            await Promise.resolve();
            return tm.answering
              ? { origin: tm.id, payload: { slots: [...tm.holding.values()] } }
              : undefined;
          },
          receiveHeartbeat: async () => undefined,
        };
      }),
    };
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'jm-1',
          managers: { [TASK_MANAGER_HEARTBEATS]: 'sender' },
          interval: INTERVAL,
          timeout: TIMEOUT,
          clock,
          scheduler: clock,
        }),
      ],
      providers: [
        {
          provide: JOB_MASTER_CONFIG,
          useValue: readJobMasterConfig({
            JM_ID: 'jm-1',
            HEARTBEAT_INTERVAL_MS: String(INTERVAL),
            HEARTBEAT_TIMEOUT_MS: String(TIMEOUT),
          }),
        },
        JobTable,
        JobsService,
        SchedulerRegistry,
        { provide: ResourceManagerLink, useValue: link },
        { provide: HeartbeatTargetFactory, useValue: targets },
      ],
    }).compile();
    await moduleRef.init();
    clock.advance(0); // the sender's first round (nobody to ask yet): from here on, one per beat
    service = moduleRef.get(JobsService);
    table = moduleRef.get(JobTable);
    manager = moduleRef.get(HeartbeatRegistry).getManager(TASK_MANAGER_HEARTBEATS);
    await settle(); // the first registration's (empty) replacement round
    cluster.requests.length = 0;
  });

  afterEach(async () => {
    if (!closed) {
      await moduleRef.close();
    }
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** `rounds` heartbeat rounds of the `taskManagers` sender, each answered before the next. */
  const beat = async (rounds = 1) => {
    for (let round = 0; round < rounds; round += 1) {
      clock.advance(INTERVAL);
      await settle();
    }
  };
  const monitored = () => manager.getMonitoredTargets().toSorted();
  const tm = (id: string) => cluster.taskManagers.get(id) as FakeTaskManager;
  /** Vets an answer (or a request) of `origin`, as a thunk for `toThrow`. */
  const vet =
    (origin: string, payload: unknown, kind: 'receive' | 'request' = 'receive') =>
    () =>
      service.vetAnswer({ manager: TASK_MANAGER_HEARTBEATS, kind, origin, payload });

  describe('submit', () => {
    it('asks the ResourceManager for the slots with its heartbeat secret, and watches each TaskManager holding them once', async () => {
      const view = await service.submit('job-1', 3);

      expect(cluster.slotRequests()).toEqual([
        { jobId: 'job-1', count: 3, heartbeatSecret: service.heartbeatSecret },
      ]);
      expect(view).toEqual({
        jobId: 'job-1',
        state: 'running',
        slots: [
          place('tm-a', 0, 'alloc-1'),
          place('tm-a', 1, 'alloc-2'),
          place('tm-b', 0, 'alloc-3'),
        ],
      });
      expect(service.find('job-1')).toEqual(view);
      expect(service.list()).toEqual([view]);
      expect(monitored()).toEqual(['tm-a', 'tm-b']);
      expect(targets.createTcpTarget.mock.calls.map(([options]) => options)).toEqual([
        {
          host: '127.0.0.1',
          port: tm('tm-a').port,
          remoteManager: JOB_MASTER_HEARTBEATS,
          tlsOptions: undefined,
        },
        {
          host: '127.0.0.1',
          port: tm('tm-b').port,
          remoteManager: JOB_MASTER_HEARTBEATS,
          tlsOptions: undefined,
        },
      ]);
      expect(log).toHaveBeenCalledWith(
        'Job job-1 submitted: 3 slots (tm-a slot 0, tm-a slot 1, tm-b slot 0)',
      );

      // A second job on a TaskManager already watched: no second target for it.
      await service.submit('job-2', 1);
      expect(targets.createTcpTarget).toHaveBeenCalledTimes(2);
      expect(monitored()).toEqual(['tm-a', 'tm-b']);
    });

    it('throws a JobConflictError with the reason when the cluster has not that many free slots, and keeps nothing', async () => {
      await expect(service.submit('job-1', 5)).rejects.toThrow(
        new JobConflictError('not enough free slots: 4 of 5'),
      );
      expect(service.find('job-1')).toBeUndefined();
      expect(table.size).toBe(0);
      expect(monitored()).toEqual([]);
      expect(targets.createTcpTarget).not.toHaveBeenCalled();
      expect(warn).toHaveBeenCalledWith('Job job-1 not submitted: not enough free slots: 4 of 5');

      // Not kept, so not asked for again either.
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(cluster.slotRequests()).toHaveLength(1);
      // The id is free: it may be submitted again with fewer slots.
      await expect(service.submit('job-1', 4)).resolves.toMatchObject({ state: 'running' });
    });

    it('refuses a job id taken, also while its first submission is on the way, asking for no slots', async () => {
      const first = service.submit('job-1', 1);
      await expect(service.submit('job-1', 1)).rejects.toThrow(
        new JobConflictError('Job job-1 exists already'),
      );
      await first;
      await expect(service.submit('job-1', 2)).rejects.toThrow(
        new JobConflictError('Job job-1 exists already'),
      );
      expect(cluster.slotRequests()).toHaveLength(1);
      expect(service.find('job-1')?.slots).toHaveLength(1);
    });

    it('refuses a job another JobMaster runs (the ResourceManager says so) as a conflict, and other refusals as ResourceManagerErrors', async () => {
      link.refusal = 'job job-1 is run by JobMaster jm-2';
      await expect(service.submit('job-1', 1)).rejects.toThrow(
        new JobConflictError('job job-1 is run by JobMaster jm-2'),
      );
      link.refusal = 'not the leader';
      await expect(service.submit('job-1', 1)).rejects.toThrow(
        new ResourceManagerError(
          'The ResourceManager refused 1 slot for job job-1: not the leader',
        ),
      );
      expect(table.size).toBe(0);
    });

    it('throws a NotRegisteredError without a registration, asking nothing', async () => {
      link.setRegistration(null);
      await expect(service.submit('job-1', 1)).rejects.toThrow(NotRegisteredError);
      expect(cluster.requests).toEqual([]);
      expect(table.size).toBe(0);
    });

    it('keeps nothing when the slot request gets no answer, and releases what it may have got', async () => {
      cluster.reachable = false;
      await expect(service.submit('job-1', 1)).rejects.toThrow(
        /^The ResourceManager did not answer about 1 slot for job job-1: /,
      );
      await settle();
      expect(table.size).toBe(0);
      expect(cluster.releases()).toEqual([{ jobId: 'job-1' }]);
    });
  });

  it('lists in its heartbeats to a TaskManager only the slots held there, with its secret', async () => {
    await service.submit('job-1', 3); // tm-a 0, 1; tm-b 0
    await service.submit('job-2', 1); // tm-b 1

    expect(service.heartbeatPayload('tm-a')).toEqual({
      heartbeatSecret: service.heartbeatSecret,
      slots: [held('job-1', 'alloc-1', 0), held('job-1', 'alloc-2', 1)],
    });
    expect(service.heartbeatPayload('tm-b')).toEqual({
      heartbeatSecret: service.heartbeatSecret,
      slots: [held('job-1', 'alloc-3', 0), held('job-2', 'alloc-4', 1)],
    });
    expect(service.heartbeatPayload('tm-x')).toEqual({
      heartbeatSecret: service.heartbeatSecret,
      slots: [],
    });

    // And the sender sends just that to each.
    await beat();
    expect(tm('tm-a').requests).toEqual([service.heartbeatPayload('tm-a')]);
    expect(tm('tm-b').requests).toEqual([service.heartbeatPayload('tm-b')]);
  });

  it('keeps a job running while its TaskManagers answer', async () => {
    await service.submit('job-1', 3);
    await beat(3 * (TIMEOUT / INTERVAL));
    expect(warn).not.toHaveBeenCalled();
    expect(service.find('job-1')?.state).toBe('running');
    expect(monitored()).toEqual(['tm-a', 'tm-b']);
    expect(cluster.slotRequests()).toHaveLength(1);
  });

  describe('vetAnswer', () => {
    it('takes a parsed answer only from a TaskManager it watches', async () => {
      await service.submit('job-1', 1);
      const answer = { slots: [held('job-1', 'alloc-1', 0)] };
      expect(vet('tm-a', answer)()).toMatchObject({ payload: answer });
      expect(vet('tm-x', answer)).toThrow(
        new ProtocolError('tm-x is not a TaskManager holding slots of this JobMaster'),
      );
      expect(vet('tm-a', { slots: [{ jobId: 'job-1' }] })).toThrow(
        /^heartbeat answer\.slots\[0\]\.allocationId: /,
      );
      expect(vet('tm-a', { ...answer, extra: 1 })).toThrow(/^heartbeat answer: /);
      expect(vet('tm-a', null)).toThrow(/^heartbeat answer: /);
      expect(vet('tm-a', answer, 'request')).toThrow(
        new ProtocolError('a JobMaster takes no heartbeat requests from TaskManagers'),
      );
    });

    it('no longer takes answers from a TaskManager once it holds none of our slots', async () => {
      await service.submit('job-1', 1);
      await service.cancel('job-1');
      expect(vet('tm-a', { slots: [] })).toThrow(/^tm-a is not a TaskManager holding slots/);
    });
  });

  describe('the loss of a TaskManager', () => {
    it('drops its slots, unmonitors it, and gets replacements elsewhere', async () => {
      cluster.taskManagers.delete('tm-b');
      cluster.addTaskManager('tm-b', 1);
      await service.submit('job-1', 2); // tm-a 0, tm-a 1
      await service.submit('job-2', 1); // tm-b 0
      expect(monitored()).toEqual(['tm-a', 'tm-b']);
      const tmC = cluster.addTaskManager('tm-c', 2);

      cluster.kill('tm-a');
      await beat(TIMEOUT / INTERVAL);

      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-a lost: heartbeat timeout; dropped 2 slots of job job-1; asking the ResourceManager for replacements',
      );
      expect(cluster.slotRequests().slice(2)).toEqual([
        { jobId: 'job-1', count: 2, heartbeatSecret: service.heartbeatSecret },
      ]);
      expect(service.find('job-1')).toEqual({
        jobId: 'job-1',
        state: 'running',
        slots: [place('tm-c', 0, 'alloc-4'), place('tm-c', 1, 'alloc-5')],
      });
      expect(service.find('job-2')?.slots).toEqual([place('tm-b', 0, 'alloc-3')]);
      expect(monitored()).toEqual(['tm-b', 'tm-c']);
      expect(service.heartbeatPayload('tm-a').slots).toEqual([]);
      expect(log).toHaveBeenCalledWith(
        'Job job-1 got 2 replacement slots (tm-c slot 0, tm-c slot 1); running again with its 2 slots',
      );

      // The replacements are heartbeated, and nothing more is asked for.
      await beat(2);
      expect(tmC.requests.at(-1)).toEqual({
        heartbeatSecret: service.heartbeatSecret,
        slots: [held('job-1', 'alloc-4', 0), held('job-1', 'alloc-5', 1)],
      });
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(cluster.slotRequests()).toHaveLength(3);
    });

    it('asks again after a refusal, backing off from 100 ms up to the interval, until the job has its full count', async () => {
      await service.submit('job-1', 4); // tm-a 0, 1; tm-b 0, 1
      cluster.kill('tm-b');
      service.onTaskManagerLost('tm-b', 'unreachable');
      await settle();

      expect(monitored()).toEqual(['tm-a']);
      expect(service.find('job-1')).toMatchObject({
        state: 'restarting',
        slots: [place('tm-a', 0, 'alloc-1'), place('tm-a', 1, 'alloc-2')],
      });
      expect(cluster.slotRequests()).toHaveLength(2);
      expect(warn).toHaveBeenCalledWith(
        'Job job-1 is short of 2 slots: not enough free slots: 0 of 2; asking again in 100 ms',
      );

      // Refused each time: 100, 200, 400, 800, then every 1000 ms (the interval).
      await jest.advanceTimersByTimeAsync(99);
      expect(cluster.slotRequests()).toHaveLength(2); // not before its delay
      const asked: number[] = [];
      for (const delay of [1, 200, 400, 800, 1_000, 1_000]) {
        await jest.advanceTimersByTimeAsync(delay);
        asked.push(cluster.slotRequests().length);
      }
      expect(asked).toEqual([3, 4, 5, 6, 7, 8]);
      expect(jest.getTimerCount()).toBe(1);

      // A TaskManager with free slots comes: the next retry gets them, and the retries end.
      cluster.addTaskManager('tm-c', 2);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(cluster.slotRequests()).toHaveLength(9);
      expect(cluster.slotRequests().at(-1)).toMatchObject({ jobId: 'job-1', count: 2 });
      expect(service.find('job-1')?.state).toBe('running');
      expect(monitored()).toEqual(['tm-a', 'tm-c']);
      expect(jest.getTimerCount()).toBe(0);
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(cluster.slotRequests()).toHaveLength(9);
    });

    it('asks again after a failed request too, and again at once on a new registration', async () => {
      await service.submit('job-1', 2); // tm-a 0, 1
      cluster.kill('tm-a');
      cluster.reachable = false;
      service.onTaskManagerLost('tm-a', 'timeout');
      await settle();
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /^Job job-1 is short of 2 slots: The ResourceManager did not answer about 2 slots for job job-1: .*ECONNREFUSED.*; asking again in 100 ms$/,
        ),
      );
      await jest.advanceTimersByTimeAsync(100);
      expect(cluster.slotRequests()).toHaveLength(3);

      // Unregistered: no retry (nobody to ask); the next registration asks at once.
      link.setRegistration(null);
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(cluster.slotRequests()).toHaveLength(3);
      cluster.reachable = true;
      link.setRegistration({ ...REGISTRATION, credential: 'credential-2' });
      await settle();
      expect(cluster.slotRequests()).toHaveLength(4);
      expect(service.find('job-1')).toMatchObject({
        state: 'running',
        slots: [place('tm-b', 0, 'alloc-3'), place('tm-b', 1, 'alloc-4')],
      });
    });
  });

  describe('a TaskManager answer', () => {
    it('drops a confirmed slot it no longer lists, and gets a replacement', async () => {
      await service.submit('job-1', 2); // tm-a 0, 1
      await beat(); // both confirmed
      tm('tm-a').holding.delete('alloc-1');
      await beat();

      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-a no longer holds 1 slot of this JobMaster (job-1: alloc-1); asking the ResourceManager for replacements',
      );
      expect(cluster.slotRequests().at(-1)).toEqual({
        jobId: 'job-1',
        count: 1,
        heartbeatSecret: service.heartbeatSecret,
      });
      // tm-a's slot 0 is free again: the ResourceManager grants it anew.
      expect(service.find('job-1')).toEqual({
        jobId: 'job-1',
        state: 'running',
        slots: [place('tm-a', 1, 'alloc-2'), place('tm-a', 0, 'alloc-3')],
      });
    });

    it('keeps a slot just granted that the answer does not list yet', async () => {
      await service.submit('job-1', 1);
      // An answer computed before the allocation reached the TaskManager.
      service.onAnswer('tm-a', { slots: [] });
      expect(service.find('job-1')?.slots).toEqual([place('tm-a', 0, 'alloc-1')]);
      expect(cluster.slotRequests()).toHaveLength(1);
    });

    it('unmonitors a TaskManager left with none of our slots', async () => {
      await service.submit('job-1', 3); // tm-a 0, 1; tm-b 0
      await beat();
      // tm-b is up but freed our slot, and the ResourceManager has no free slot left for us.
      tm('tm-b').holding.clear();
      tm('tm-b').alive = false;
      await beat();
      expect(monitored()).toEqual(['tm-a']);
      expect(service.find('job-1')?.state).toBe('restarting');
    });

    it('releases, once, slots a TaskManager holds for us that no job knows', async () => {
      await service.submit('job-1', 1);
      const stray = held('job-gone', 'alloc-stray', 1);
      tm('tm-a').holding.set('alloc-stray', stray);
      await beat();
      // Still there on the next answer (the release is on its way): not released twice.
      tm('tm-a').holding.set('alloc-stray', stray);
      await beat();
      expect(cluster.releases()).toEqual([{ jobId: 'job-gone', allocationIds: ['alloc-stray'] }]);
      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-a holds 1 slot for this JobMaster that no job of it has (job-gone: alloc-stray); releasing them',
      );
      expect(service.find('job-1')?.state).toBe('running');
    });
  });

  describe('cancel', () => {
    it('has the ResourceManager release the slots, unwatches the TaskManagers left idle, and forgets the job', async () => {
      await service.submit('job-1', 3); // tm-a 0, 1; tm-b 0
      await service.submit('job-2', 1); // tm-b 1

      await expect(service.cancel('job-1')).resolves.toEqual({ jobId: 'job-1', released: 3 });

      expect(cluster.releases()).toEqual([{ jobId: 'job-1' }]);
      expect(service.find('job-1')).toBeUndefined();
      expect(service.list().map(({ jobId }) => jobId)).toEqual(['job-2']);
      expect(monitored()).toEqual(['tm-b']); // tm-b still holds job-2's slot
      expect(service.heartbeatPayload('tm-b').slots).toEqual([held('job-2', 'alloc-4', 1)]);
      expect(log).toHaveBeenCalledWith('Job job-1 deleted: the ResourceManager released 3 slots');

      await service.cancel('job-2');
      expect(monitored()).toEqual([]);
      expect(table.size).toBe(0);
      // Nothing to replace: a deleted job is not asked for again.
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(cluster.slotRequests()).toHaveLength(2);
    });

    it('throws an UnknownJobError for a job it does not run', async () => {
      await expect(service.cancel('job-x')).rejects.toThrow(
        new UnknownJobError('No job with id job-x'),
      );
      expect(cluster.requests).toEqual([]);
    });

    it('keeps the job when the ResourceManager cannot release it (503: ask again), and releases it when asked again', async () => {
      await service.submit('job-1', 1);
      cluster.reachable = false;
      await expect(service.cancel('job-1')).rejects.toThrow(
        /^The ResourceManager did not answer about the release of job job-1: /,
      );
      expect(service.find('job-1')?.state).toBe('running');
      expect(monitored()).toEqual(['tm-a']);

      link.setRegistration(null);
      await expect(service.cancel('job-1')).rejects.toThrow(NotRegisteredError);

      cluster.reachable = true;
      link.setRegistration(REGISTRATION);
      await expect(service.cancel('job-1')).resolves.toEqual({ jobId: 'job-1', released: 1 });
      expect(service.find('job-1')).toBeUndefined();
      expect(monitored()).toEqual([]);
    });
  });

  it('leaves no retry behind when the application shuts down', async () => {
    await service.submit('job-1', 4);
    cluster.kill('tm-a');
    service.onTaskManagerLost('tm-a', 'timeout');
    await settle();
    // No free slot anywhere: a retry is pending.
    expect(moduleRef.get(SchedulerRegistry).getTimeouts()).toEqual([REPLACEMENT_RETRY]);
    expect(jest.getTimerCount()).toBe(1);

    await moduleRef.close();
    closed = true;
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(cluster.slotRequests()).toHaveLength(2);
  });
});

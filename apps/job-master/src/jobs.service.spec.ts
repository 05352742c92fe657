import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { BehaviorSubject } from 'rxjs';
import type { z } from 'zod';
import {
  ID_PATTERN,
  JobMasterToResourceManagerPatterns,
  parseMessage,
  TASK_MANAGER_HEARTBEATS,
  type GrantedSlot,
  type HeldSlot,
  type RegistrationResponse,
  type SlotRequestAnswer,
} from '#cluster';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  ManualClock,
  type HeartbeatManager,
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
const NOT_ENOUGH = 'Not enough free slots: asked for 1, 0 free';

/** Slot `slotIndex` of `taskManagerId` (listening at 127.0.0.1:4000<n>), as the ResourceManager grants it. */
const slot = (taskManagerId: string, slotIndex: number): GrantedSlot => ({
  taskManagerId,
  host: '127.0.0.1',
  port: 40_000 + Number(taskManagerId.slice(-1)),
  slotIndex,
  allocationId: `allocation-${taskManagerId}-${slotIndex}`,
});
const held = (jobId: string, { allocationId, slotIndex }: GrantedSlot): HeldSlot => ({
  jobId,
  allocationId,
  slotIndex,
});
const granted = (...slots: GrantedSlot[]): SlotRequestAnswer => ({ granted: true, slots });
const notGranted = (reason = NOT_ENOUGH): SlotRequestAnswer => ({ granted: false, reason });

interface Request {
  readonly pattern: string;
  readonly data: Record<string, unknown>;
}

/**
 * A stand-in for the link to the ResourceManager: registered (or not, as a spec sets it), each
 * request recorded and answered by `answer` (by default: the next of `script`, then a release of
 * 1 slot), its answers checked by the schema as the real one does.
 */
class FakeLink {
  readonly registrations = new BehaviorSubject<RegistrationResponse | null>(REGISTRATION);
  readonly registration$ = this.registrations.asObservable();
  readonly requests: Request[] = [];
  /** Answers (or errors, rejected with) of the next requests, in order. */
  script: unknown[] = [];
  answer = (request: Request): Promise<unknown> => {
    if (this.script.length > 0) {
      const next = this.script.shift();
      return next instanceof Error || (next as { status?: string })?.status === 'error'
        ? Promise.reject(next)
        : Promise.resolve(next);
    }
    return Promise.resolve(
      request.pattern === JobMasterToResourceManagerPatterns.releaseSlots
        ? { released: 1 }
        : notGranted(),
    );
  };

  get registration(): RegistrationResponse | null {
    return this.registrations.value;
  }

  async request<S extends z.ZodType>(
    pattern: string,
    data: Record<string, unknown>,
    schema: S,
    what: string,
  ): Promise<z.output<S>> {
    if (!this.registration) {
      throw new NotRegisteredError('this JobMaster is not registered with a ResourceManager');
    }
    const request = { pattern, data };
    this.requests.push(request);
    return parseMessage(schema, await this.answer(request), what);
  }

  /** The slot requests so far: job and count. */
  slotRequests(): Array<{ jobId: unknown; count: unknown }> {
    return this.requests
      .filter(({ pattern }) => pattern === JobMasterToResourceManagerPatterns.requestSlots)
      .map(({ data }) => ({ jobId: data.jobId, count: data.count }));
  }

  releases(): Array<Record<string, unknown>> {
    return this.requests
      .filter(({ pattern }) => pattern === JobMasterToResourceManagerPatterns.releaseSlots)
      .map(({ data }) => data);
  }
}

/** A promise settled from outside: an answer of the ResourceManager still on the way. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe('JobsService', () => {
  let moduleRef: TestingModule;
  let service: JobsService;
  let link: FakeLink;
  let manager: HeartbeatManager;
  let scheduler: SchedulerRegistry;
  let log: jest.SpiedFunction<Logger['log']>;
  let warn: jest.SpiedFunction<Logger['warn']>;
  /** What `performance.now()` reads: the grace of unconfirmed slots runs on it. */
  let now: number;

  beforeEach(async () => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    now = 1_000;
    jest.spyOn(performance, 'now').mockImplementation(() => now);
    link = new FakeLink();
    scheduler = new SchedulerRegistry();
    // The heartbeats' time stands still: no request goes out to the (absent) TaskManagers.
    const clock = new ManualClock();
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'jm-a',
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
            JM_ID: 'jm-a',
            HEARTBEAT_INTERVAL_MS: String(INTERVAL),
            HEARTBEAT_TIMEOUT_MS: String(TIMEOUT),
          }),
        },
        { provide: SchedulerRegistry, useValue: scheduler },
        { provide: ResourceManagerLink, useValue: link },
        JobTable,
        JobsService,
      ],
    }).compile();
    await moduleRef.init();
    service = moduleRef.get(JobsService);
    manager = moduleRef.get(HeartbeatRegistry).getManager(TASK_MANAGER_HEARTBEATS);
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const monitored = () => manager.getMonitoredTargets().toSorted();

  /** A TaskManager's answer to our heartbeat, as the transport hands it over: vetted, then to the manager. */
  const answer = (taskManagerId: string, slots: HeldSlot[]) =>
    manager.receiveHeartbeat(
      taskManagerId,
      service.vetAnswer({
        manager: TASK_MANAGER_HEARTBEATS,
        kind: 'receive',
        origin: taskManagerId,
        payload: { slots },
      }).payload,
    );

  /** Vets a heartbeat of `kind` from `origin`, as a thunk for `toThrow`. */
  const vet = (kind: 'request' | 'receive', origin: string, payload: unknown) => () =>
    service.vetAnswer({ manager: TASK_MANAGER_HEARTBEATS, kind, origin, payload });

  /** Submits a job granted `slots`. */
  const submitted = (jobId: string, ...slots: GrantedSlot[]) => {
    link.script.push(granted(...slots));
    return service.submit(jobId, slots.length);
  };

  describe('submitting a job', () => {
    it('takes the slots the ResourceManager grants, and watches their TaskManagers with its heartbeats', async () => {
      const view = await submitted('job-a', slot('tm-1', 0), slot('tm-1', 1), slot('tm-2', 0));

      expect(view).toEqual({
        jobId: 'job-a',
        state: 'running',
        slots: [
          { taskManagerId: 'tm-1', slotIndex: 0, allocationId: 'allocation-tm-1-0' },
          { taskManagerId: 'tm-1', slotIndex: 1, allocationId: 'allocation-tm-1-1' },
          { taskManagerId: 'tm-2', slotIndex: 0, allocationId: 'allocation-tm-2-0' },
        ],
      });
      expect(service.find('job-a')).toEqual(view);
      expect(service.list()).toEqual([view]);
      expect(link.requests).toEqual([
        {
          pattern: JobMasterToResourceManagerPatterns.requestSlots,
          data: { jobId: 'job-a', count: 3, heartbeatSecret: service.heartbeatSecret },
        },
      ]);
      expect(service.heartbeatSecret).toMatch(ID_PATTERN);
      expect(log).toHaveBeenCalledWith(
        'Job job-a submitted: 3 slots (tm-1 slot 0, tm-1 slot 1, tm-2 slot 0)',
      );

      expect(monitored()).toEqual(['tm-1', 'tm-2']);
      // Not heard from yet: its timeout runs from now.
      expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
      // Each TaskManager's heartbeats carry our secret and the slots we hold there.
      expect(service.heartbeatPayload('tm-1')).toEqual({
        heartbeatSecret: service.heartbeatSecret,
        slots: [held('job-a', slot('tm-1', 0)), held('job-a', slot('tm-1', 1))],
      });
      expect(service.heartbeatPayload('tm-2').slots).toEqual([held('job-a', slot('tm-2', 0))]);
    });

    it('is a conflict when the cluster cannot give that many slots: the job is not kept', async () => {
      link.script.push(notGranted('Not enough free slots: asked for 5, 2 free'));
      await expect(service.submit('job-a', 5)).rejects.toThrow(
        new JobConflictError('Not enough free slots: asked for 5, 2 free'),
      );
      expect(service.find('job-a')).toBeUndefined();
      expect(service.list()).toEqual([]);
      expect(monitored()).toEqual([]);
      expect(warn).toHaveBeenCalledWith(
        'Job job-a not submitted: Not enough free slots: asked for 5, 2 free',
      );
      // The id is free again; and nothing is asked again for a job not kept.
      await expect(submitted('job-a', slot('tm-1', 0))).resolves.toMatchObject({
        state: 'running',
      });
      expect(link.slotRequests()).toHaveLength(2);
    });

    it('refuses a job id that is taken, also while its first submission is on the way', async () => {
      const first = deferred<unknown>();
      link.answer = () => first.promise;
      const submission = service.submit('job-a', 1);
      await expect(service.submit('job-a', 1)).rejects.toThrow(
        new JobConflictError('Job job-a exists already'),
      );
      first.resolve(granted(slot('tm-1', 0)));
      await submission;
      await expect(service.submit('job-a', 2)).rejects.toThrow(
        new JobConflictError('Job job-a exists already'),
      );
      expect(link.slotRequests()).toEqual([{ jobId: 'job-a', count: 1 }]);
    });

    it('needs a registration, and tells a refusal from a ResourceManager that does not answer', async () => {
      link.registrations.next(null);
      await expect(service.submit('job-a', 1)).rejects.toThrow(NotRegisteredError);
      expect(link.requests).toEqual([]);
      link.registrations.next(REGISTRATION);

      // Another JobMaster runs a job of that id: a conflict.
      link.script.push({ status: 'error', message: 'job job-a is run by JobMaster jm-b' });
      await expect(service.submit('job-a', 1)).rejects.toThrow(
        new JobConflictError('job job-a is run by JobMaster jm-b'),
      );
      // Any other refusal: the ResourceManager cannot now (503).
      link.script.push({ status: 'error', message: 'not the leader' });
      await expect(service.submit('job-a', 1)).rejects.toThrow(
        new ResourceManagerError(
          'The ResourceManager refused 1 slot for job job-a: not the leader',
        ),
      );
      expect(link.releases()).toEqual([]);

      // No answer: the slots may have been granted all the same, so they are released.
      link.script.push(new Error('Timeout has occurred'));
      await expect(service.submit('job-a', 2)).rejects.toThrow(
        new ResourceManagerError(
          'The ResourceManager did not answer about 2 slots for job job-a: Timeout has occurred',
        ),
      );
      await Promise.resolve();
      expect(link.releases()).toEqual([{ jobId: 'job-a' }]);
      expect(service.find('job-a')).toBeUndefined();
    });
  });

  describe('losing slots', () => {
    it("asks for replacements of a lost TaskManager's slots, again after each refusal with capped backoff, until every job has its full count", async () => {
      jest.useFakeTimers({ doNotFake: ['performance'] });
      await submitted('job-a', slot('tm-1', 0), slot('tm-1', 1), slot('tm-2', 0));
      await submitted('job-b', slot('tm-2', 1));
      // job-a, job-b: refused; 100 ms later job-a granted, job-b refused; 200 ms later job-b granted.
      link.script.push(
        notGranted(),
        notGranted(),
        granted(slot('tm-3', 0)),
        notGranted(),
        granted(slot('tm-3', 1)),
      );

      service.onTaskManagerLost('tm-2', 'timeout');
      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-2 lost: heartbeat timeout; dropped 2 slots of jobs job-a, job-b; asking the ResourceManager for replacements',
      );
      expect(monitored()).toEqual(['tm-1']);
      expect(service.find('job-a')).toMatchObject({
        state: 'restarting',
        slots: [{ taskManagerId: 'tm-1' }, { taskManagerId: 'tm-1' }],
      });
      expect(service.find('job-b')).toEqual({ jobId: 'job-b', state: 'restarting', slots: [] });
      // No heartbeat of ours lists them any more.
      expect(service.heartbeatPayload('tm-2').slots).toEqual([]);

      await jest.advanceTimersByTimeAsync(0);
      expect(link.slotRequests().slice(2)).toEqual([
        { jobId: 'job-a', count: 1 },
        { jobId: 'job-b', count: 1 },
      ]);
      expect(warn).toHaveBeenCalledWith(
        `Job job-a is short of 1 slot: ${NOT_ENOUGH}; asking again in 100 ms`,
      );
      expect(scheduler.getTimeouts()).toEqual([REPLACEMENT_RETRY]);

      await jest.advanceTimersByTimeAsync(99);
      expect(link.slotRequests()).toHaveLength(4); // not before its delay
      await jest.advanceTimersByTimeAsync(1);
      expect(link.slotRequests()).toHaveLength(6);
      expect(service.find('job-a')?.state).toBe('running');
      expect(log).toHaveBeenCalledWith(
        'Job job-a got 1 replacement slot (tm-3 slot 0); running again with its 3 slots',
      );
      expect(warn).toHaveBeenCalledWith(
        `Job job-b is short of 1 slot: ${NOT_ENOUGH}; asking again in 200 ms`,
      );
      expect(monitored()).toEqual(['tm-1', 'tm-3']);

      await jest.advanceTimersByTimeAsync(199);
      expect(link.slotRequests()).toHaveLength(6);
      await jest.advanceTimersByTimeAsync(1);
      expect(link.slotRequests().at(-1)).toEqual({ jobId: 'job-b', count: 1 });
      expect(service.find('job-b')).toMatchObject({
        state: 'running',
        slots: [{ taskManagerId: 'tm-3', slotIndex: 1 }],
      });
      expect(scheduler.getTimeouts()).toEqual([]);
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(link.slotRequests()).toHaveLength(7); // all there: nothing more to ask
    });

    it('retries after a failure too, the delay doubling up to the heartbeat interval', async () => {
      jest.useFakeTimers({ doNotFake: ['performance'] });
      await submitted('job-a', slot('tm-1', 0));
      link.answer = () => Promise.reject(new Error('Timeout has occurred'));
      service.onTaskManagerLost('tm-1', 'unreachable');
      await jest.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 1_000 + 1_000);
      const delays = warn.mock.calls.flatMap(([line]) => {
        const match =
          /^Job job-a is short of 1 slot: The ResourceManager did not answer about 1 slot for job job-a: Timeout has occurred; asking again in (\d+) ms$/.exec(
            String(line),
          );
        return match ? [Number(match[1])] : [];
      });
      expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
      // A replacement's lost answer is not released: the job's other slots would go with it.
      expect(link.releases()).toEqual([]);
    });

    it('asks for nothing without a registration, and at once when it registers', async () => {
      jest.useFakeTimers({ doNotFake: ['performance'] });
      await submitted('job-a', slot('tm-1', 0), slot('tm-2', 0));
      link.registrations.next(null);
      service.onTaskManagerLost('tm-2', 'timeout');
      await jest.advanceTimersByTimeAsync(10 * INTERVAL);
      expect(link.slotRequests()).toHaveLength(1);
      expect(scheduler.getTimeouts()).toEqual([]);

      link.script.push(granted(slot('tm-3', 0)));
      link.registrations.next(REGISTRATION);
      await jest.advanceTimersByTimeAsync(0);
      expect(link.slotRequests().at(-1)).toEqual({ jobId: 'job-a', count: 1 });
      expect(service.find('job-a')?.state).toBe('running');
    });

    it('drops the slots a TaskManager no longer holds once it listed them, keeps a new one for the grace, and asks for replacements', async () => {
      await submitted('job-a', slot('tm-1', 0), slot('tm-1', 1));
      await answer('tm-1', [held('job-a', slot('tm-1', 0)), held('job-a', slot('tm-1', 1))]);
      expect(manager.getLastHeartbeatFrom('tm-1')).toBeGreaterThan(0);
      expect(warn).not.toHaveBeenCalled();

      link.script.push(granted(slot('tm-2', 0)));
      await answer('tm-1', [held('job-a', slot('tm-1', 1))]);
      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-1 no longer holds 1 slot of this JobMaster (job-a: allocation-tm-1-0); asking the ResourceManager for replacements',
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(link.slotRequests().at(-1)).toEqual({ jobId: 'job-a', count: 1 });
      expect(service.find('job-a')).toMatchObject({
        state: 'running',
        slots: [{ allocationId: 'allocation-tm-1-1' }, { allocationId: 'allocation-tm-2-0' }],
      });

      // tm-2's first answer may predate the allocation: within the grace, the new slot is kept…
      now += TIMEOUT - 1;
      await answer('tm-2', []);
      expect(service.find('job-a')?.slots).toHaveLength(2);
      // …but not once a TaskManager has never listed it for that long.
      link.script.push(granted(slot('tm-3', 0)));
      now += 1;
      await answer('tm-2', []);
      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-2 no longer holds 1 slot of this JobMaster (job-a: allocation-tm-2-0); asking the ResourceManager for replacements',
      );
      await new Promise((resolve) => setImmediate(resolve));
      // It holds none of ours any more: no longer watched.
      expect(monitored()).toEqual(['tm-1', 'tm-3']);
    });

    it('releases what a TaskManager holds for it that no job knows, once, unless a request that may have got it is on the way', async () => {
      await submitted('job-a', slot('tm-1', 0));
      const stray = { jobId: 'job-a', allocationId: 'allocation-x', slotIndex: 1 };
      await answer('tm-1', [held('job-a', slot('tm-1', 0)), stray]);
      expect(link.releases()).toEqual([{ jobId: 'job-a', allocationIds: ['allocation-x'] }]);
      expect(warn).toHaveBeenCalledWith(
        'TaskManager tm-1 holds 1 slot for this JobMaster that no job of it has (job-a: allocation-x); releasing them',
      );
      // It is not in our heartbeats, and not asked about again (until the next registration).
      expect(service.heartbeatPayload('tm-1').slots).toEqual([held('job-a', slot('tm-1', 0))]);
      await answer('tm-1', [held('job-a', slot('tm-1', 0)), stray]);
      expect(link.releases()).toHaveLength(1);

      // While a request for a job is on the way, what a TaskManager holds for it may be that grant.
      const pending = deferred<unknown>();
      link.answer = () => pending.promise;
      const submission = service.submit('job-b', 1);
      await answer('tm-1', [held('job-a', slot('tm-1', 0)), held('job-b', slot('tm-1', 1))]);
      expect(link.releases()).toHaveLength(1);
      pending.resolve(granted(slot('tm-1', 1)));
      await submission;
      await answer('tm-1', [held('job-a', slot('tm-1', 0)), held('job-b', slot('tm-1', 1))]);
      expect(link.releases()).toHaveLength(1);
    });

    it('takes only answers, from the TaskManagers it watches, in the shape of the protocol', async () => {
      await submitted('job-a', slot('tm-1', 0));
      expect(vet('receive', 'tm-1', { slots: [] })()).toMatchObject({ payload: { slots: [] } });
      expect(vet('request', 'tm-1', { slots: [] })).toThrow(
        'a JobMaster takes no heartbeat requests from TaskManagers',
      );
      expect(vet('receive', 'tm-9', { slots: [] })).toThrow(
        'tm-9 is not a TaskManager holding slots of this JobMaster',
      );
      expect(vet('receive', 'tm-1', { slots: [{ jobId: 'job-a' }] })).toThrow(
        /^heartbeat answer\.slots\[0\]\.allocationId: /,
      );
      expect(vet('receive', 'tm-1', null)).toThrow(/^heartbeat answer: /);
    });
  });

  describe('deleting a job', () => {
    it('has the ResourceManager release its slots, then forgets it and stops watching its TaskManagers', async () => {
      await submitted('job-a', slot('tm-1', 0));
      await submitted('job-b', slot('tm-1', 1), slot('tm-2', 0));
      link.script.push({ released: 2 });

      await expect(service.cancel('job-b')).resolves.toEqual({ jobId: 'job-b', released: 2 });
      expect(link.releases()).toEqual([{ jobId: 'job-b' }]);
      expect(service.find('job-b')).toBeUndefined();
      expect(monitored()).toEqual(['tm-1']);
      expect(service.heartbeatPayload('tm-1').slots).toEqual([held('job-a', slot('tm-1', 0))]);
      expect(log).toHaveBeenCalledWith('Job job-b deleted: the ResourceManager released 2 slots');

      await expect(service.cancel('job-b')).rejects.toThrow(
        new UnknownJobError('No job with id job-b'),
      );
    });

    it('keeps the job when the ResourceManager cannot release it, to be deleted again', async () => {
      await submitted('job-a', slot('tm-1', 0));
      link.registrations.next(null);
      await expect(service.cancel('job-a')).rejects.toThrow(NotRegisteredError);
      link.registrations.next(REGISTRATION);
      link.script.push({ status: 'error', message: 'Release incomplete: ECONNREFUSED' });
      await expect(service.cancel('job-a')).rejects.toThrow(
        new ResourceManagerError(
          'The ResourceManager refused the release of job job-a: Release incomplete: ECONNREFUSED',
        ),
      );
      expect(service.find('job-a')).toMatchObject({ state: 'running' });
      expect(monitored()).toEqual(['tm-1']);

      await expect(service.cancel('job-a')).resolves.toEqual({ jobId: 'job-a', released: 1 });
    });

    it('releases what a replacement request brings for a job deleted meanwhile', async () => {
      await submitted('job-a', slot('tm-1', 0), slot('tm-2', 0));
      const replacement = deferred<unknown>();
      link.answer = ({ pattern }) =>
        pattern === JobMasterToResourceManagerPatterns.requestSlots
          ? replacement.promise
          : Promise.resolve({ released: 1 });
      service.onTaskManagerLost('tm-2', 'timeout');
      await expect(service.cancel('job-a')).resolves.toEqual({ jobId: 'job-a', released: 1 });

      replacement.resolve(granted(slot('tm-3', 0)));
      await new Promise((resolve) => setImmediate(resolve));
      expect(link.releases()).toEqual([
        { jobId: 'job-a' },
        { jobId: 'job-a', allocationIds: ['allocation-tm-3-0'] },
      ]);
      expect(monitored()).toEqual([]);
    });
  });

  it('leaves no retry behind when the application shuts down', async () => {
    await submitted('job-a', slot('tm-1', 0));
    service.onTaskManagerLost('tm-1', 'timeout');
    await new Promise((resolve) => setImmediate(resolve));
    expect(scheduler.getTimeouts()).toEqual([REPLACEMENT_RETRY]);

    await moduleRef.close();
    expect(scheduler.getTimeouts()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the retry's 100 ms
    expect(link.slotRequests()).toHaveLength(2);
  });
});

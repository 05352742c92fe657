import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BehaviorSubject, of, throwError } from 'rxjs';
import {
  jobSlotReleaseAnswerSchema,
  JobMasterToResourceManagerPatterns,
  ProtocolError,
  ResourceManagerLocator,
  type JobMasterRegistrationRequest,
  type RegistrationResponse,
  type ResourceManagerLocation,
} from '#cluster';
import { acceptHeartbeat, type HeartbeatManager } from 'nestjs-heartbeat';
import { readJobMasterConfig, type JobMasterConfig } from './job-master.config.js';
import { JobMasterModule } from './job-master.module.js';
import { JobTable } from './job-table.service.js';
import {
  errorReplyOf,
  NotRegisteredError,
  REGISTRATION_RETRY,
  ResourceManagerLink,
} from './resource-manager-link.service.js';

const RM_ID = 'resource-manager-test';
const FENCING_TOKEN = '1001';
const settle = () => new Promise((resolve) => setImmediate(resolve));
const slot = (taskManagerId: string, slotIndex: number) => ({
  taskManagerId,
  host: '127.0.0.1',
  port: 40_100,
  slotIndex,
  allocationId: `allocation-${taskManagerId}-${slotIndex}`,
});

/** A message the link sent: its pattern, its data, and the port of the ResourceManager it went to. */
interface Sent {
  readonly pattern: string;
  readonly data: Record<string, unknown>;
  readonly port: number;
}

type Answer = (sent: Sent) => ReturnType<ClientTCP['send']>;

/** Every message any link sends goes to `answer`, which the specs vary; `sent` records them. */
function fakeResourceManagers(answer: Answer): Sent[] {
  const sent: Sent[] = [];
  jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(function (
    this: ClientTCP,
    pattern,
    data,
  ) {
    const { port } = this as unknown as { port: number };
    const message = { pattern: String(pattern), data: data as Record<string, unknown>, port };
    sent.push(message);
    return answer(message);
  });
  return sent;
}

const registrations = (sent: readonly Sent[]) =>
  sent
    .filter(({ pattern }) => pattern === JobMasterToResourceManagerPatterns.register)
    .map(({ data }) => data as unknown as JobMasterRegistrationRequest);

/** Registrations get credential-1, credential-2, …; other messages `{ released: 1 }`. */
const answeringRegistrations = (): Answer => {
  let issued = 0;
  return ({ pattern }) => {
    if (pattern !== JobMasterToResourceManagerPatterns.register) {
      return of({ released: 1 }) as never;
    }
    issued += 1;
    const answer: RegistrationResponse = {
      resourceManagerId: RM_ID,
      fencingToken: FENCING_TOKEN,
      credential: `credential-${issued}`,
    };
    return of(answer) as never;
  };
};

function newLink(
  config: JobMasterConfig,
  jobs: JobTable,
  locator: ResourceManagerLocator = new ResourceManagerLocator(config),
  scheduler = new SchedulerRegistry(),
) {
  const heartbeats = { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() };
  const link = new ResourceManagerLink(
    config,
    heartbeats as unknown as HeartbeatManager,
    scheduler,
    locator,
    jobs,
  );
  return { link, heartbeats, scheduler };
}

describe('ResourceManagerLink', () => {
  let config: JobMasterConfig;
  let jobs: JobTable;
  let link: ResourceManagerLink;
  let heartbeats: { monitorTarget: jest.Mock; unmonitorTarget: jest.Mock };
  let sent: Sent[];
  let log: jest.SpiedFunction<Logger['log']>;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(async () => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    sent = fakeResourceManagers(answeringRegistrations());
    config = readJobMasterConfig({ JM_ID: 'jm-a', RM_TCP_PORT: '6123' });
    jobs = new JobTable();
    ({ link, heartbeats } = newLink(config, jobs));
    link.start(40_000);
    await settle();
  });

  afterEach(() => {
    link.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  const heartbeatRequest =
    (payload: unknown, origin = RM_ID) =>
    () =>
      link.vetHeartbeat({ manager: 'resourceManager', kind: 'request', origin, payload });

  it('registers with its id, host, bound port and jobs, then watches the ResourceManager', () => {
    expect(registrations(sent)).toEqual([
      { jobMasterId: 'jm-a', host: '127.0.0.1', port: 40_000, credential: undefined, jobs: [] },
    ]);
    expect(sent[0].port).toBe(6_123);
    expect(heartbeats.monitorTarget).toHaveBeenCalledWith(RM_ID);
    expect(link.registration).toEqual({
      resourceManagerId: RM_ID,
      fencingToken: FENCING_TOKEN,
      credential: 'credential-1',
    });
    expect(log).toHaveBeenCalledWith(
      `JobMaster jm-a registered with ResourceManager ${RM_ID} (fencing token ${FENCING_TOKEN}) with 0 jobs`,
    );
    // Its answers to the ResourceManager's heartbeats: whose registration, and its jobs.
    jobs.add('job-a', 1, [slot('tm-1', 0)]);
    expect(link.heartbeatPayload()).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: 'credential-1',
      jobs: ['job-a'],
    });
  });

  it("accepts heartbeat requests only from its ResourceManager, with the fencing token and the registration's credential", () => {
    const proof = { fencingToken: FENCING_TOKEN, credential: 'credential-1' };
    expect(heartbeatRequest(proof)()).toEqual(acceptHeartbeat(proof));
    expect(heartbeatRequest({ ...proof, credential: 'guessed' })).toThrow(
      new ProtocolError(
        'wrong credential (not the ResourceManager this JobMaster is registered with)',
      ),
    );
    expect(heartbeatRequest({ ...proof, fencingToken: '1000' })).toThrow(
      new ProtocolError(
        `stale fencing token 1000: from a deposed leader (this JobMaster is registered with leadership ${FENCING_TOKEN})`,
      ),
    );
    expect(heartbeatRequest({ ...proof, fencingToken: '1002' })).toThrow(
      /^fencing token 1002 is newer than this JobMaster's registration \(1001\)/,
    );
    expect(heartbeatRequest(proof, 'resource-manager-other')).toThrow(
      new ProtocolError(
        'resource-manager-other is not the ResourceManager this JobMaster is registered with',
      ),
    );
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN })).toThrow(
      /^heartbeat payload\.credential: /,
    );
    expect(heartbeatRequest(null)).toThrow(/^heartbeat payload: /);
  });

  it('registers again when it loses the ResourceManager, with its last credential and every job it keeps', async () => {
    jobs.add('job-a', 2, [slot('tm-1', 0), slot('tm-2', 0)]);
    jobs.add('job-b', 1, [slot('tm-1', 1)]);

    link.onResourceManagerLost(RM_ID, 'timeout');
    expect(heartbeats.unmonitorTarget).toHaveBeenCalledWith(RM_ID);
    expect(link.heartbeatPayload()).toBeNull(); // registered with nobody meanwhile
    await settle();

    expect(warn).toHaveBeenCalledWith(
      `ResourceManager ${RM_ID} lost: heartbeat timeout; registering again, keeping 2 jobs`,
    );
    expect(registrations(sent)).toEqual([
      expect.objectContaining({ credential: undefined, jobs: [] }),
      {
        jobMasterId: 'jm-a',
        host: '127.0.0.1',
        port: 40_000,
        credential: 'credential-1',
        jobs: ['job-a', 'job-b'],
      },
    ]);
    // The jobs and their slots are untouched.
    expect(jobs.get('job-a')?.slots.size).toBe(2);
    expect(link.heartbeatPayload()).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: 'credential-2',
      jobs: ['job-a', 'job-b'],
    });
    // Only the new registration's credential is taken from now on.
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'credential-1' })).toThrow(
      /^wrong credential/,
    );
    expect(
      heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'credential-2' }),
    ).not.toThrow();
  });

  it('ignores the loss of a ResourceManager it is no longer registered with', async () => {
    link.onResourceManagerLost('resource-manager-stale', 'unreachable');
    await settle();
    expect(registrations(sent)).toHaveLength(1);
    expect(heartbeats.unmonitorTarget).not.toHaveBeenCalled();
  });

  it("sends requests with its id and its registration's proof, and checks the answers", async () => {
    await expect(
      link.request(
        JobMasterToResourceManagerPatterns.releaseSlots,
        { jobId: 'job-a' },
        jobSlotReleaseAnswerSchema,
        'slot release answer',
      ),
    ).resolves.toEqual({ released: 1 });
    expect(sent.at(-1)).toEqual({
      pattern: JobMasterToResourceManagerPatterns.releaseSlots,
      data: {
        jobMasterId: 'jm-a',
        fencingToken: FENCING_TOKEN,
        credential: 'credential-1',
        jobId: 'job-a',
      },
      port: 6_123,
    });
  });

  it('says goodbye on SIGTERM with its proof, and only on a signal', async () => {
    await link.beforeApplicationShutdown();
    expect(sent.map(({ pattern }) => pattern)).not.toContain(
      JobMasterToResourceManagerPatterns.unregister,
    );

    await link.beforeApplicationShutdown('SIGTERM');
    expect(sent.at(-1)).toMatchObject({
      pattern: JobMasterToResourceManagerPatterns.unregister,
      data: { jobMasterId: 'jm-a', fencingToken: FENCING_TOKEN, credential: 'credential-1' },
    });
    expect(log).toHaveBeenCalledWith(
      `Said goodbye to ResourceManager ${RM_ID} (SIGTERM); it releases the slots of 0 jobs`,
    );
  });
});

describe('ResourceManagerLink without a registration', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** Registrations are refused (as the ResourceManager does with an error reply) or not answered. */
  let reachable: boolean;
  let warn: jest.SpiedFunction<Logger['warn']>;
  let sent: Sent[];

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    reachable = false;
    const registered = answeringRegistrations();
    sent = fakeResourceManagers((message) =>
      reachable
        ? registered(message)
        : throwError(() => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    );
  });

  /** The delays of the retries announced so far, in ms. */
  const retryDelays = () =>
    warn.mock.calls.flatMap(([message]) => {
      const delay = /failed \((?:.+)\); retrying in (\d+) ms$/.exec(String(message));
      return delay ? [Number(delay[1])] : [];
    });

  it('backs off from 100 ms, doubling up to the heartbeat interval, until the ResourceManager answers', async () => {
    jest.useFakeTimers();
    const config = readJobMasterConfig({ JM_ID: 'jm-a', HEARTBEAT_INTERVAL_MS: '500' });
    const { link, heartbeats, scheduler } = newLink(config, new JobTable());
    try {
      link.start(40_000);
      await jest.advanceTimersByTimeAsync(0);
      expect(retryDelays()).toEqual([100]);
      expect(warn).toHaveBeenCalledWith(
        'Registration with the ResourceManager at 127.0.0.1:6123 failed (ECONNREFUSED); retrying in 100 ms',
      );
      expect(scheduler.getTimeouts()).toEqual([REGISTRATION_RETRY]);
      // Nothing to ask the ResourceManager meanwhile.
      await expect(
        link.request('rm.request-slots', {}, jobSlotReleaseAnswerSchema, 'x'),
      ).rejects.toThrow(NotRegisteredError);

      await jest.advanceTimersByTimeAsync(99);
      expect(registrations(sent)).toHaveLength(1); // not before its delay
      await jest.advanceTimersByTimeAsync(1 + 200 + 400 + 500 + 500);
      expect(registrations(sent)).toHaveLength(6);
      expect(retryDelays()).toEqual([100, 200, 400, 500, 500, 500]);

      reachable = true;
      await jest.advanceTimersByTimeAsync(500);
      expect(registrations(sent)).toHaveLength(7);
      expect(heartbeats.monitorTarget).toHaveBeenCalledWith(RM_ID);
      expect(scheduler.getTimeouts()).toEqual([]);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(registrations(sent)).toHaveLength(7); // registered: no more retries

      // Lost later, it starts again from 100 ms.
      reachable = false;
      link.onResourceManagerLost(RM_ID, 'timeout');
      await jest.advanceTimersByTimeAsync(100 + 200);
      expect(retryDelays()).toEqual([100, 200, 400, 500, 500, 500, 100, 200, 400]);
    } finally {
      link.onApplicationShutdown();
    }
  });

  it('drops a job another JobMaster runs now when a registration is refused for it, and registers without it', async () => {
    jest.useFakeTimers();
    let refusals = 1;
    sent = fakeResourceManagers((message) => {
      if (refusals > 0) {
        refusals -= 1;
        return throwError(() => ({
          status: 'error',
          message: 'job job-a is run by JobMaster jm-b, registered from 127.0.0.1:40200',
        }));
      }
      return answeringRegistrations()(message);
    });
    const config = readJobMasterConfig({ JM_ID: 'jm-a', HEARTBEAT_INTERVAL_MS: '500' });
    const jobs = new JobTable();
    jobs.add('job-a', 1, [slot('tm-1', 0)]);
    const { link } = newLink(config, jobs);
    try {
      link.start(40_000);
      await jest.advanceTimersByTimeAsync(0);
      expect(warn).toHaveBeenCalledWith(
        'Registration with the ResourceManager at 127.0.0.1:6123 failed (job job-a is run by JobMaster jm-b, registered from 127.0.0.1:40200); retrying in 100 ms',
      );
      expect(warn).toHaveBeenCalledWith(
        'Dropped job job-a: job job-a is run by JobMaster jm-b, registered from 127.0.0.1:40200',
      );
      await jest.advanceTimersByTimeAsync(300);
      // Listed once more it would be refused forever: the retry goes without it.
      expect(registrations(sent).map((request) => request.jobs)).toEqual([['job-a'], []]);
      expect(jobs.get('job-a')).toBeUndefined();
      expect(link.registration).toMatchObject({ credential: 'credential-1' });
    } finally {
      link.onApplicationShutdown();
    }
  });

  it('leaves no retry behind when the application shuts down', async () => {
    const app = await NestFactory.createApplicationContext(
      JobMasterModule.forConfig(readJobMasterConfig({ JM_ID: 'jm-a' })),
      { logger: false },
    );
    const scheduler = app.get(SchedulerRegistry);
    app.get(ResourceManagerLink).start(40_000);
    await settle();
    expect(scheduler.getTimeouts()).toEqual([REGISTRATION_RETRY]);

    await app.close();

    expect(scheduler.getTimeouts()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the first retry's 100 ms
    expect(registrations(sent)).toHaveLength(1);
  });
});

/** The leader etcd names: the ResourceManager at 127.0.0.1:`port`, leading with `fencingToken`. */
const leaderAt = (port: number, fencingToken: string): ResourceManagerLocation => ({
  host: '127.0.0.1',
  port,
  fencingToken,
  resourceManagerId: `rm-${port}`,
});

describe('ResourceManagerLink following the leader etcd names (HA)', () => {
  let answers: Map<number, RegistrationResponse>;
  let sent: Sent[];
  let location$: BehaviorSubject<ResourceManagerLocation | null>;
  let jobs: JobTable;
  let link: ResourceManagerLink;
  let heartbeats: { monitorTarget: jest.Mock; unmonitorTarget: jest.Mock };
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    answers = new Map([
      [6_123, { resourceManagerId: 'rm-6123', fencingToken: '1001', credential: 'credential-1' }],
      [6_124, { resourceManagerId: 'rm-6124', fencingToken: '1002', credential: 'credential-2' }],
    ]);
    sent = fakeResourceManagers(({ port }) => of(answers.get(port)) as never);
    jobs = new JobTable();
    location$ = new BehaviorSubject<ResourceManagerLocation | null>(leaderAt(6_123, '1001'));
    ({ link, heartbeats } = newLink(readJobMasterConfig({ JM_ID: 'jm-a', HA_MODE: 'etcd' }), jobs, {
      location$,
    } as unknown as ResourceManagerLocator));
    link.start(40_000);
    await settle();
  });

  afterEach(() => {
    link.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('registers with a new leader at once, listing its jobs there', async () => {
    jobs.add('job-a', 1, [slot('tm-1', 0)]);
    location$.next(leaderAt(6_124, '1002'));
    await settle();

    expect(sent.map(({ port }) => port)).toEqual([6_123, 6_124]);
    expect(registrations(sent)[1].jobs).toEqual(['job-a']);
    expect(heartbeats.unmonitorTarget).toHaveBeenCalledWith('rm-6123');
    expect(heartbeats.monitorTarget).toHaveBeenLastCalledWith('rm-6124');
    expect(warn).toHaveBeenCalledWith(
      'Leaving ResourceManager rm-6123 for the new leader; keeping 1 job',
    );
    expect(link.heartbeatPayload()).toEqual({
      fencingToken: '1002',
      credential: 'credential-2',
      jobs: ['job-a'],
    });
  });

  it('does not register again when etcd names the leader it is registered with, and keeps it while none is known', async () => {
    location$.next({ ...leaderAt(6_123, '1001') });
    location$.next(null);
    await settle();
    expect(sent).toHaveLength(1);
    expect(heartbeats.unmonitorTarget).not.toHaveBeenCalled();
    expect(link.registration).toMatchObject({ resourceManagerId: 'rm-6123' });
  });

  it('refuses a registration answer whose token is older than the leader etcd names, and retries', async () => {
    answers.set(6_124, { resourceManagerId: 'rm-6123', fencingToken: '1001', credential: 'c-x' });
    location$.next(leaderAt(6_124, '1002'));
    await settle();
    expect(link.registration).toBeNull();
    expect(warn).toHaveBeenCalledWith(
      "Registration with the ResourceManager at 127.0.0.1:6124 failed (its fencing token 1001 is older than the leader's (1002)); retrying in 100 ms",
    );
  });
});

describe('errorReplyOf', () => {
  it("tells the ResourceManager's error replies from failures to reach it", () => {
    expect(errorReplyOf({ status: 'error', message: 'not the leader' })).toBe('not the leader');
    expect(
      errorReplyOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    ).toBeUndefined();
    expect(errorReplyOf(new Error('Timeout has occurred'))).toBeUndefined();
    expect(errorReplyOf(undefined)).toBeUndefined();
  });
});

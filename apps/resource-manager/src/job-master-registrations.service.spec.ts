import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { TaskManagerPatterns, type JobMasterRegistrationRequest } from '#cluster';
import {
  answerTaskManagerCommands,
  FakeLeadership,
  FENCING_TOKEN,
  jmA,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
  type TaskManagerCommand,
} from '../../../test/fixtures/resource-manager-services.js';
import type { JobMasterRegistrations } from './job-master-registrations.service.js';
import { RegistrationRefused } from './registration-fence.js';

/** What `register` throws, or undefined. */
function refusalOf(
  registrations: JobMasterRegistrations,
  request: JobMasterRegistrationRequest,
): unknown {
  try {
    registrations.register(request);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('JobMasterRegistrations', () => {
  let services: ResourceManagerServices;
  let registrations: JobMasterRegistrations;
  let warn: jest.SpiedFunction<Logger['warn']>;
  let log: jest.SpiedFunction<Logger['log']>;
  let commands: TaskManagerCommand[];

  const goodbye = (jobMasterId: string, credential: string) =>
    registrations.unregister({ jobMasterId, fencingToken: FENCING_TOKEN, credential });
  /** Resolves once the slot operations queued so far are done (they run one at a time). */
  const settle = () => services.slotPool.release('no-such-job').catch(() => 0);
  const jobsOf = (jobMasterId: string) => [...(registrations.get(jobMasterId)?.jobs.keys() ?? [])];
  const releases = () =>
    commands
      .filter(({ pattern }) => pattern === TaskManagerPatterns.releaseSlots)
      .map(({ taskManagerId, data }) => [taskManagerId, data.jobId]);

  beforeEach(() => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    services = resourceManagerServices();
    registrations = services.jobMasterRegistrations;
    ({ commands } = answerTaskManagerCommands(services));
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  /** tm-a and tm-b (2 slots each), with `job-1` on tm-a:0 and tm-b:0 and `job-2` on tm-a:1. */
  async function withSlots(): Promise<void> {
    services.registrations.register(tmA);
    services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
    const owner = { jobMasterId: 'jm-a', heartbeatSecret: 'secret-1' };
    await services.slotPool.allocateFor(owner, 'job-1', 1);
    await services.slotPool.allocateFor(owner, 'job-2', 1);
    await services.slotPool.allocateFor(owner, 'job-1', 1);
    // The HTTP API's job, which no JobMaster runs.
    await services.slotPool.allocate('http-job', 1);
    commands.length = 0;
  }

  it('registers a JobMaster with its jobs, monitors it, and answers with its leadership and a credential', () => {
    const answer = registrations.register({ ...jmA, jobs: ['job-1', 'job-2'] });

    expect(answer).toEqual({
      resourceManagerId: 'resource-manager-test',
      fencingToken: FENCING_TOKEN,
      credential: expect.any(String),
    });
    expect(jobsOf('jm-a')).toEqual(['job-1', 'job-2']);
    expect(registrations.ownerOf('job-1')?.id).toBe('jm-a');
    expect(registrations.ownerOf('job-3')).toBeUndefined();
    expect(services.jobMasterHeartbeatManager.monitorTarget).toHaveBeenCalledWith('jm-a', {});
    // The TaskManagers' manager is not involved.
    expect(services.heartbeatManager.monitorTarget).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledWith(
      'JobMaster jm-a registered from 127.0.0.1:41001 with 2 jobs (job-1, job-2)',
    );
    expect(registrations.proofFor(registrations.get('jm-a')!)).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: answer.credential,
    });
  });

  it('refuses to replace a live registration without its credential, and takes one with it', () => {
    const first = registrations.register({ ...jmA, jobs: ['job-1'] });

    for (const credential of [undefined, 'guessed']) {
      const refusal = refusalOf(registrations, { ...jmA, port: 41_666, credential, jobs: [] });
      expect(refusal).toBeInstanceOf(RegistrationRefused);
      expect((refusal as Error).message).toMatch(
        /^jm-a is registered from 127\.0\.0\.1:41001 and the request lacks that registration's credential/,
      );
    }
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^Refused the registration of JobMaster jm-a from 127\.0\.0\.1:41666: jm-a is registered/,
      ),
    );
    expect(registrations.get('jm-a')).toMatchObject({ port: 41_001 });

    // It lost us, we did not lose it: with its credential it replaces its registration, keeping
    // the jobs its request lists and their slots.
    const second = registrations.register({
      ...jmA,
      port: 41_002,
      credential: first.credential,
      jobs: ['job-1'],
    });
    expect(second.credential).not.toBe(first.credential);
    expect(registrations.get('jm-a')).toMatchObject({ port: 41_002 });
    expect(jobsOf('jm-a')).toEqual(['job-1']);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^JobMaster jm-a lost: registered again, no heartbeat in the \d+ ms since it registered; keeping 0 slots of its 1 job \(job-1\)$/,
      ),
    );
    // A retry with the credential it was replaced with (our answer was lost) is taken too.
    registrations.register({ ...jmA, port: 41_003, credential: first.credential, jobs: [] });
    expect(registrations.get('jm-a')).toMatchObject({ port: 41_003 });
  });

  it('refuses a registration listing a job of another live JobMaster', () => {
    registrations.register({ ...jmA, jobs: ['job-1'] });
    const refusal = refusalOf(registrations, {
      ...jmA,
      jobMasterId: 'jm-b',
      port: 41_002,
      jobs: ['job-2', 'job-1'],
    });
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe(
      'job job-1 is run by JobMaster jm-a, registered from 127.0.0.1:41001',
    );
    expect(registrations.get('jm-b')).toBeUndefined();
    expect(services.jobMasterHeartbeatManager.monitorTarget).toHaveBeenCalledTimes(1);
  });

  it('refuses every registration on a standby, naming the leader', () => {
    services.leadership.stepDown();
    const refusal = refusalOf(registrations, jmA);
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe(
      `this ResourceManager does not lead (the leader is ${FakeLeadership.LEADER_URL})`,
    );
    expect(registrations.all()).toEqual([]);
    expect(services.jobMasterHeartbeatManager.monitorTarget).not.toHaveBeenCalled();
  });

  it("refuses messages without this leadership's fencing token or the registration's credential", () => {
    const { credential } = registrations.register(jmA);
    expect(registrations.refusal('jm-a', FENCING_TOKEN, credential)).toBeUndefined();
    expect(registrations.refusal('jm-a', FENCING_TOKEN, 'guessed')).toBe(
      'wrong credential for jm-a (not the JobMaster that registered)',
    );
    expect(registrations.refusal('jm-a', '1000', credential)).toBe(
      `fencing token 1000 is not this leadership's (${FENCING_TOKEN})`,
    );
    expect(registrations.refusal('jm-ghost', FENCING_TOKEN, credential)).toBe(
      'jm-ghost is not registered',
    );
    // A goodbye without them is ignored.
    expect(goodbye('jm-a', 'guessed')).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      'Ignored a goodbye from JobMaster jm-a: wrong credential for jm-a (not the JobMaster that registered)',
    );
    expect(registrations.get('jm-a')).toBeDefined();
  });

  it.each([
    ['timeout', 'heartbeat timeout'],
    ['unreachable', 'unreachable'],
  ] as const)(
    'drops a JobMaster lost by %s at once, then releases every slot of its jobs on every TaskManager',
    async (reason, logged) => {
      await withSlots();
      registrations.register({ ...jmA, jobs: ['job-1', 'job-2'] });
      services.jobMasterHeartbeatManager.getLastHeartbeatFrom.mockReturnValue(Date.now() - 1_200);

      registrations.release('jm-a', reason);

      // Gone at once: from the list, and as the owner of its jobs.
      expect(registrations.all()).toEqual([]);
      expect(services.views.jobMasters()).toEqual([]);
      expect(registrations.ownerOf('job-1')).toBeUndefined();
      expect(services.jobMasterHeartbeatManager.unmonitorTarget).toHaveBeenCalledWith('jm-a');
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(
            `^JobMaster jm-a lost: ${logged}, 1\\d{3} ms after its last heartbeat; releasing 3 slots of its 2 jobs \\(job-1, job-2\\)$`,
          ),
        ),
      );
      await settle();
      expect(releases()).toEqual([
        ['tm-a', 'job-1'],
        ['tm-b', 'job-1'],
        ['tm-a', 'job-2'],
      ]);
      expect(services.slotPool.heldSlots('job-1')).toBe(0);
      expect(services.slotPool.heldSlots('job-2')).toBe(0);
      // Another job's slots stay.
      expect(services.slotPool.heldSlots('http-job')).toBe(1);
    },
  );

  it('releases the slots of a JobMaster that says goodbye', async () => {
    await withSlots();
    const { credential } = registrations.register({ ...jmA, jobs: ['job-2'] });

    expect(goodbye('jm-a', credential)).toBe(true);

    expect(registrations.all()).toEqual([]);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^JobMaster jm-a lost: left \(goodbye\), .*releasing 1 slot of its 1 job \(job-2\)$/,
      ),
    );
    await settle();
    expect(releases()).toEqual([['tm-a', 'job-2']]);
    expect(services.slotPool.heldSlots('job-1')).toBe(2);
  });

  it('logs a release that a TaskManager refused (the TaskManagers free them when they lose the JobMaster too)', async () => {
    await withSlots();
    const failing = answerTaskManagerCommands(services);
    failing.refusing.add('tm-b');
    registrations.register({ ...jmA, jobs: ['job-1'] });

    registrations.release('jm-a', 'timeout');
    await settle();

    expect(warn).toHaveBeenCalledWith(
      'Could not release every slot of job job-1 of lost JobMaster jm-a: Release incomplete: tm-b refuses',
    );
  });

  it('lets every registration go when it steps down, with its jobs keeping their slots', async () => {
    await withSlots();
    registrations.register({ ...jmA, jobs: ['job-1', 'job-2'] });
    registrations.register({ ...jmA, jobMasterId: 'jm-b', port: 41_002, jobs: [] });

    services.leadership.stepDown();
    await settle();

    expect(registrations.all()).toEqual([]);
    expect(services.jobMasterHeartbeatManager.unmonitorTarget.mock.calls).toEqual([
      ['jm-a'],
      ['jm-b'],
    ]);
    // No release is even tried: only a leader orders anything.
    expect(commands).toEqual([]);
    expect(warn).not.toHaveBeenCalledWith(expect.stringMatching(/^Could not release/));
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^JobMaster jm-a lost: this ResourceManager stepped down as leader, .*; keeping \d+ slots of its 2 jobs \(job-1, job-2\)$/,
      ),
    );
  });

  it('takes the jobs a heartbeat lists: drops a listed job no longer listed, keeps one only granted, takes none of another JobMaster', () => {
    registrations.register({ ...jmA, jobs: ['job-1', 'job-2'] });
    registrations.register({ ...jmA, jobMasterId: 'jm-b', port: 41_002, jobs: ['job-b'] });
    // Slots were granted for job-3; the JobMaster's heartbeat may predate that.
    registrations.claim('jm-a', 'job-3');
    // A job of another JobMaster is not claimed.
    registrations.claim('jm-a', 'job-b');

    registrations.updateJobs('jm-a', ['job-2', 'job-4', 'job-b']);

    expect(jobsOf('jm-a')).toEqual(['job-2', 'job-3', 'job-4']);
    expect(registrations.ownerOf('job-b')?.id).toBe('jm-b');
    expect(registrations.get('jm-a')?.jobs.get('job-3')).toBe('granted');
    // Once listed, job-3 goes when it is no longer listed.
    registrations.updateJobs('jm-a', ['job-3']);
    registrations.updateJobs('jm-a', []);
    expect(jobsOf('jm-a')).toEqual([]);
    // The heartbeat of a JobMaster released meanwhile changes nothing.
    expect(() => registrations.updateJobs('jm-ghost', ['job-9'])).not.toThrow();
    expect(registrations.ownerOf('job-9')).toBeUndefined();
  });
});

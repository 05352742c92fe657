import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ProtocolError, TaskManagerPatterns } from '#cluster';
import { acceptHeartbeat } from 'nestjs-heartbeat';
import {
  answerTaskManagerCommands,
  FENCING_TOKEN,
  jmA,
  resourceManagerServices,
  tmA,
  type ResourceManagerServices,
  type TaskManagerCommand,
} from '../../../test/fixtures/resource-manager-services.js';
import type { JobMasterHeartbeats } from './job-master-heartbeats.service.js';

/** A heartbeat from jm-a as the ingress hands it to the vetting handler. */
const incoming = (payload: unknown) => ({
  manager: 'jobMasters',
  kind: 'receive' as const,
  origin: 'jm-a',
  payload,
});

describe('JobMasterHeartbeats', () => {
  let services: ResourceManagerServices;
  let heartbeats: JobMasterHeartbeats;
  let warn: jest.SpiedFunction<Logger['warn']>;
  let commands: TaskManagerCommand[];

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    services = resourceManagerServices();
    heartbeats = services.jobMasterHeartbeats;
    ({ commands } = answerTaskManagerCommands(services));
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it("proves itself to a JobMaster with that registration's credential in every heartbeat request", () => {
    const a = services.jobMasterRegistrations.register(jmA);
    expect(heartbeats.heartbeatPayload('jm-a')).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: a.credential,
    });
    expect(heartbeats.heartbeatPayload('jm-ghost')).toBeNull();
    services.leadership.stepDown();
    expect(heartbeats.heartbeatPayload('jm-a')).toBeNull();
  });

  it('parses a heartbeat once, when vetting it, and takes the jobs it lists', () => {
    const { credential } = services.jobMasterRegistrations.register({ ...jmA, jobs: ['job-1'] });
    const heartbeat = { fencingToken: FENCING_TOKEN, credential, jobs: ['job-2'] };

    const verdict = heartbeats.vetHeartbeat(incoming(heartbeat));
    expect(verdict).toEqual(acceptHeartbeat(heartbeat));
    heartbeats.onJobs('jm-a', verdict.payload);
    expect(services.views.jobMasters()).toMatchObject([{ id: 'jm-a', jobs: ['job-2'] }]);

    expect(() => heartbeats.vetHeartbeat(incoming({ ...heartbeat, extra: 1 }))).toThrow(
      /^heartbeat payload: /,
    );
    expect(() => heartbeats.vetHeartbeat(incoming({ ...heartbeat, jobs: ['a b'] }))).toThrow(
      /^heartbeat payload\.jobs\[0\]: /,
    );
    expect(() =>
      heartbeats.vetHeartbeat(incoming({ ...heartbeat, credential: 'guessed' })),
    ).toThrow(new ProtocolError('wrong credential for jm-a (not the JobMaster that registered)'));
    expect(() => heartbeats.vetHeartbeat(incoming({ ...heartbeat, fencingToken: '1000' }))).toThrow(
      new ProtocolError(`fencing token 1000 is not this leadership's (${FENCING_TOKEN})`),
    );
  });

  it('rejects a heartbeat in the name of an unregistered JobMaster, or a TaskManager', () => {
    const tm = services.registrations.register(tmA);
    expect(() =>
      heartbeats.vetHeartbeat({
        ...incoming({ fencingToken: FENCING_TOKEN, credential: tm.credential, jobs: [] }),
        origin: 'tm-a',
      }),
    ).toThrow(new ProtocolError('tm-a is not registered'));
  });

  it.each([
    ['timeout', 'heartbeat timeout'],
    ['unreachable', 'unreachable'],
  ] as const)(
    "releases a JobMaster lost by %s, and its jobs' slots on every TaskManager",
    async (reason, logged) => {
      services.registrations.register(tmA);
      services.registrations.register({ ...tmA, taskManagerId: 'tm-b', port: 40_002 });
      const { credential } = services.jobMasterRegistrations.register(jmA);
      await services.jobMasterSlots.requestSlots({
        jobMasterId: 'jm-a',
        fencingToken: FENCING_TOKEN,
        credential,
        jobId: 'job-1',
        count: 4,
        heartbeatSecret: 'secret-a',
      });
      commands.length = 0;

      heartbeats.onJobMasterLost('jm-a', reason);

      expect(services.views.jobMasters()).toEqual([]);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(
            `^JobMaster jm-a lost: ${logged}, .*; releasing 4 slots of its 1 job \\(job-1\\)$`,
          ),
        ),
      );
      await services.slotPool.release('no-such-job');
      expect(
        commands.map(({ taskManagerId, pattern, data }) => [taskManagerId, pattern, data.jobId]),
      ).toEqual([
        ['tm-a', TaskManagerPatterns.releaseSlots, 'job-1'],
        ['tm-b', TaskManagerPatterns.releaseSlots, 'job-1'],
      ]);
      expect(services.views.overview()).toMatchObject({ slotsTotal: 4, slotsAvailable: 4 });
    },
  );
});

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { of } from 'rxjs';
import {
  largestHeartbeatFrame,
  MAX_SLOTS,
  readFrameLimits,
  TaskManagerPatterns,
  type RegistrationRequest,
  type SlotReport,
} from '#cluster';
import {
  acceptHeartbeat,
  type HeartbeatManager,
  type HeartbeatTargetFactory,
} from 'nestjs-heartbeat';
import type { ResourceManagerConfig } from './resource-manager.config.js';
import { RegistrationRefused, TaskManagerRegistry } from './task-manager-registry.service.js';

const FENCING_TOKEN = 'fencing-token-1';
const tmA: RegistrationRequest = {
  taskManagerId: 'tm-a',
  host: '127.0.0.1',
  port: 40_001,
  slots: 2,
};

function newRegistry(env: NodeJS.ProcessEnv = {}) {
  const heartbeats = {
    monitorTarget: jest.fn(),
    unmonitorTarget: jest.fn(),
    getLastHeartbeatFrom: () => 0,
  };
  const config = {
    frameLimits: readFrameLimits(env),
    tls: null,
  } as unknown as ResourceManagerConfig;
  return new TaskManagerRegistry(
    { resourceManagerId: 'resource-manager-test', fencingToken: FENCING_TOKEN },
    config,
    heartbeats as unknown as HeartbeatManager,
    { createTcpTarget: () => ({}) } as unknown as HeartbeatTargetFactory,
  );
}

/** What `register` throws, or undefined. */
function refusalOf(registry: TaskManagerRegistry, request: RegistrationRequest): unknown {
  try {
    registry.register(request);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A heartbeat from tm-a as the ingress hands it to the vetting handler. */
const incoming = (payload: unknown) => ({
  manager: 'taskManagers',
  kind: 'receive' as const,
  origin: 'tm-a',
  payload,
});

describe('TaskManagerRegistry', () => {
  let registry: TaskManagerRegistry;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    registry = newRegistry();
  });

  afterEach(() => {
    registry.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it("proves itself to a TaskManager with that registration's credential in every heartbeat request", () => {
    const a = registry.register(tmA);
    const b = registry.register({ ...tmA, taskManagerId: 'tm-b' });
    expect(a.credential).not.toBe(b.credential);
    expect(registry.heartbeatPayload('tm-a')).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: a.credential,
    });
    expect(registry.heartbeatPayload('tm-b')).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: b.credential,
    });
    expect(registry.heartbeatPayload('tm-ghost')).toBeNull();
  });

  it("sends the registration's credential with allocate and release commands", async () => {
    const { credential } = registry.register(tmA);
    let version = 0;
    const report = (jobId: string | null): SlotReport => ({
      version: ++version,
      slots: [
        jobId
          ? { index: 0, free: false, allocationId: 'allocation-1', jobId }
          : { index: 0, free: true, allocationId: null, jobId: null },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
    const send = jest
      .spyOn(ClientTCP.prototype, 'send')
      .mockImplementation(
        (pattern) =>
          of(report(pattern === TaskManagerPatterns.allocateSlots ? 'job-1' : null)) as never,
      );

    await registry.allocate('job-1', 1);
    expect(await registry.release('job-1')).toBe(1);

    expect(send.mock.calls.map(([pattern, data]) => [pattern, data])).toEqual([
      [
        TaskManagerPatterns.allocateSlots,
        expect.objectContaining({ fencingToken: FENCING_TOKEN, credential }),
      ],
      [
        TaskManagerPatterns.releaseSlots,
        { fencingToken: FENCING_TOKEN, credential, jobId: 'job-1' },
      ],
    ]);
  });

  it('refuses to replace a live registration without its credential, and keeps the real one', () => {
    const { credential } = registry.register(tmA);
    const impostor = { ...tmA, port: 40_666 };

    for (const request of [impostor, { ...impostor, credential: 'guessed' }]) {
      const refusal = refusalOf(registry, request);
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
    expect(registry.find('tm-a')?.address).toBe('127.0.0.1:40001');
    expect(registry.heartbeatPayload('tm-a')?.credential).toBe(credential);
  });

  it('lets the TaskManager that holds the credential register again (it lost us, we did not lose it)', () => {
    const first = registry.register(tmA);
    const second = registry.register({ ...tmA, port: 40_002, credential: first.credential });
    expect(second.credential).not.toBe(first.credential);
    expect(registry.find('tm-a')?.address).toBe('127.0.0.1:40002');
    // The credential it was replaced with spends the one before it.
    const third = registry.register({ ...tmA, port: 40_002, credential: second.credential });
    expect(refusalOf(registry, { ...tmA, credential: first.credential })).toBeInstanceOf(
      RegistrationRefused,
    );
    expect(registry.find('tm-a')?.address).toBe('127.0.0.1:40002');
    expect(third.credential).not.toBe(second.credential);
  });

  it('takes a retry with the credential it was replaced with, when our answer to it was lost', () => {
    const first = registry.register(tmA);
    // The TaskManager re-registers with its credential; our answer (a new credential) is lost.
    registry.register({ ...tmA, credential: first.credential });

    const retried = registry.register({ ...tmA, port: 40_004, credential: first.credential });

    expect(registry.find('tm-a')?.address).toBe('127.0.0.1:40004');
    expect(
      registry.unregister({
        taskManagerId: 'tm-a',
        fencingToken: FENCING_TOKEN,
        credential: retried.credential,
      }),
    ).toBe(true);
  });

  it('takes a registration without credential once the old one is gone (a restarted TaskManager)', () => {
    const first = registry.register(tmA);
    expect(
      registry.unregister({
        taskManagerId: 'tm-a',
        fencingToken: FENCING_TOKEN,
        credential: first.credential,
      }),
    ).toBe(true);
    expect(registry.register({ ...tmA, port: 40_003 }).credential).toEqual(expect.any(String));
    expect(registry.find('tm-a')?.address).toBe('127.0.0.1:40003');
  });

  it('refuses a TaskManager whose heartbeats would not fit its own frame limit', () => {
    const needed = largestHeartbeatFrame(MAX_SLOTS);
    const refusal = refusalOf(registry, { ...tmA, slots: MAX_SLOTS });
    expect(refusal).toBeInstanceOf(RegistrationRefused);
    expect((refusal as Error).message).toBe(
      `its heartbeats with ${MAX_SLOTS} slots need frames of up to ${needed} characters, ` +
        `more than this ResourceManager's TCP_MAX_BUFFER_SIZE 65536`,
    );
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Refused the registration of TaskManager tm-a .*TCP_MAX_BUFFER_SIZE/),
    );
    expect(registry.list()).toEqual([]);

    // With a larger limit, the same registration is taken.
    const roomy = newRegistry({ TCP_MAX_BUFFER_SIZE: String(needed) });
    try {
      expect(() => roomy.register({ ...tmA, slots: MAX_SLOTS })).not.toThrow();
    } finally {
      roomy.onApplicationShutdown();
    }
  });

  it('parses a heartbeat once, when vetting it: the slot report handler gets the parsed form', () => {
    const { credential } = registry.register(tmA);
    const slotReport: SlotReport = {
      version: 3,
      slots: [
        { index: 0, free: false, allocationId: 'allocation-1', jobId: 'job-1' },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    };

    const verdict = registry.vetHeartbeat(
      incoming({ fencingToken: FENCING_TOKEN, credential, slotReport }),
    );
    expect(verdict).toEqual(
      acceptHeartbeat({ fencingToken: FENCING_TOKEN, credential, slotReport }),
    );
    registry.onSlotReport('tm-a', verdict.payload);
    expect(registry.find('tm-a')?.slots).toEqual(slotReport.slots);
    expect(registry.find('tm-a')?.freeSlots).toBe(1);

    expect(() =>
      registry.vetHeartbeat(
        incoming({ fencingToken: FENCING_TOKEN, credential, slotReport, extra: 1 }),
      ),
    ).toThrow(/^heartbeat payload: /);
    expect(() =>
      registry.vetHeartbeat(
        incoming({ fencingToken: FENCING_TOKEN, credential: 'guessed', slotReport }),
      ),
    ).toThrow(/^wrong credential for tm-a/);
  });

  it.each([
    ['timeout', 'heartbeat timeout'],
    ['unreachable', 'unreachable'],
  ] as const)('releases a TaskManager lost by %s, naming the reason', (reason, logged) => {
    registry.register(tmA);
    registry.onTaskManagerLost('tm-a', reason);

    expect(registry.list()).toEqual([]);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(new RegExp(`^TaskManager tm-a lost: ${logged}, `)),
    );
  });
});

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP, RpcException } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BehaviorSubject, of, throwError } from 'rxjs';
import {
  ProtocolError,
  ResourceManagerPatterns,
  type RegistrationRequest,
  type RegistrationResponse,
  ResourceManagerLocator,
  type ResourceManagerLocation,
} from '#cluster';
import { acceptHeartbeat, type HeartbeatManager } from 'nestjs-heartbeat';
import {
  REGISTRATION_RETRY,
  ResourceManagerConnection,
} from './resource-manager-connection.service.js';
import { ResourceManagerGateway } from './resource-manager.gateway.js';
import { SlotTable } from './slot-table.service.js';
import { readTaskManagerConfig } from './task-manager.config.js';
import { TaskManagerModule } from './task-manager.module.js';

const RM_ID = 'resource-manager-test';
const FENCING_TOKEN = '1001';
const allocation = { slotIndex: 0, allocationId: 'allocation-1', jobId: 'job-1' };
const settle = () => new Promise((resolve) => setImmediate(resolve));
/** The warning of a lost ResourceManager: the reason, registering again, and the slots it keeps. */
const lossLogged = (why: string, kept: number) =>
  expect.stringMatching(
    new RegExp(
      `^ResourceManager ${RM_ID} lost: ${why}; (?=.*registering again)(?=.*keeping ${kept} allocated slots)`,
    ),
  );

describe('ResourceManagerConnection and its gateway', () => {
  let connection: ResourceManagerConnection;
  let gateway: ResourceManagerGateway;
  let warn: jest.SpiedFunction<Logger['warn']>;
  /** The registration requests sent, and the credentials handed out in answer. */
  let requests: RegistrationRequest[];
  let issued: string[];
  let slots: SlotTable;
  let heartbeats: { monitorTarget: jest.Mock; unmonitorTarget: jest.Mock };

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    requests = [];
    issued = [];
    jest.spyOn(ClientTCP.prototype, 'send').mockImplementation((pattern, data) => {
      if (pattern !== ResourceManagerPatterns.register) {
        throw new Error(`unexpected ${String(pattern)}`);
      }
      requests.push(data as RegistrationRequest);
      issued.push(`credential-${issued.length + 1}`);
      const answer: RegistrationResponse = {
        resourceManagerId: RM_ID,
        fencingToken: FENCING_TOKEN,
        credential: issued.at(-1) as string,
      };
      return of(answer) as never;
    });
    const config = readTaskManagerConfig({ TM_ID: 'tm-a' });
    slots = new SlotTable(config);
    heartbeats = { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() };
    connection = new ResourceManagerConnection(
      config,
      heartbeats as unknown as HeartbeatManager,
      slots,
      new SchedulerRegistry(),
      new ResourceManagerLocator(config),
    );
    gateway = new ResourceManagerGateway(connection, slots);
    connection.start(40_000);
    await settle();
  });

  afterEach(() => {
    connection.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  const heartbeatRequest = (payload: unknown) => () =>
    connection.vetHeartbeat({
      manager: 'resourceManager',
      kind: 'request',
      origin: RM_ID,
      payload,
    });

  it("accepts heartbeat requests only with the fencing token and its registration's credential", () => {
    expect(issued).toEqual(['credential-1']);
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'credential-1' })()).toEqual(
      acceptHeartbeat({ fencingToken: FENCING_TOKEN, credential: 'credential-1' }),
    );
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'guessed' })).toThrow(
      new ProtocolError(
        'wrong credential (not the ResourceManager this TaskManager is registered with)',
      ),
    );
    expect(heartbeatRequest({ fencingToken: '1000', credential: 'credential-1' })).toThrow(
      /^stale fencing token 1000: from a deposed leader/,
    );
    expect(heartbeatRequest({ fencingToken: '1002', credential: 'credential-1' })).toThrow(
      /^fencing token 1002 is newer than this TaskManager's registration/,
    );
    expect(heartbeatRequest({ fencingToken: 'old', credential: 'credential-1' })).toThrow(
      /^heartbeat payload\.fencingToken: /,
    );
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN })).toThrow(
      /^heartbeat payload\.credential: /,
    );
  });

  it('refuses a message from a deposed leader (an older token) and from a newer leadership it is not registered with', () => {
    // Numerically, not as text: '999' is older than '1001', '10000' newer.
    for (const older of ['1000', '999']) {
      expect(connection.refusal({ fencingToken: older, credential: 'credential-1' })).toBe(
        `stale fencing token ${older}: from a deposed leader (this TaskManager is registered with leadership ${FENCING_TOKEN})`,
      );
    }
    for (const newer of ['1002', '10000']) {
      expect(connection.refusal({ fencingToken: newer, credential: 'credential-1' })).toBe(
        `fencing token ${newer} is newer than this TaskManager's registration (${FENCING_TOKEN}): not the ResourceManager it is registered with`,
      );
    }
    // The token is checked first: a deposed leader is named as one, whatever credential it shows.
    expect(connection.refusal({ fencingToken: '1000', credential: 'guessed' })).toMatch(
      /^stale fencing token 1000: /,
    );
    expect(
      connection.refusal({ fencingToken: FENCING_TOKEN, credential: 'credential-1' }),
    ).toBeUndefined();

    // So a deposed leader's commands are rejected, logged, and its disconnect order ignored.
    expect(() =>
      gateway.allocate({
        fencingToken: '1000',
        credential: 'credential-1',
        allocations: [allocation],
      }),
    ).toThrow(RpcException);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Rejected a command: stale fencing token 1000: from a deposed leader/),
    );
    expect(
      gateway.disconnect({ fencingToken: '1000', credential: 'credential-1', reason: 'go away' }),
    ).toEqual({ accepted: false });
    expect(slots.allocatedCount()).toBe(0);
    expect(requests).toHaveLength(1);
  });

  it('reports its slots in every registration request', () => {
    expect(requests[0]).toEqual({
      taskManagerId: 'tm-a',
      host: '127.0.0.1',
      port: 40_000,
      slots: 2,
      credential: undefined,
      slotReport: {
        version: 0,
        slots: [
          { index: 0, free: true, allocationId: null, jobId: null },
          { index: 1, free: true, allocationId: null, jobId: null },
        ],
      },
    });
  });

  it('keeps its allocated slots when it loses the ResourceManager, and reports them when it registers again', async () => {
    gateway.allocate({
      fencingToken: FENCING_TOKEN,
      credential: 'credential-1',
      allocations: [allocation],
    });
    const allocatedReport = slots.report();

    connection.onResourceManagerLost(RM_ID, 'timeout');
    await settle();

    expect(warn).toHaveBeenCalledWith(lossLogged('heartbeat timeout', 1));
    expect(heartbeats.unmonitorTarget).toHaveBeenCalledWith(RM_ID);
    expect(slots.allocatedCount()).toBe(1);
    expect(requests).toHaveLength(2);
    expect(requests[1].slotReport).toEqual({
      version: 1,
      slots: [
        { index: 0, free: false, allocationId: 'allocation-1', jobId: 'job-1' },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
    expect(requests[1].slotReport).toEqual(allocatedReport);
    // Registered again, its heartbeats carry the same slots under the new credential.
    expect(connection.heartbeatPayload()).toEqual({
      fencingToken: FENCING_TOKEN,
      credential: 'credential-2',
      slotReport: allocatedReport,
    });
  });

  it('rejects commands that know the fencing token but not the credential, with a logged reason', () => {
    const fencingToken = FENCING_TOKEN;
    expect(() =>
      gateway.allocate({ fencingToken, credential: 'guessed', allocations: [allocation] }),
    ).toThrow(RpcException);
    expect(() => gateway.release({ fencingToken, credential: 'guessed', jobId: 'job-1' })).toThrow(
      RpcException,
    );
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Rejected a command: wrong credential/),
    );
    expect(gateway.disconnect({ fencingToken, credential: 'guessed', reason: 'go away' })).toEqual({
      accepted: false,
    });
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Ignored a disconnect order \(go away\): wrong credential/),
    );
    expect(
      gateway.allocate({ fencingToken, credential: 'credential-1', allocations: [allocation] }),
    ).toMatchObject({
      slots: [
        { index: 0, free: false, jobId: 'job-1' },
        { index: 1, free: true },
      ],
    });
    expect(requests).toHaveLength(1); // nobody made it register again
  });

  it('presents its last credential when it registers again after losing the ResourceManager', async () => {
    expect(requests[0].credential).toBeUndefined();
    connection.onResourceManagerLost(RM_ID, 'timeout');
    await settle();
    expect(requests.map((request) => request.credential)).toEqual([undefined, 'credential-1']);
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'credential-1' })).toThrow(
      /^wrong credential/,
    );
    expect(
      heartbeatRequest({ fencingToken: FENCING_TOKEN, credential: 'credential-2' }),
    ).not.toThrow();
  });

  it('ignores the loss of a ResourceManager it is no longer registered with', async () => {
    connection.onResourceManagerLost('resource-manager-stale', 'unreachable');
    await settle();
    expect(requests).toHaveLength(1);

    connection.onResourceManagerLost(RM_ID, 'unreachable');
    await settle();
    expect(requests).toHaveLength(2);
    expect(warn).toHaveBeenCalledWith(lossLogged('unreachable', 0));
  });

  it('registers afresh without a credential, and with its slots released, when the ResourceManager has dropped it', async () => {
    gateway.allocate({
      fencingToken: FENCING_TOKEN,
      credential: 'credential-1',
      allocations: [allocation],
    });
    expect(slots.allocatedCount()).toBe(1);
    expect(
      gateway.disconnect({
        fencingToken: FENCING_TOKEN,
        credential: 'credential-1',
        reason: 'timeout',
      }),
    ).toEqual({ accepted: true });
    await settle();
    expect(requests.map((request) => request.credential)).toEqual([undefined, undefined]);
    // The ResourceManager dropped the allocations with the registration: they are void.
    expect(slots.allocatedCount()).toBe(0);
    expect(requests[1].slotReport).toEqual({
      version: 2,
      slots: [
        { index: 0, free: true, allocationId: null, jobId: null },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
  });
});

describe('ResourceManagerConnection retrying its registration', () => {
  /** Whether the ResourceManager answers registrations; until it does, they fail. */
  let reachable: boolean;
  let registrations: number;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    reachable = false;
    registrations = 0;
    jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(() => {
      registrations += 1;
      if (!reachable) {
        return throwError(() => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
      }
      const answer: RegistrationResponse = {
        resourceManagerId: RM_ID,
        fencingToken: FENCING_TOKEN,
        credential: 'credential-1',
      };
      return of(answer) as never;
    });
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** The delays of the retries announced so far, in ms. */
  const retryDelays = () =>
    warn.mock.calls.flatMap(([message]) => {
      const delay = /failed \(ECONNREFUSED\); retrying in (\d+) ms$/.exec(String(message));
      return delay ? [Number(delay[1])] : [];
    });

  it('backs off from 100 ms, doubling up to the heartbeat interval, until the ResourceManager answers', async () => {
    jest.useFakeTimers();
    const config = readTaskManagerConfig({ TM_ID: 'tm-a', HEARTBEAT_INTERVAL_MS: '500' });
    const scheduler = new SchedulerRegistry();
    const heartbeats = { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() };
    const connection = new ResourceManagerConnection(
      config,
      heartbeats as unknown as HeartbeatManager,
      new SlotTable(config),
      scheduler,
      new ResourceManagerLocator(config),
    );
    try {
      connection.start(40_000);
      await jest.advanceTimersByTimeAsync(0);
      expect(retryDelays()).toEqual([100]);
      expect(scheduler.getTimeouts()).toEqual([REGISTRATION_RETRY]);

      await jest.advanceTimersByTimeAsync(99);
      expect(registrations).toBe(1); // not before its delay
      await jest.advanceTimersByTimeAsync(1 + 200 + 400 + 500 + 500);
      expect(registrations).toBe(6);
      expect(retryDelays()).toEqual([100, 200, 400, 500, 500, 500]);

      reachable = true;
      await jest.advanceTimersByTimeAsync(500);
      expect(registrations).toBe(7);
      expect(heartbeats.monitorTarget).toHaveBeenCalledWith(RM_ID);
      expect(scheduler.getTimeouts()).toEqual([]);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(registrations).toBe(7); // registered: no more retries
    } finally {
      connection.onApplicationShutdown();
    }
  });

  it('starts again from 100 ms when it registers again after losing the ResourceManager', async () => {
    jest.useFakeTimers();
    const config = readTaskManagerConfig({ TM_ID: 'tm-a', HEARTBEAT_INTERVAL_MS: '500' });
    const connection = new ResourceManagerConnection(
      config,
      { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() } as unknown as HeartbeatManager,
      new SlotTable(config),
      new SchedulerRegistry(),
      new ResourceManagerLocator(config),
    );
    try {
      connection.start(40_000);
      await jest.advanceTimersByTimeAsync(100 + 200 + 399);
      expect(retryDelays()).toEqual([100, 200, 400]);
      reachable = true;
      await jest.advanceTimersByTimeAsync(1);
      expect(registrations).toBe(4);

      reachable = false;
      connection.onResourceManagerLost(RM_ID, 'timeout');
      await jest.advanceTimersByTimeAsync(100 + 200);
      expect(retryDelays()).toEqual([100, 200, 400, 100, 200, 400]);
    } finally {
      connection.onApplicationShutdown();
    }
  });

  it('leaves no retry behind when the application shuts down', async () => {
    const app = await NestFactory.createApplicationContext(
      TaskManagerModule.forConfig(readTaskManagerConfig({ TM_ID: 'tm-a' })),
      { logger: false },
    );
    const scheduler = app.get(SchedulerRegistry);
    app.get(ResourceManagerConnection).start(40_000);
    await settle();
    expect(scheduler.getTimeouts()).toEqual([REGISTRATION_RETRY]);

    await app.close();

    expect(scheduler.getTimeouts()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the first retry's 100 ms
    expect(registrations).toBe(1);
  });
});

/** The leader etcd names: the ResourceManager at 127.0.0.1:`port`, leading with `fencingToken`. */
const leaderAt = (port: number, fencingToken: string): ResourceManagerLocation => ({
  host: '127.0.0.1',
  port,
  fencingToken,
  resourceManagerId: `rm-${port}`,
});

describe('ResourceManagerConnection following the leader etcd names (HA)', () => {
  /** What the ResourceManager at each port answers a registration with. */
  let answers: Map<number, RegistrationResponse>;
  /** The port and request of each registration sent. */
  let sent: Array<{ port: number; request: RegistrationRequest }>;
  let location$: BehaviorSubject<ResourceManagerLocation | null>;
  let slots: SlotTable;
  let heartbeats: { monitorTarget: jest.Mock; unmonitorTarget: jest.Mock };
  let connection: ResourceManagerConnection;
  let gateway: ResourceManagerGateway;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    answers = new Map([
      [6_123, { resourceManagerId: 'rm-6123', fencingToken: '1001', credential: 'credential-1' }],
      [6_124, { resourceManagerId: 'rm-6124', fencingToken: '1002', credential: 'credential-2' }],
    ]);
    sent = [];
    jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(function (
      this: ClientTCP,
      pattern,
      data,
    ) {
      if (pattern !== ResourceManagerPatterns.register) {
        throw new Error(`unexpected ${String(pattern)}`);
      }
      const { port } = this as unknown as { port: number };
      sent.push({ port, request: data as RegistrationRequest });
      return of(answers.get(port)) as never;
    });
    const config = readTaskManagerConfig({ TM_ID: 'tm-a' });
    slots = new SlotTable(config);
    heartbeats = { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() };
    location$ = new BehaviorSubject<ResourceManagerLocation | null>(leaderAt(6_123, '1001'));
    connection = new ResourceManagerConnection(
      config,
      heartbeats as unknown as HeartbeatManager,
      slots,
      new SchedulerRegistry(),
      { location$ } as unknown as ResourceManagerLocator,
    );
    gateway = new ResourceManagerGateway(connection, slots);
    connection.start(40_000);
    await settle();
  });

  afterEach(() => {
    connection.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('registers with a new leader at once, keeping its slots and reporting them there', async () => {
    expect(sent.map(({ port }) => port)).toEqual([6_123]);
    expect(heartbeats.monitorTarget).toHaveBeenCalledWith('rm-6123');
    gateway.allocate({
      fencingToken: '1001',
      credential: 'credential-1',
      allocations: [allocation],
    });

    location$.next(leaderAt(6_124, '1002'));
    await settle();

    expect(sent.map(({ port }) => port)).toEqual([6_123, 6_124]);
    expect(heartbeats.unmonitorTarget).toHaveBeenCalledWith('rm-6123');
    expect(heartbeats.monitorTarget).toHaveBeenLastCalledWith('rm-6124');
    expect(slots.allocatedCount()).toBe(1);
    expect(sent[1].request.slotReport).toEqual({
      version: 1,
      slots: [
        { index: 0, free: false, allocationId: 'allocation-1', jobId: 'job-1' },
        { index: 1, free: true, allocationId: null, jobId: null },
      ],
    });
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^Leaving ResourceManager rm-6123 for the new leader\b.*\bkeeping 1 allocated slots/,
      ),
    );
    // From now on only the new leadership is obeyed; the old leader is a deposed one.
    expect(
      connection.refusal({ fencingToken: '1002', credential: 'credential-2' }),
    ).toBeUndefined();
    expect(connection.refusal({ fencingToken: '1001', credential: 'credential-1' })).toMatch(
      /^stale fencing token 1001: from a deposed leader/,
    );
  });

  it('does not register again when etcd names the leader it is registered with', async () => {
    location$.next({ ...leaderAt(6_123, '1001') });
    await settle();
    expect(sent).toHaveLength(1);
  });

  it('refuses a registration answer whose token is older than the leader etcd names, and retries', async () => {
    // The old leader still answers at the new leader's address (its lease lapsing): not that one.
    answers.set(6_124, { resourceManagerId: 'rm-6123', fencingToken: '1001', credential: 'c-x' });
    location$.next(leaderAt(6_124, '1002'));
    await settle();

    expect(sent.map(({ port }) => port)).toEqual([6_123, 6_124]);
    expect(connection.heartbeatPayload()).toBeNull(); // registered with nobody
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^Registration with the ResourceManager at 127\.0\.0\.1:6124 failed \(its fencing token 1001 is older than the leader's \(1002\)\); retrying in 100 ms$/,
      ),
    );
  });

  it('keeps its registration and its slots while no leader is known', async () => {
    gateway.allocate({
      fencingToken: '1001',
      credential: 'credential-1',
      allocations: [allocation],
    });
    location$.next(null);
    await settle();

    expect(sent).toHaveLength(1);
    expect(heartbeats.unmonitorTarget).not.toHaveBeenCalled();
    expect(connection.heartbeatPayload()).toMatchObject({
      fencingToken: '1001',
      credential: 'credential-1',
    });
    expect(slots.allocatedCount()).toBe(1);
  });
});

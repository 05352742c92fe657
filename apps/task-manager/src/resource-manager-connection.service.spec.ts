import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP, RpcException } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import { of, throwError } from 'rxjs';
import {
  ProtocolError,
  ResourceManagerPatterns,
  type RegistrationRequest,
  type RegistrationResponse,
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
const FENCING_TOKEN = 'fencing-token-1';
const allocation = { slotIndex: 0, allocationId: 'allocation-1', jobId: 'job-1' };
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ResourceManagerConnection and its gateway', () => {
  let connection: ResourceManagerConnection;
  let gateway: ResourceManagerGateway;
  let warn: jest.SpiedFunction<Logger['warn']>;
  /** The registration requests sent, and the credentials handed out in answer. */
  let requests: RegistrationRequest[];
  let issued: string[];

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
    const slots = new SlotTable(config);
    const heartbeats = { monitorTarget: jest.fn(), unmonitorTarget: jest.fn() };
    connection = new ResourceManagerConnection(
      config,
      heartbeats as unknown as HeartbeatManager,
      slots,
      new SchedulerRegistry(),
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
    expect(heartbeatRequest({ fencingToken: 'old', credential: 'credential-1' })).toThrow(
      /^stale fencing token/,
    );
    expect(heartbeatRequest({ fencingToken: FENCING_TOKEN })).toThrow(
      /^heartbeat payload\.credential: /,
    );
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
    expect(warn).toHaveBeenCalledWith(
      `ResourceManager ${RM_ID} lost: unreachable; registering again`,
    );
  });

  it('registers afresh without a credential when the ResourceManager has dropped it', async () => {
    expect(
      gateway.disconnect({
        fencingToken: FENCING_TOKEN,
        credential: 'credential-1',
        reason: 'timeout',
      }),
    ).toEqual({ accepted: true });
    await settle();
    expect(requests.map((request) => request.credential)).toEqual([undefined, undefined]);
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

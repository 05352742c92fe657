import { jest } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import { EMPTY, map, NEVER, Observable, of, throwError, timer, TimeoutError } from 'rxjs';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { OnTargetLost } from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type { TargetLossReason } from './interfaces/heartbeat-handler.interface.js';
import type { HeartbeatModuleOptions } from './interfaces/heartbeat-module-options.interface.js';
import {
  ClientProxyHeartbeatTarget,
  type ClientProxyHeartbeatTargetOptions,
  type HeartbeatClient,
} from '../transport/client-proxy-heartbeat-target.js';
import { HeartbeatTargetFactory } from './heartbeat-target.factory.js';
import {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
} from '../transport/heartbeat-wire.js';

const ACK = { accepted: true };

/** A client whose every reply is made by `reply`, recording what is sent. */
function fakeClient(reply: () => Observable<unknown> = () => of(ACK)) {
  const send = jest.fn((_pattern: unknown, _data: unknown) => reply());
  const close = jest.fn(async () => undefined);
  return { send, close, client: { send, close } as unknown as HeartbeatClient };
}

/** A peer that answers after 60 ms of real time. */
const slowPeer = () => timer(60).pipe(map(() => ACK));
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6123'), { code: 'ECONNREFUSED' });
const errorReply = (message: string) => ({ status: 'error', message });

const OPTIONS: ClientProxyHeartbeatTargetOptions = {
  remoteManager: 'workers',
  requestTimeout: 1_000,
  closeClientOnDispose: false,
  recipient: '10.0.0.7:6123',
};

/** The error a promise rejects with (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ClientProxyHeartbeatTarget', () => {
  it("sends 'heartbeat.request' and 'heartbeat.receive' with { manager, origin, payload }", async () => {
    const { client, send } = fakeClient();
    const target = new ClientProxyHeartbeatTarget<{ slots: number }>(client, OPTIONS);

    await expect(target.requestHeartbeat('rm-1', { slots: 4 })).resolves.toBeUndefined();
    await expect(target.receiveHeartbeat('rm-1', null)).resolves.toBeUndefined();

    expect(HEARTBEAT_REQUEST_PATTERN).toBe('heartbeat.request');
    expect(HEARTBEAT_RECEIVE_PATTERN).toBe('heartbeat.receive');
    expect(send.mock.calls).toEqual([
      ['heartbeat.request', { manager: 'workers', origin: 'rm-1', payload: { slots: 4 } }],
      ['heartbeat.receive', { manager: 'workers', origin: 'rm-1', payload: null }],
    ]);
  });

  it('resolves on an empty reply and on the first of several values', async () => {
    const { client } = fakeClient(() => EMPTY);
    await expect(
      new ClientProxyHeartbeatTarget(client, OPTIONS).requestHeartbeat('rm-1', null),
    ).resolves.toBeUndefined();

    const several = fakeClient(() => of(ACK, ACK));
    await expect(
      new ClientProxyHeartbeatTarget(several.client, OPTIONS).receiveHeartbeat('rm-1', 1),
    ).resolves.toBeUndefined();
  });

  it.each<[string, () => unknown, string]>([
    ['ECONNREFUSED', refused, 'ECONNREFUSED'],
    [
      'ECONNRESET',
      () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      'ECONNRESET',
    ],
    [
      'EHOSTUNREACH',
      () => Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' }),
      'EHOSTUNREACH',
    ],
    ["Error('Connection closed')", () => new Error('Connection closed'), 'Connection closed'],
  ])(
    'turns a connection failure (%s) into RecipientUnreachableError',
    async (_case, failure, described) => {
      const cause = failure();
      const { client } = fakeClient(() => throwError(() => cause));
      const target = new ClientProxyHeartbeatTarget(client, OPTIONS);

      for (const rpc of [
        target.requestHeartbeat('rm-1', null),
        target.receiveHeartbeat('rm-1', null),
      ]) {
        const error = await rejectionOf(rpc);
        expect(error).toBeInstanceOf(RecipientUnreachableError);
        expect(RecipientUnreachableError.matches(error)).toBe(true);
        expect(error).toMatchObject({
          recipient: '10.0.0.7:6123',
          message: `Heartbeat recipient 10.0.0.7:6123 is unreachable: ${described}`,
          cause,
        });
      }
    },
  );

  it('lets a timeout through as it is: not "unreachable" (real time, 20 ms)', async () => {
    const { client } = fakeClient(() => NEVER);
    const target = new ClientProxyHeartbeatTarget(client, { ...OPTIONS, requestTimeout: 20 });

    const error = await rejectionOf(target.requestHeartbeat('rm-1', null));

    expect(error).toBeInstanceOf(TimeoutError);
    expect(RecipientUnreachableError.matches(error)).toBe(false);
  });

  it('ends the request once it is settled: by the first reply, an error or the timeout', async () => {
    // The client drops a request's bookkeeping when its subscription ends; an RPC left
    // subscribed would hold it (and its timer) for every heartbeat.
    const teardowns: string[] = [];
    const source = (
      name: string,
      emit: (subscriber: { next(v: unknown): void; error(e: unknown): void }) => void,
    ) =>
      new Observable<unknown>((subscriber) => {
        emit(subscriber);
        return () => teardowns.push(name);
      });
    const replies: Record<string, () => Observable<unknown>> = {
      'first reply': () => source('first reply', (subscriber) => subscriber.next(ACK)),
      'error reply': () =>
        source('error reply', (subscriber) => subscriber.error(errorReply('no'))),
      silence: () => source('silence', () => undefined),
    };
    const outcomes: string[] = [];
    for (const [name, reply] of Object.entries(replies)) {
      const target = new ClientProxyHeartbeatTarget(fakeClient(reply).client, {
        ...OPTIONS,
        requestTimeout: 20,
      });
      outcomes.push(
        await target.requestHeartbeat('rm-1', null).then(
          () => `${name}: resolved`,
          (error: unknown) => `${name}: ${error instanceof TimeoutError ? 'timeout' : 'rejected'}`,
        ),
      );
    }

    expect(outcomes).toEqual([
      'first reply: resolved',
      'error reply: rejected',
      'silence: timeout',
    ]);
    expect(teardowns).toEqual(['first reply', 'error reply', 'silence']);
  });

  it.each<[string, () => unknown]>([
    ['an error reply', () => errorReply('unknown heartbeat manager "workers" (from rm-1)')],
    [
      'a rejecting @OnIncomingHeartbeat reply',
      () => errorReply('heartbeat from rm-1 to "workers" rejected: stale leader'),
    ],
    [
      'another error code',
      () => Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }),
    ],
    ['a plain Error', () => new Error('Internal server error')],
  ])('lets %s through as it is: not "unreachable"', async (_case, failure) => {
    const cause = failure();
    const { client } = fakeClient(() => throwError(() => cause));

    const error = await rejectionOf(
      new ClientProxyHeartbeatTarget(client, OPTIONS).requestHeartbeat('rm-1', null),
    );

    expect(error).toBe(cause);
    expect(RecipientUnreachableError.matches(error)).toBe(false);
  });

  it('closes the client on dispose only when it owns it', async () => {
    const owned = fakeClient();
    await new ClientProxyHeartbeatTarget(owned.client, {
      ...OPTIONS,
      closeClientOnDispose: true,
    }).dispose();
    expect(owned.close).toHaveBeenCalledTimes(1);

    const borrowed = fakeClient();
    await new ClientProxyHeartbeatTarget(borrowed.client, OPTIONS).dispose();
    expect(borrowed.close).not.toHaveBeenCalled();
  });
});

@Injectable()
class LossRecorder {
  readonly events: string[] = [];

  @OnTargetLost('workers')
  onLost(id: string, reason: TargetLossReason): void {
    this.events.push(`${reason}:${id}`);
  }
}

describe('HeartbeatTargetFactory', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule;
  let factory: HeartbeatTargetFactory;
  let workers: HeartbeatManager;

  async function start(options: Partial<HeartbeatModuleOptions> = {}) {
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'rm-1',
          managers: { workers: 'sender' },
          interval: 1_000,
          timeout: 10_000,
          rpcFailureThreshold: 2,
          clock,
          scheduler: clock,
          ...options,
        }),
      ],
      providers: [LossRecorder],
    }).compile();
    await moduleRef.init();
    factory = moduleRef.get(HeartbeatTargetFactory);
    workers = moduleRef.get(HeartbeatRegistry).getManager('workers');
  }

  beforeEach(() => {
    clock = new ManualClock();
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.restoreAllMocks();
  });

  describe('fromClient', () => {
    it('makes a target over the given client for the remote manager, and never closes the client', async () => {
      await start();
      const { client, send, close } = fakeClient();
      const target = factory.fromClient(client, 'resource-manager');

      workers.monitorTarget('tm-1', target);
      clock.advance(0);
      await flush();
      expect(send).toHaveBeenCalledWith('heartbeat.request', {
        manager: 'resource-manager',
        origin: 'rm-1',
        payload: null,
      });

      workers.unmonitorTarget('tm-1');
      await flush();
      expect(close).not.toHaveBeenCalled();
    });

    it('a sender marks a refusing peer unreachable after rpcFailureThreshold requests', async () => {
      await start();
      const { client } = fakeClient(() => throwError(refused));
      workers.monitorTarget(
        'tm-1',
        factory.fromClient(client, 'resource-manager', { recipient: 'tm-1:6123' }),
      );
      const recorder = moduleRef.get(LossRecorder);

      clock.advance(0);
      await flush();
      expect(recorder.events).toEqual([]);
      clock.advance(1_000);
      await flush();
      expect(recorder.events).toEqual(['unreachable:tm-1']);
    });

    it('error replies neither count as unreachable nor keep the target alive', async () => {
      await start();
      const { client, send } = fakeClient(() =>
        throwError(() => errorReply('unknown heartbeat manager "resource-manager"')),
      );
      workers.monitorTarget('tm-1', factory.fromClient(client, 'resource-manager'));
      const recorder = moduleRef.get(LossRecorder);

      for (let elapsed = 0; elapsed < 10_000; elapsed += 1_000) {
        clock.advance(elapsed === 0 ? 0 : 1_000);
        await flush();
      }
      expect(send).toHaveBeenCalledTimes(10);
      expect(recorder.events).toEqual([]);
      clock.advance(1_000);
      expect(recorder.events).toEqual(['timeout:tm-1']);
    });

    it('a success between refusals resets the count', async () => {
      await start();
      const outcomes = [throwError(refused), of(ACK), throwError(refused), of(ACK)];
      const { client } = fakeClient(() => outcomes.shift() ?? throwError(refused));
      workers.monitorTarget('tm-1', factory.fromClient(client, 'resource-manager'));
      const recorder = moduleRef.get(LossRecorder);

      clock.advance(0);
      await flush();
      for (let run = 1; run <= 4; run += 1) {
        clock.advance(1_000);
        await flush();
      }
      // refused, ok, refused, ok, refused: never two in a row
      expect(recorder.events).toEqual([]);
      clock.advance(1_000);
      await flush();
      expect(recorder.events).toEqual(['unreachable:tm-1']);
    });

    it("uses the module's requestTimeout unless the target overrides it (real time, 20 ms)", async () => {
      await start({ requestTimeout: 20 });
      // A peer that answers after 60 ms: too slow for the module's 20 ms, fine for a 1 s override.

      await expect(
        factory.fromClient(fakeClient(slowPeer).client, 'rm').requestHeartbeat('rm-1', null),
      ).rejects.toBeInstanceOf(TimeoutError);
      await expect(
        factory
          .fromClient(fakeClient(slowPeer).client, 'rm', { requestTimeout: 1_000 })
          .requestHeartbeat('rm-1', null),
      ).resolves.toBeUndefined();
    });
  });

  describe('createTcpTarget', () => {
    it('makes a target that owns a TCP client to host:port with the module limits, and closes it when disposed', async () => {
      await start({ requestTimeout: 20, clientLimits: { maxBufferSize: 4_096 } });
      const clients: ClientTCP[] = [];
      const send = jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(function (
        this: ClientTCP,
      ) {
        clients.push(this);
        return NEVER;
      });
      const close = jest
        .spyOn(ClientTCP.prototype, 'close')
        .mockImplementation(async () => undefined);

      const target = factory.createTcpTarget({
        host: '10.0.0.7',
        port: 6123,
        remoteManager: 'resource-manager',
      });
      await expect(target.requestHeartbeat('rm-1', { a: 1 })).rejects.toBeInstanceOf(TimeoutError);

      expect(send).toHaveBeenCalledWith('heartbeat.request', {
        manager: 'resource-manager',
        origin: 'rm-1',
        payload: { a: 1 },
      });
      const [client] = clients;
      expect(client).toBeInstanceOf(ClientTCP);
      expect(client).toMatchObject({ host: '10.0.0.7', port: 6123, maxBufferSize: 4_096 });

      workers.monitorTarget('tm-1', target);
      workers.unmonitorTarget('tm-1');
      await flush();
      expect(close).toHaveBeenCalledTimes(1);
      expect(close.mock.contexts[0]).toBe(client);
    });

    it('names host:port as the unreachable recipient', async () => {
      await start();
      jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(() => throwError(refused));
      jest.spyOn(ClientTCP.prototype, 'close').mockImplementation(async () => undefined);

      const error = await rejectionOf(
        factory
          .createTcpTarget({ host: 'tm-1.local', port: 6123, remoteManager: 'rm' })
          .receiveHeartbeat('rm-1', null),
      );

      expect(error).toBeInstanceOf(RecipientUnreachableError);
      expect((error as Error).message).toBe(
        'Heartbeat recipient tm-1.local:6123 is unreachable: ECONNREFUSED',
      );
    });

    it('closes the owned clients of the monitored targets when the module closes', async () => {
      await start();
      const close = jest
        .spyOn(ClientTCP.prototype, 'close')
        .mockImplementation(async () => undefined);
      workers.monitorTarget(
        'tm-1',
        factory.createTcpTarget({ host: '10.0.0.7', port: 6123, remoteManager: 'rm' }),
      );
      workers.monitorTarget(
        'tm-2',
        factory.createTcpTarget({ host: '10.0.0.8', port: 6123, remoteManager: 'rm' }),
      );

      await moduleRef.close();

      expect(close).toHaveBeenCalledTimes(2);
      expect(clock.pendingTasks).toBe(0);
    });

    it.each<[string, unknown, unknown, string]>([
      ['an empty host', '', 6123, 'Heartbeat target host must be a non-empty string, got ""'],
      [
        'a missing host',
        undefined,
        6123,
        'Heartbeat target host must be a non-empty string, got undefined',
      ],
      [
        'a numeric host',
        127001,
        6123,
        'Heartbeat target host must be a non-empty string, got 127001',
      ],
      ['port 0', 'localhost', 0, 'Heartbeat target port must be an integer from 1 to 65535, got 0'],
      [
        'port 65536',
        'localhost',
        65_536,
        'Heartbeat target port must be an integer from 1 to 65535, got 65536',
      ],
      [
        'port -1',
        'localhost',
        -1,
        'Heartbeat target port must be an integer from 1 to 65535, got -1',
      ],
      [
        'port 61.5',
        'localhost',
        61.5,
        'Heartbeat target port must be an integer from 1 to 65535, got 61.5',
      ],
      [
        'port NaN',
        'localhost',
        Number.NaN,
        'Heartbeat target port must be an integer from 1 to 65535, got NaN',
      ],
      [
        'a string port',
        'localhost',
        '6123',
        'Heartbeat target port must be an integer from 1 to 65535, got 6123',
      ],
    ])('rejects %s', async (_case, host, port, message) => {
      await start();
      const make = () =>
        factory.createTcpTarget({
          host: host as string,
          port: port as number,
          remoteManager: 'rm',
        });
      expect(make).toThrow(HeartbeatConfigurationError);
      expect(make).toThrow(message);
    });

    it('checks tlsOptions when the target is made, naming the target', async () => {
      await start();
      let error: unknown;
      try {
        factory.createTcpTarget({
          host: '10.0.0.7',
          port: 6123,
          remoteManager: 'rm',
          tlsOptions: { ca: 'not a certificate' },
        });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect((error as Error).message).toMatch(
        /^Invalid tlsOptions for heartbeat target 10\.0\.0\.7:6123: /,
      );
    });

    it('accepts ports 1 and 65535', async () => {
      await start();
      jest.spyOn(ClientTCP.prototype, 'close').mockImplementation(async () => undefined);
      for (const port of [1, 65_535]) {
        const target = factory.createTcpTarget({ host: 'localhost', port, remoteManager: 'rm' });
        expect(target).toBeInstanceOf(ClientProxyHeartbeatTarget);
        await target.dispose?.();
      }
    });
  });

  it('is silent: no error is logged for RPC failures, which the monitors account for', async () => {
    const errorLog = jest.spyOn(Logger.prototype, 'error');
    await start();
    workers.monitorTarget(
      'tm-1',
      factory.fromClient(fakeClient(() => throwError(refused)).client, 'rm'),
    );
    clock.advance(0);
    await flush();
    expect(errorLog).not.toHaveBeenCalled();
  });

  describe('limits that protect the wire and the timers', () => {
    for (const requestTimeout of [0, -1, Number.NaN]) {
      it(`fromClient rejects a requestTimeout override of ${requestTimeout}, as the module option is rejected`, async () => {
        // Such a target would fail every RPC with a TimeoutError at once.
        await start();
        expect(() => factory.fromClient(fakeClient().client, 'rm', { requestTimeout })).toThrow(
          HeartbeatConfigurationError,
        );
      });
    }

    it('createTcpTarget rejects a requestTimeout override of 0', async () => {
      await start();
      expect(() =>
        factory.createTcpTarget({
          host: 'localhost',
          port: 6123,
          remoteManager: 'rm',
          requestTimeout: 0,
        }),
      ).toThrow(HeartbeatConfigurationError);
    });

    it('createTcpTarget rejects an empty remoteManager, which every peer would reject', async () => {
      await start();
      expect(() =>
        factory.createTcpTarget({ host: 'localhost', port: 6123, remoteManager: '' }),
      ).toThrow(HeartbeatConfigurationError);
    });
  });
});

import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { ClientNats, ClientRedis, Transport } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import { of, throwError, type Observable } from 'rxjs';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import type { BrokerClientOptions } from '../transport/broker-client-options.js';
import { BrokerClients } from '../transport/broker-clients.js';
import { ClientProxyHeartbeatTarget } from '../transport/client-proxy-heartbeat-target.js';
import { OnTargetLost } from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import {
  HeartbeatTargetFactory,
  type BrokerHeartbeatTargetOptions,
} from './heartbeat-target.factory.js';
import type { TargetLossReason } from './interfaces/heartbeat-handler.interface.js';

// The rest of the factory (createTcpTarget, fromClient) is in heartbeat-target.factory.spec.ts; the
// same targets against real brokers in test/heartbeat-nats.e2e-spec.ts and heartbeat-redis.

const NATS: BrokerClientOptions = {
  transport: Transport.NATS,
  options: { servers: 'nats://10.0.0.5:4222' },
};
const REDIS: BrokerClientOptions = {
  transport: Transport.REDIS,
  options: { host: 'cache', port: 6380 },
};

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

@Injectable()
class LossRecorder {
  readonly losses: string[] = [];

  @OnTargetLost('workers')
  onLost(id: string, reason: TargetLossReason): void {
    this.losses.push(`${reason}:${id}`);
  }
}

describe('HeartbeatTargetFactory.createBrokerTarget', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;
  let factory: HeartbeatTargetFactory;
  let workers: HeartbeatManager;
  /** What the clients were asked to send, and by which client. */
  let sent: { client: object; pattern: string; data: unknown }[];
  let reply: () => Observable<unknown>;
  let closed: object[];

  beforeEach(async () => {
    clock = new ManualClock();
    sent = [];
    closed = [];
    reply = () => of({ accepted: true });
    for (const type of [ClientNats, ClientRedis]) {
      // No broker here: the clients' own I/O is replaced, the library's use of them is real.
      jest.spyOn(type.prototype, 'send').mockImplementation(function (
        this: object,
        pattern: unknown,
        data: unknown,
      ) {
        sent.push({ client: this, pattern: pattern as string, data });
        return reply();
      });
      jest.spyOn(type.prototype, 'close').mockImplementation(async function (this: object) {
        closed.push(this);
      });
    }
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
        }),
      ],
      providers: [LossRecorder],
    }).compile();
    await moduleRef.init();
    factory = moduleRef.get(HeartbeatTargetFactory);
    workers = moduleRef.get(HeartbeatRegistry).getManager('workers');
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    jest.restoreAllMocks();
  });

  const brokerTarget = (options: Partial<BrokerHeartbeatTargetOptions> = {}) =>
    factory.createBrokerTarget({
      client: NATS,
      recipientId: 'tm-1',
      remoteManager: 'resource-manager',
      ...options,
    });

  it("makes a ClientProxyHeartbeatTarget that sends to the recipient's addressed patterns", async () => {
    const target = brokerTarget();
    expect(target).toBeInstanceOf(ClientProxyHeartbeatTarget);

    workers.monitorTarget('tm-1', target);
    clock.advance(0);
    await flush();

    expect(sent.map(({ pattern, data }) => ({ pattern, data }))).toEqual([
      {
        pattern: 'heartbeat.request.tm-1',
        data: { manager: 'resource-manager', origin: 'rm-1', payload: null },
      },
    ]);
    expect(sent[0].client).toBeInstanceOf(ClientNats);
  });

  it('makes a Redis client for Transport.REDIS', async () => {
    await brokerTarget({ client: REDIS }).requestHeartbeat('rm-1', null);
    expect(sent[0].client).toBeInstanceOf(ClientRedis);
  });

  it('shares one client between the targets made with one options object, closed with the last of them', async () => {
    const targets = ['tm-1', 'tm-2', 'tm-3'].map((recipientId) => brokerTarget({ recipientId }));
    const alone = brokerTarget({ client: { ...NATS }, recipientId: 'tm-4' });
    for (const target of [...targets, alone]) {
      await target.requestHeartbeat('rm-1', null);
    }
    const [shared] = sent.map(({ client }) => client);
    expect(sent.slice(0, 3).every(({ client }) => client === shared)).toBe(true);
    expect(sent[3].client).not.toBe(shared);
    expect(sent.map(({ pattern }) => pattern)).toEqual([
      'heartbeat.request.tm-1',
      'heartbeat.request.tm-2',
      'heartbeat.request.tm-3',
      'heartbeat.request.tm-4',
    ]);

    await targets[0].dispose?.();
    await targets[1].dispose?.();
    expect(closed).toEqual([]);
    await targets[2].dispose?.();
    expect(closed).toEqual([shared]);
  });

  it('closes the clients of its targets when the application shuts down, once the managers let them go', async () => {
    workers.monitorTarget('tm-1', brokerTarget({ recipientId: 'tm-1' }));
    const kept = brokerTarget({ client: REDIS, recipientId: 'tm-2' }); // never monitored nor disposed
    await kept.requestHeartbeat('rm-1', null);
    clock.advance(0);
    await flush();

    await moduleRef!.close();
    moduleRef = undefined;

    expect(closed).toHaveLength(2);
    expect(new Set(closed)).toEqual(new Set(sent.map(({ client }) => client)));
  });

  it('declares a recipient NATS has no subscriber for unreachable after rpcFailureThreshold requests', async () => {
    reply = () =>
      throwError(
        () =>
          new Error(
            'Empty response. There are no subscribers listening to that message ("heartbeat.request.tm-1")',
          ),
      );
    workers.monitorTarget('tm-1', brokerTarget());
    const recorder = moduleRef!.get(LossRecorder);

    clock.advance(0);
    await flush();
    expect(recorder.losses).toEqual([]);
    clock.advance(1_000);
    await flush();
    expect(recorder.losses).toEqual(['unreachable:tm-1']);
  });

  it('does not count a broker it cannot reach: its targets are lost by the timeout only', async () => {
    reply = () =>
      throwError(() =>
        Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:4222'), { code: 'ECONNREFUSED' }),
      );
    workers.monitorTarget('tm-1', brokerTarget());
    const recorder = moduleRef!.get(LossRecorder);

    for (let elapsed = 0; elapsed < 10_000; elapsed += 1_000) {
      clock.advance(elapsed === 0 ? 0 : 1_000);
      await flush();
    }
    expect(sent).toHaveLength(10);
    expect(recorder.losses).toEqual([]);
    clock.advance(1_000);
    expect(recorder.losses).toEqual(['timeout:tm-1']);
  });

  describe('checks its options when the target is made', () => {
    it.each<[string, Partial<BrokerHeartbeatTargetOptions>, string]>([
      [
        'TCP client options',
        { client: { transport: Transport.TCP } as never },
        'Invalid heartbeat broker target option client.transport: must be Transport.NATS or Transport.REDIS, got 0 (Transport.TCP)',
      ],
      [
        'no client options',
        { client: undefined as never },
        'Invalid heartbeat broker target option client: must be Nest client options',
      ],
      [
        'a Redis port out of range',
        { client: { transport: Transport.REDIS, options: { port: 0 } } },
        'Invalid heartbeat broker target option client.options.port: must be an integer from 1 to 65535, got 0',
      ],
      [
        'an empty recipientId',
        { recipientId: '' },
        'Invalid HeartbeatModule option recipientId: must be a non-empty string',
      ],
      [
        'an empty remoteManager',
        { remoteManager: '' },
        'Invalid HeartbeatModule option remoteManager: must be a non-empty string',
      ],
      [
        'a requestTimeout of 0',
        { requestTimeout: 0 },
        'Invalid HeartbeatModule option requestTimeout: must be a number > 0',
      ],
    ])('refuses %s with a HeartbeatConfigurationError', (_case, options, message) => {
      let error: unknown;
      try {
        brokerTarget(options);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(HeartbeatConfigurationError);
      expect((error as Error).message).toContain(message);
    });

    it('makes no client for options it refuses', () => {
      const lease = jest.spyOn(BrokerClients.prototype, 'lease');
      expect(() => brokerTarget({ recipientId: '' })).toThrow(HeartbeatConfigurationError);
      expect(() => brokerTarget({ client: { transport: Transport.MQTT } as never })).toThrow(
        HeartbeatConfigurationError,
      );
      expect(lease).not.toHaveBeenCalled();
    });
  });
});

import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { ClientTCP, Transport } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import { firstValueFrom, isObservable, of, type Observable } from 'rxjs';
import { startApp, type RunningApp } from '../../../../test/fixtures/heartbeat-apps.js';
import { rejectionOf } from '../../../../test/fixtures/settling.js';
import { closeTcpClient } from '../transport/close-tcp-client.js';
import { ClientProxyHeartbeatTarget } from '../transport/client-proxy-heartbeat-target.js';
import { ProvideHeartbeatPayload } from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';

type Handler = (data: unknown, context?: unknown) => unknown;

/** A transport server as Nest's `Server` is to the registrar: its handlers by pattern. */
class FakeServer {
  readonly handlers = new Map<string, Handler>();

  constructor(readonly transportId: Transport = Transport.NATS) {}

  addHandler(pattern: string, handler: Handler): void {
    this.handlers.set(pattern, handler);
  }

  getHandlerByPattern(pattern: string): Handler | null {
    return this.handlers.get(pattern) ?? null;
  }
}

const MODULE = HeartbeatModule.forRoot({
  resourceId: 'tm-1',
  managers: {
    resourceManager: 'receiver',
    jobMasters: 'receiver',
    // A manager answering under an id of its own.
    workers: { role: 'sender', resourceId: 'tm-1-workers' },
  },
});

describe('AddressedPatternRegistrar', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  async function compile(): Promise<TestingModule> {
    moduleRef = await Test.createTestingModule({ imports: [MODULE] }).compile();
    return moduleRef;
  }

  it("gives every transport server of the app the patterns addressed to its managers' ids", async () => {
    const container = (await compile()).get(ModulesContainer);
    const server = new FakeServer();

    container.addRpcTarget(server);

    expect([...server.handlers.keys()]).toEqual([
      'heartbeat.request.tm-1',
      'heartbeat.receive.tm-1',
      'heartbeat.request.tm-1-workers',
      'heartbeat.receive.tm-1-workers',
    ]);
  });

  it('serves NATS and Redis servers only: TCP is point to point, Kafka would make topics of the ids', async () => {
    const container = (await compile()).get(ModulesContainer);
    const servers = [Transport.REDIS, Transport.TCP, Transport.KAFKA, Transport.MQTT].map(
      (transport) => new FakeServer(transport),
    );
    servers.forEach((server) => container.addRpcTarget(server));

    expect(servers.map((server) => server.handlers.size)).toEqual([4, 0, 0, 0]);
  });

  it('serves each server once, and nothing that is not a server', async () => {
    const container = (await compile()).get(ModulesContainer);
    const server = new FakeServer();
    const addHandler = jest.spyOn(server, 'addHandler');
    container.addRpcTarget(server);
    container.addRpcTarget(server);
    container.addRpcTarget({ notAServer: true });

    expect(addHandler).toHaveBeenCalledTimes(4);
  });

  it('hands an addressed message to the handler the server has for the plain pattern, when it arrives', async () => {
    const container = (await compile()).get(ModulesContainer);
    const server = new FakeServer();
    container.addRpcTarget(server);
    // The plain handlers come later (Nest registers the controllers' after the server is made).
    const plain = jest.fn<Handler>(() => Promise.resolve(of({ accepted: true })));
    server.addHandler('heartbeat.request', plain);

    const result = server.handlers.get('heartbeat.request.tm-1')!({ manager: 'x' }, 'context');

    expect(plain.mock.calls).toEqual([[{ manager: 'x' }, 'context']]);
    expect(await firstValueFrom((await result) as Observable<unknown>)).toEqual({
      accepted: true,
    });
  });

  it("answers with Nest's no-handler error should the plain handler be missing", async () => {
    const container = (await compile()).get(ModulesContainer);
    const server = new FakeServer();
    container.addRpcTarget(server);

    const result = server.handlers.get('heartbeat.receive.tm-1')!({}, undefined);

    expect(isObservable(result)).toBe(true);
    expect(await rejectionOf(firstValueFrom(result as Observable<unknown>))).toEqual({
      status: 'error',
      message: 'There is no matching message handler defined.',
    });
  });

  it('serves no server made after the application shut down', async () => {
    const container = (await compile()).get(ModulesContainer);
    await moduleRef!.close();
    moduleRef = undefined;
    const server = new FakeServer();

    container.addRpcTarget(server);

    expect(server.handlers.size).toBe(0);
  });

  // The pipeline of an addressed request (the plain pattern's) is proved through real brokers:
  // test/heartbeat-nats.e2e-spec.ts and test/heartbeat-redis.e2e-spec.ts.
  describe('on a real Nest TCP microservice', () => {
    @Injectable()
    class Worker {
      @ProvideHeartbeatPayload('resourceManager')
      provide(): unknown {
        return { slots: 4 };
      }
    }

    let app: RunningApp;
    let client: ClientTCP;

    beforeEach(async () => {
      app = await startApp({ imports: [MODULE], providers: [Worker] });
      app.get(HeartbeatRegistry).getManager('resourceManager').monitorTarget('rm-1');
      client = new ClientTCP({ host: '127.0.0.1', port: app.port });
    });

    afterEach(async () => {
      await closeTcpClient(client);
      await app.close();
    });

    const addressedTo = (recipientId: string) =>
      new ClientProxyHeartbeatTarget(client, {
        remoteManager: 'resourceManager',
        requestTimeout: 2_000,
        closeClientOnDispose: false,
        recipient: recipientId,
        broker: { recipientId, broker: 'tcp' },
      });

    it('takes no addressed request (TCP reaches its peer point to point), and the plain ones still', async () => {
      const error = await rejectionOf(addressedTo('tm-1').requestHeartbeat('rm-1', null));
      expect(String((error as { message?: unknown }).message ?? error)).toContain(
        'There is no matching message handler',
      );
      const plain = new ClientProxyHeartbeatTarget(client, {
        remoteManager: 'resourceManager',
        requestTimeout: 2_000,
        closeClientOnDispose: false,
        recipient: 'tm-1',
      });
      await expect(plain.requestHeartbeat('rm-1', null)).resolves.toEqual({
        origin: 'tm-1',
        payload: { slots: 4 },
      });
    });
  });
});

import { jest } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import { map, of, throwError, timer, TimeoutError, type Observable } from 'rxjs';
import { freePort } from '../../../../test/fixtures/e2e-utils.js';
import { startApp } from '../../../../test/fixtures/heartbeat-apps.js';
import { TestCertificates, type TlsFiles } from '../../../../test/fixtures/test-certificates.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import type { HeartbeatClient } from '../transport/client-proxy-heartbeat-target.js';
import { HeartbeatReplyError } from '../transport/heartbeat-wire.js';
import {
  HeartbeatRequestTimeoutError,
  TcpHeartbeatTarget,
} from '../transport/tcp-heartbeat-target.js';
import {
  OnHeartbeatPayload,
  OnTargetLost,
  ProvideHeartbeatPayload,
} from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import { HeartbeatTargetFactory } from './heartbeat-target.factory.js';
import type { TargetLossReason } from './interfaces/heartbeat-handler.interface.js';
import type { HeartbeatModuleOptions } from './interfaces/heartbeat-module-options.interface.js';
import { Condition, rejectionOf } from '../../../../test/fixtures/settling.js';
import { encodeFrame } from '../../../../src/support/nest-tcp-frames.js';

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

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Wraps a target so that the test can await each RPC the manager makes through it (settled, its
 * outcome taken by the manager once a flush has run the manager's callbacks).
 */
function observed<T extends HeartbeatTarget>(target: T) {
  const rpcs: Array<Promise<unknown>> = [];
  const request = target.requestHeartbeat.bind(target);
  target.requestHeartbeat = (origin, payload) => {
    const rpc = request(origin, payload);
    rpcs.push(rpc.then(flush, flush));
    return rpc;
  };
  /** Waits for the `index`-th RPC (0-based), which must have been sent already, to be taken. */
  const settled = async (index: number) => {
    expect(rpcs.length).toBeGreaterThan(index);
    await rpcs[index];
  };
  return { target, rpcs, settled };
}

interface Request {
  readonly pattern: string;
  readonly data: { manager: string; origin: string; payload: unknown };
  readonly id: string;
}

/** A loopback peer (plain TCP, or TLS when given a secure server) that records what it gets. */
class LoopbackPeer {
  readonly sockets: Socket[] = [];
  readonly closed: Socket[] = [];
  readonly requests: Request[] = [];
  readonly changes = new Condition();
  /** What the peer writes back for a request; nothing (a silent peer) if it returns undefined. */
  reply: (request: Request) => string | undefined = () => undefined;

  private constructor(private readonly server: Server) {
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.push(socket);
      this.changes.changed();
      socket.setEncoding('utf8');
      let buffer = '';
      socket.on('data', (text: string) => {
        buffer += text;
        for (;;) {
          const hash = buffer.indexOf('#');
          const end = hash + 1 + Number(buffer.slice(0, hash));
          if (hash <= 0 || buffer.length < end) {
            return;
          }
          const request = JSON.parse(buffer.slice(hash + 1, end)) as Request;
          buffer = buffer.slice(end);
          this.requests.push(request);
          this.changes.changed();
          const reply = this.reply(request);
          if (reply !== undefined) {
            socket.write(reply);
          }
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.closed.push(socket);
        this.changes.changed();
      });
    });
  }

  static async start(server: Server = createServer()): Promise<LoopbackPeer> {
    const peer = new LoopbackPeer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  until(what: string, probe: () => boolean): Promise<void> {
    return this.changes.until(what, probe);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const pem = (files: TlsFiles) => ({
  ca: readFileSync(files.ca),
  cert: readFileSync(files.cert),
  key: readFileSync(files.key),
});

const replyTo = (request: Request, response: unknown = ACK) =>
  encodeFrame({ id: request.id, response, isDisposed: true });

@Injectable()
class LossRecorder {
  readonly events: string[] = [];
  readonly payloads: unknown[][] = [];

  @OnTargetLost('workers')
  onLost(id: string, reason: TargetLossReason): void {
    this.events.push(`${reason}:${id}`);
  }

  @OnHeartbeatPayload('workers')
  onPayload(id: string, payload: unknown): void {
    this.payloads.push([id, payload]);
  }
}

describe('HeartbeatTargetFactory', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;
  let factory: HeartbeatTargetFactory;
  let workers: HeartbeatManager;
  let closers: Array<() => Promise<void> | void>;

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

  async function loopbackPeer(server?: Server): Promise<LoopbackPeer> {
    const peer = await LoopbackPeer.start(server);
    closers.push(() => peer.close());
    return peer;
  }

  /** A target from the factory, disposed after the test. */
  function tcpTarget(options: Parameters<HeartbeatTargetFactory['createTcpTarget']>[0]) {
    const target = factory.createTcpTarget(options);
    closers.push(() => target.dispose?.());
    return target;
  }

  beforeEach(() => {
    clock = new ManualClock();
    closers = [];
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    for (const close of closers.toReversed()) {
      await close();
    }
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

    it('a sender takes the answers its replies carry: the target stays alive and its payload is reported', async () => {
      await start();
      const { client } = fakeClient(() =>
        of({ accepted: true, heartbeat: { origin: 'tm-1', payload: { slots: 4 } } }),
      );
      workers.monitorTarget('tm-1', factory.fromClient(client, 'resource-manager'));
      const recorder = moduleRef!.get(LossRecorder);

      for (let run = 0; run < 15; run += 1) {
        clock.advance(run === 0 ? 0 : 1_000);
        await flush();
      }

      expect(recorder.events).toEqual([]);
      expect(workers.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
      expect(recorder.payloads).toHaveLength(15);
      expect(recorder.payloads[0]).toEqual(['tm-1', { slots: 4 }]);
    });

    it('a sender marks a refusing peer unreachable after rpcFailureThreshold requests', async () => {
      await start();
      const { client } = fakeClient(() => throwError(refused));
      workers.monitorTarget(
        'tm-1',
        factory.fromClient(client, 'resource-manager', { recipient: 'tm-1:6123' }),
      );
      const recorder = moduleRef!.get(LossRecorder);

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
      const recorder = moduleRef!.get(LossRecorder);

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
      const recorder = moduleRef!.get(LossRecorder);

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
    it('makes a TcpHeartbeatTarget to host:port that connects on first use and speaks for the remote manager', async () => {
      await start();
      const peer = await loopbackPeer();
      peer.reply = (request) =>
        replyTo(request, { accepted: true, heartbeat: { origin: 'tm-1', payload: 'slots' } });

      const target = tcpTarget({
        host: '127.0.0.1',
        port: peer.port,
        remoteManager: 'resource-manager',
      });
      expect(target).toBeInstanceOf(TcpHeartbeatTarget);
      await flush();
      expect(peer.sockets).toHaveLength(0);

      await expect(target.requestHeartbeat('rm-1', { a: 1 })).resolves.toEqual({
        origin: 'tm-1',
        payload: 'slots',
      });
      expect(peer.sockets).toHaveLength(1);
      expect(peer.requests).toEqual([
        {
          pattern: 'heartbeat.request',
          data: { manager: 'resource-manager', origin: 'rm-1', payload: { a: 1 } },
          id: expect.any(String),
        },
      ]);
    });

    it("gives its targets the module's clientLimits", async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      await start({ clientLimits: { maxBufferSize: 64 } });
      const peer = await loopbackPeer();
      peer.reply = (request) =>
        replyTo(request, {
          accepted: true,
          heartbeat: { origin: 'tm-1', payload: 'x'.repeat(64) },
        });
      const target = tcpTarget({ host: '127.0.0.1', port: peer.port, remoteManager: 'rm' });

      const error = await rejectionOf(target.requestHeartbeat('rm-1', null));

      expect(error).toBeInstanceOf(HeartbeatReplyError);
      expect((error as Error).message).toMatch(/over the limit of 64 \(maxBufferSize\)$/);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(
        /^Closed the heartbeat connection to 127\.0\.0\.1:\d+: a frame of \d+ characters is over the limit of 64/,
      );
      await peer.until('the connection to close', () => peer.closed.length === 1);
    });

    it("times RPCs out on the module's clock after its requestTimeout, unless the target overrides it", async () => {
      await start({ requestTimeout: 500 });
      const peer = await loopbackPeer(); // silent
      const moduleWide = tcpTarget({ host: '127.0.0.1', port: peer.port, remoteManager: 'rm' });
      const overridden = tcpTarget({
        host: '127.0.0.1',
        port: peer.port,
        remoteManager: 'rm',
        requestTimeout: 2_000,
      });
      const settled = new Set<string>();
      const tasksBefore = clock.pendingTasks;
      const slow = overridden.requestHeartbeat('rm-1', null);
      const fast = moduleWide.requestHeartbeat('rm-1', null);
      for (const [name, rpc] of [
        ['slow', slow],
        ['fast', fast],
      ] as const) {
        rpc.then(
          () => settled.add(name),
          () => settled.add(name),
        );
      }
      // Their timeouts wait on the module's clock, not on timers of their own.
      expect(clock.pendingTasks).toBe(tasksBefore + 2);
      await peer.until('both requests', () => peer.requests.length === 2);

      clock.advance(499);
      await flush();
      expect(settled).toEqual(new Set());
      clock.advance(1);
      await flush(); // at once: no real time has to pass
      expect(settled).toEqual(new Set(['fast']));
      await expect(rejectionOf(fast)).resolves.toBeInstanceOf(HeartbeatRequestTimeoutError);

      clock.advance(1_499);
      await flush();
      expect(settled).toEqual(new Set(['fast']));
      clock.advance(1);
      await flush();
      expect(settled).toEqual(new Set(['fast', 'slow']));
      await expect(rejectionOf(slow)).resolves.toBeInstanceOf(HeartbeatRequestTimeoutError);
    });

    it('names host:port as the unreachable recipient', async () => {
      await start();
      const port = await freePort();

      const error = await rejectionOf(
        tcpTarget({ host: '127.0.0.1', port, remoteManager: 'rm' }).receiveHeartbeat('rm-1', null),
      );

      expect(error).toBeInstanceOf(RecipientUnreachableError);
      expect((error as Error).message).toBe(
        `Heartbeat recipient 127.0.0.1:${port} is unreachable: ECONNREFUSED`,
      );
    });

    it('counts a host that does not resolve (ENOTFOUND) as unreachable', async () => {
      await start();
      // The resolver is faked: what a sandbox's DNS answers for an unknown name varies.
      const lookup = jest.spyOn(dns, 'lookup').mockImplementation(((
        hostname: string,
        _options: unknown,
        callback: (error: Error) => void,
      ) =>
        callback(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
            code: 'ENOTFOUND',
            hostname,
          }),
        )) as unknown as typeof dns.lookup);

      const error = await rejectionOf(
        tcpTarget({ host: 'tm-1.invalid', port: 6123, remoteManager: 'rm' }).requestHeartbeat(
          'rm-1',
          null,
        ),
      );

      expect(lookup).toHaveBeenCalledWith('tm-1.invalid', expect.anything(), expect.any(Function));
      expect(error).toBeInstanceOf(RecipientUnreachableError);
      expect((error as Error).message).toBe(
        'Heartbeat recipient tm-1.invalid:6123 is unreachable: ENOTFOUND',
      );
    });

    it('a sender marks a target where nothing listens unreachable after rpcFailureThreshold requests, silently', async () => {
      const errorLog = jest.spyOn(Logger.prototype, 'error');
      const warnLog = jest.spyOn(Logger.prototype, 'warn');
      await start();
      const port = await freePort();
      const { target, settled } = observed(
        factory.createTcpTarget({ host: '127.0.0.1', port, remoteManager: 'rm' }),
      );
      workers.monitorTarget('tm-1', target);
      const recorder = moduleRef!.get(LossRecorder);

      clock.advance(0);
      await settled(0);
      expect(recorder.events).toEqual([]);
      clock.advance(1_000);
      await settled(1);

      expect(recorder.events).toEqual(['unreachable:tm-1']);
      expect(errorLog).not.toHaveBeenCalled();
      expect(warnLog).not.toHaveBeenCalled();
    });

    it('ends the connection of a target when it is unmonitored, and of every monitored one when the module closes', async () => {
      await start();
      const peers = [await loopbackPeer(), await loopbackPeer(), await loopbackPeer()];
      for (const peer of peers) {
        peer.reply = (request) => replyTo(request);
      }
      peers.forEach((peer, index) =>
        workers.monitorTarget(
          `tm-${index}`,
          factory.createTcpTarget({ host: '127.0.0.1', port: peer.port, remoteManager: 'rm' }),
        ),
      );
      clock.advance(0); // the sender's first round connects every target
      for (const peer of peers) {
        await peer.until('the first request', () => peer.requests.length === 1);
      }

      workers.unmonitorTarget('tm-0');
      await peers[0].until('tm-0 to be disconnected', () => peers[0].closed.length === 1);
      expect(peers[1].closed).toHaveLength(0);

      await moduleRef!.close();
      moduleRef = undefined;

      for (const peer of peers) {
        await peer.until('its target to be disconnected', () => peer.closed.length === 1);
      }
      expect(clock.pendingTasks).toBe(0);
    });

    it('connects over TLS when given tlsOptions', async () => {
      const certificates = new TestCertificates();
      closers.push(() => certificates.remove());
      const ca = certificates.authority('factory-ca');
      await start();
      const peer = await loopbackPeer(
        createTlsServer({
          ...pem(certificates.issue(ca, 'factory-server')),
          requestCert: true,
          rejectUnauthorized: true,
        }),
      );
      peer.reply = (request) => replyTo(request);
      const target = tcpTarget({
        host: '127.0.0.1',
        port: peer.port,
        remoteManager: 'rm',
        tlsOptions: pem(certificates.issue(ca, 'factory-client')),
      });

      await expect(target.requestHeartbeat('rm-1', 'over tls')).resolves.toBeUndefined();
      expect(peer.requests.map(({ data }) => data.payload)).toEqual(['over tls']);
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
      for (const port of [1, 65_535]) {
        const target = factory.createTcpTarget({ host: 'localhost', port, remoteManager: 'rm' });
        expect(target).toBeInstanceOf(TcpHeartbeatTarget);
        await target.dispose?.();
        // Disposed before its first use: it never connects.
        await expect(target.requestHeartbeat('rm-1', null)).rejects.toThrow(/is disposed$/);
      }
    });
  });

  it('an end-to-end sender: a Nest receiver answers in its replies, and the sender takes the answers', async () => {
    @Injectable()
    class Worker {
      @ProvideHeartbeatPayload('resource-managers')
      provide(id: string): unknown {
        return { freeSlotsFor: id };
      }
    }
    const receiverClock = new ManualClock();
    const app = await startApp({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'tm-1',
          managers: { 'resource-managers': 'receiver' },
          clock: receiverClock,
          scheduler: receiverClock,
        }),
      ],
      providers: [Worker],
    });
    closers.push(() => app.close());
    app.get(HeartbeatRegistry).getManager('resource-managers').monitorTarget('rm-1');
    await start();
    const recorder = moduleRef!.get(LossRecorder);
    const { target, settled } = observed(
      factory.createTcpTarget({
        host: '127.0.0.1',
        port: app.port,
        remoteManager: 'resource-managers',
      }),
    );
    workers.monitorTarget('tm-1', target);

    for (let round = 0; round < 12; round += 1) {
      clock.advance(round === 0 ? 0 : 1_000);
      await settled(round);
      expect(recorder.payloads).toHaveLength(round + 1);
      expect(workers.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    }

    expect(recorder.events).toEqual([]); // 11 s, past the 10 s timeout: kept alive by the answers
    expect(workers.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    expect(recorder.payloads[0]).toEqual(['tm-1', { freeSlotsFor: 'rm-1' }]);
    expect(await app.connections()).toBe(1);
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

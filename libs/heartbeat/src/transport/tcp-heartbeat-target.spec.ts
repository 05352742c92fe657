import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { connect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { freePort } from '../../../../test/fixtures/e2e-utils.js';
import { startApp, type RunningApp } from '../../../../test/fixtures/heartbeat-apps.js';
import { TestCertificates, type TlsFiles } from '../../../../test/fixtures/test-certificates.js';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import {
  OnHeartbeatPayload,
  ProvideHeartbeatPayload,
} from '../nest/decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from '../nest/heartbeat.module.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import { FrameParser } from './frame-parser.js';
import {
  HEARTBEAT_FRAME_LIMITS,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  HeartbeatReplyError,
  type HeartbeatClientLimits,
} from './heartbeat-wire.js';
import {
  HeartbeatRejectedError,
  HeartbeatRequestTimeoutError,
  TcpHeartbeatTarget,
  type TcpHeartbeatTargetSettings,
} from './tcp-heartbeat-target.js';
import { resolveTargetTlsOptions } from './target-tls-options.js';
import { Condition, rejectionOf } from '../../../../test/fixtures/settling.js';
import { encodeFrame } from '../../../../src/support/nest-tcp-frames.js';

// ---------------------------------------------------------------------------------------------
// Helpers: frames, bounded waits, a raw loopback peer and a frame-counting proxy
// ---------------------------------------------------------------------------------------------

/** Splits a text stream into the JSON packets of its complete frames (test side, unbounded). */
class FrameCounter {
  private buffer = '';
  readonly packets: unknown[] = [];

  push(text: string): void {
    this.buffer += text;
    for (;;) {
      const hash = this.buffer.indexOf('#');
      const end = hash + 1 + Number(this.buffer.slice(0, hash));
      if (hash <= 0 || this.buffer.length < end) {
        return;
      }
      this.packets.push(JSON.parse(this.buffer.slice(hash + 1, end)));
      this.buffer = this.buffer.slice(end);
    }
  }
}

interface Request {
  readonly pattern: string;
  readonly data: { manager: string; origin: string; payload: unknown };
  readonly id: string;
}

/** One connection the raw peer accepted. */
interface Peer {
  readonly socket: Socket;
  readonly requests: Request[];
  closed: boolean;
}

/**
 * A loopback TCP peer that is not Nest: it records the connections and the frames it gets, and
 * answers each with what `onRequest` writes (nothing by default).
 */
class RawPeer {
  readonly peers: Peer[] = [];
  readonly changes = new Condition();
  onRequest: (peer: Peer, request: Request) => void = () => undefined;
  private readonly server: Server;

  private constructor() {
    this.server = createServer((socket) => {
      const peer: Peer = { socket, requests: [], closed: false };
      this.peers.push(peer);
      const frames = new FrameCounter();
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => {
        const before = frames.packets.length;
        frames.push(text);
        for (const packet of frames.packets.slice(before)) {
          peer.requests.push(packet as Request);
          this.changes.changed();
          this.onRequest(peer, packet as Request);
        }
      });
      socket.on('error', () => undefined); // a reset shows as 'close'
      socket.on('close', () => {
        peer.closed = true;
        this.changes.changed();
      });
      this.changes.changed();
    });
  }

  static async start(): Promise<RawPeer> {
    const peer = new RawPeer();
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get requests(): Request[] {
    return this.peers.flatMap((peer) => peer.requests);
  }

  connections(count: number): Promise<void> {
    return this.changes.until(`${count} connection(s)`, () => this.peers.length >= count);
  }

  requestCount(count: number): Promise<void> {
    return this.changes.until(`${count} request(s)`, () => this.requests.length >= count);
  }

  closedConnection(index: number): Promise<void> {
    return this.changes.until(
      `connection ${index} to close`,
      () => this.peers[index]?.closed === true,
    );
  }

  async close(): Promise<void> {
    for (const { socket } of this.peers) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The reply frame Nest's ServerTCP sends for an accepted request. */
const replyTo = (request: Request, response: unknown = { accepted: true }) =>
  encodeFrame({ id: request.id, response, isDisposed: true });

/**
 * A TCP proxy to `port` that counts the connections through it and the frames each way, to
 * check what one heartbeat costs on the wire.
 */
class CountingProxy {
  connections = 0;
  readonly up = new FrameCounter();
  readonly down = new FrameCounter();
  private readonly sockets: Socket[] = [];
  private readonly server: Server;

  private constructor(port: number) {
    this.server = createServer((client) => {
      this.connections += 1;
      const upstream = connect({ host: '127.0.0.1', port });
      this.sockets.push(client, upstream);
      for (const socket of [client, upstream]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (chunk: Buffer) => {
        this.up.push(chunk.toString('utf8'));
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        this.down.push(chunk.toString('utf8'));
        client.write(chunk);
      });
    });
  }

  static async start(port: number): Promise<CountingProxy> {
    const proxy = new CountingProxy(port);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

class RecordingLogger implements HeartbeatLogger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];

  warn(message: string): void {
    this.warnings.push(message);
  }

  error(message: string): void {
    this.errors.push(message);
  }
}

/** The message of the error `fail` throws. */
function messageOf(fail: () => unknown): string {
  try {
    fail();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

/** Tracks whether a promise has settled yet, without letting a rejection go unhandled. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const REQUEST_TIMEOUT = 1_000;

// ---------------------------------------------------------------------------------------------
// Fixture state: everything a test opens is closed after it
// ---------------------------------------------------------------------------------------------

let clock: ManualClock;
let logger: RecordingLogger;
let targets: TcpHeartbeatTarget[];
let closers: Array<() => Promise<void> | void>;

beforeEach(() => {
  clock = new ManualClock();
  logger = new RecordingLogger();
  targets = [];
  closers = [];
});

afterEach(async () => {
  for (const target of targets) {
    target.dispose();
  }
  for (const close of closers.toReversed()) {
    await close();
  }
  jest.restoreAllMocks();
});

function targetAt(
  port: number,
  settings: Partial<Omit<TcpHeartbeatTargetSettings, 'limits'>> & {
    limits?: HeartbeatClientLimits;
  } = {},
): TcpHeartbeatTarget {
  const target = new TcpHeartbeatTarget({
    host: '127.0.0.1',
    port,
    remoteManager: 'supervisors',
    requestTimeout: REQUEST_TIMEOUT,
    clock,
    scheduler: clock,
    logger,
    ...settings,
    limits: { ...HEARTBEAT_FRAME_LIMITS, ...settings.limits },
  });
  targets.push(target);
  return target;
}

async function rawPeer(): Promise<RawPeer> {
  const peer = await RawPeer.start();
  closers.push(() => peer.close());
  return peer;
}

/** A Nest TCP microservice whose "supervisors" receiver (tm-1) answers rm-1 in its replies. */
async function receiverApp(tlsOptions?: object): Promise<RunningApp & { reported: unknown[][] }> {
  const reported: unknown[][] = [];
  @Injectable()
  class Supervisor {
    @ProvideHeartbeatPayload('supervisors')
    provide(id: string): unknown {
      return { slotsFor: id, note: 'ä€🫀' };
    }

    @OnHeartbeatPayload('supervisors')
    onPayload(id: string, payload: unknown): void {
      reported.push([id, payload]);
    }
  }
  const appClock = new ManualClock();
  const app = await startApp(
    {
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'tm-1',
          managers: { supervisors: 'receiver' },
          clock: appClock,
          scheduler: appClock,
        }),
      ],
      providers: [Supervisor],
    },
    tlsOptions ? { tlsOptions } : {},
  );
  closers.push(() => app.close());
  app.get(HeartbeatRegistry).getManager('supervisors').monitorTarget('rm-1');
  return Object.assign(app, { reported });
}

/** Records every chunk the targets' parsers are given, and lets a test wait for the next. */
function watchChunks() {
  const chunks: Buffer[] = [];
  const changes = new Condition();
  const push = FrameParser.prototype.push;
  jest.spyOn(FrameParser.prototype, 'push').mockImplementation(function (
    this: FrameParser,
    chunk: Buffer,
  ) {
    chunks.push(Buffer.from(chunk));
    try {
      push.call(this, chunk);
    } finally {
      changes.changed();
    }
  });
  return {
    chunks,
    chunk: (count: number) => changes.until(`chunk ${count}`, () => chunks.length >= count),
  };
}

const ANSWER = { origin: 'tm-1', payload: { slotsFor: 'rm-1', note: 'ä€🫀' } };

// ---------------------------------------------------------------------------------------------
// Against a real Nest TCP microservice
// ---------------------------------------------------------------------------------------------

describe('TcpHeartbeatTarget against a Nest TCP microservice with HeartbeatModule', () => {
  it('one request gets one reply that carries the answer', async () => {
    const app = await receiverApp();
    const target = targetAt(app.port);

    await expect(target.requestHeartbeat('rm-1', { jobs: 2 })).resolves.toEqual(ANSWER);

    expect(app.reported).toEqual([['rm-1', { jobs: 2 }]]);
    expect(
      app.get(HeartbeatRegistry).getManager('supervisors').getLastHeartbeatFrom('rm-1'),
    ).toBeGreaterThan(0);
  });

  it('costs exactly 2 frames (request and reply) on 1 connection per heartbeat', async () => {
    const app = await receiverApp();
    const proxy = await CountingProxy.start(app.port);
    closers.push(() => proxy.close());
    const target = targetAt(proxy.port);

    for (let heartbeat = 1; heartbeat <= 3; heartbeat += 1) {
      await expect(target.requestHeartbeat('rm-1', heartbeat)).resolves.toEqual(ANSWER);
      expect(proxy.up.packets).toHaveLength(heartbeat);
      expect(proxy.down.packets).toHaveLength(heartbeat);
    }

    expect(proxy.connections).toBe(1);
    expect(proxy.up.packets).toEqual(
      [1, 2, 3].map((payload) => ({
        pattern: HEARTBEAT_REQUEST_PATTERN,
        data: { manager: 'supervisors', origin: 'rm-1', payload },
        id: expect.any(String),
      })),
    );
    expect(proxy.down.packets).toEqual(
      (proxy.up.packets as Request[]).map(({ id }) => ({
        id,
        response: { accepted: true, heartbeat: ANSWER },
        isDisposed: true,
      })),
    );
  });

  it('gets a plain acknowledgement (no answer) for an origin the receiver does not monitor', async () => {
    const app = await receiverApp();
    await expect(targetAt(app.port).requestHeartbeat('stranger', 1)).resolves.toBeUndefined();
    expect(app.reported).toEqual([]);
  });

  it('delivers a separate heartbeat ("receive"), resolving with nothing', async () => {
    const app = await receiverApp();
    await expect(targetAt(app.port).receiveHeartbeat('rm-1', 'hello')).resolves.toBeUndefined();
    expect(app.reported).toEqual([['rm-1', 'hello']]);
  });

  it("rejects with HeartbeatRejectedError, keeping the connection, when the endpoint's ingress refuses", async () => {
    const app = await receiverApp();
    const proxy = await CountingProxy.start(app.port);
    closers.push(() => proxy.close());
    const target = targetAt(proxy.port, { remoteManager: 'jobmasters' });

    const error = await rejectionOf(target.requestHeartbeat('rm-1', null));

    expect(error).toBeInstanceOf(HeartbeatRejectedError);
    expect((error as Error).message).toBe('unknown heartbeat manager "jobmasters" (from rm-1)');
    expect(RecipientUnreachableError.matches(error)).toBe(false);
    await expect(rejectionOf(target.receiveHeartbeat('rm-1', null))).resolves.toBeInstanceOf(
      HeartbeatRejectedError,
    );
    expect(proxy.connections).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Against a raw loopback peer
// ---------------------------------------------------------------------------------------------

describe('TcpHeartbeatTarget on the wire', () => {
  it('writes Nest TCP request frames: pattern, { manager, origin, payload } and a fresh string id', async () => {
    const peer = await rawPeer();
    peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));
    const target = targetAt(peer.port);

    await target.requestHeartbeat('rm-1', { note: 'a "quoted"\nline ä🫀' });
    await target.receiveHeartbeat('rm-1', null);
    await target.requestHeartbeat('rm "2"', undefined as unknown as null);
    await target.requestHeartbeat('rm-1', 0);

    expect(peer.requests).toEqual([
      {
        pattern: HEARTBEAT_REQUEST_PATTERN,
        data: { manager: 'supervisors', origin: 'rm-1', payload: { note: 'a "quoted"\nline ä🫀' } },
        id: expect.any(String),
      },
      {
        pattern: HEARTBEAT_RECEIVE_PATTERN,
        data: { manager: 'supervisors', origin: 'rm-1', payload: null },
        id: expect.any(String),
      },
      {
        pattern: HEARTBEAT_REQUEST_PATTERN,
        data: { manager: 'supervisors', origin: 'rm "2"', payload: null },
        id: expect.any(String),
      },
      {
        pattern: HEARTBEAT_REQUEST_PATTERN,
        data: { manager: 'supervisors', origin: 'rm-1', payload: 0 },
        id: expect.any(String),
      },
    ]);
    expect(new Set(peer.requests.map(({ id }) => id)).size).toBe(4);
  });

  it('connects on first use, not when made, and reuses the connection', async () => {
    const peer = await rawPeer();
    peer.onRequest = (connection, request) =>
      connection.socket.write(replyTo(request, { accepted: true, heartbeat: ANSWER }));
    targetAt(peer.port); // made, never used
    const target = targetAt(peer.port);

    await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
    await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
    await expect(target.receiveHeartbeat('rm-1', null)).resolves.toBeUndefined();

    expect(peer.peers).toHaveLength(1);
    expect(peer.peers[0].requests).toHaveLength(3);
  });

  it('turns on TCP keepalive and disables Nagle on its connection', async () => {
    const keepAlive = jest.spyOn(Socket.prototype, 'setKeepAlive');
    const noDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    const peer = await rawPeer();
    peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));

    await targetAt(peer.port).requestHeartbeat('rm-1', null);

    expect(keepAlive).toHaveBeenCalledWith(true, expect.any(Number));
    expect(noDelay).toHaveBeenCalledWith(true);
  });

  describe('an unreachable recipient', () => {
    it('fails with RecipientUnreachableError (ECONNREFUSED) where nothing listens, and tries again on the next RPC', async () => {
      const port = await freePort();
      const target = targetAt(port);

      for (const rpc of [
        () => target.requestHeartbeat('rm-1', null),
        () => target.receiveHeartbeat('rm-1', null),
      ]) {
        const error = await rejectionOf(rpc());
        expect(error).toBeInstanceOf(RecipientUnreachableError);
        expect(error).toMatchObject({
          recipient: `127.0.0.1:${port}`,
          message: `Heartbeat recipient 127.0.0.1:${port} is unreachable: ECONNREFUSED`,
          cause: expect.objectContaining({ code: 'ECONNREFUSED' }),
        });
      }
      expect(logger.warnings).toEqual([]);
    });

    it('fails with RecipientUnreachableError (ECONNRESET) when the peer resets the connection, and reconnects on the next RPC', async () => {
      const peer = await rawPeer();
      peer.onRequest = (connection, request) => {
        if (peer.peers.length === 1) {
          connection.socket.resetAndDestroy();
        } else {
          connection.socket.write(replyTo(request, { accepted: true, heartbeat: ANSWER }));
        }
      };
      const target = targetAt(peer.port);

      const error = await rejectionOf(target.requestHeartbeat('rm-1', null));
      expect(error).toBeInstanceOf(RecipientUnreachableError);
      expect((error as Error).message).toBe(
        `Heartbeat recipient 127.0.0.1:${peer.port} is unreachable: ECONNRESET`,
      );

      await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
      expect(peer.peers).toHaveLength(2);
    });

    it('fails the RPCs in flight with RecipientUnreachableError when the peer closes the connection', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      const first = target.requestHeartbeat('rm-1', null);
      const second = target.receiveHeartbeat('rm-1', null);
      await peer.requestCount(2);

      peer.peers[0].socket.end();

      for (const rpc of [first, second]) {
        const error = await rejectionOf(rpc);
        expect(error).toBeInstanceOf(RecipientUnreachableError);
        expect((error as Error).message).toBe(
          `Heartbeat recipient 127.0.0.1:${peer.port} is unreachable: Connection closed`,
        );
      }

      peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));
      await expect(target.requestHeartbeat('rm-1', null)).resolves.toBeUndefined();
      expect(peer.peers).toHaveLength(2);
    });
  });

  describe('request timeout (on the injected clock)', () => {
    it('fails a silent RPC with HeartbeatRequestTimeoutError (not unreachable) and ends the connection; the next RPC opens a fresh one', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      const rpc = track(target.requestHeartbeat('rm-1', null));
      await peer.requestCount(1);

      clock.advance(REQUEST_TIMEOUT - 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(rpc.settled).toBe(false);

      clock.advance(1);
      const error = await rejectionOf(rpc.promise);
      expect(error).toBeInstanceOf(HeartbeatRequestTimeoutError);
      expect(error).toMatchObject({
        name: 'HeartbeatRequestTimeoutError',
        message: `heartbeat target 127.0.0.1:${peer.port}: a request got no reply within ${REQUEST_TIMEOUT} ms; its connection was ended`,
      });
      expect(error).not.toBeInstanceOf(RecipientUnreachableError);
      expect(RecipientUnreachableError.matches(error)).toBe(false);
      await peer.closedConnection(0);

      peer.onRequest = (connection, request) =>
        connection.socket.write(replyTo(request, { accepted: true, heartbeat: ANSWER }));
      await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
      expect(peer.peers).toHaveLength(2);
      expect(peer.peers[1].requests).toHaveLength(1);
      expect(logger.warnings).toEqual([]);
    });

    it('keeps one scheduled task per target, re-armed for the oldest RPC still waiting', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      expect(clock.pendingTasks).toBe(0);

      const first = target.requestHeartbeat('rm-1', 'first');
      clock.advance(300);
      const second = track(target.requestHeartbeat('rm-1', 'second'));
      const third = track(target.requestHeartbeat('rm-1', 'third'));
      expect(clock.pendingTasks).toBe(1);
      await peer.requestCount(3);

      // Only the first is answered; the second and third are due 300 ms after it.
      const [oldest] = peer.requests;
      peer.peers[0].socket.write(replyTo(oldest, { accepted: true, heartbeat: ANSWER }));
      await expect(first).resolves.toEqual(ANSWER);

      clock.advance(REQUEST_TIMEOUT - 300); // the first RPC's deadline: nothing else is due
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(second.settled).toBe(false);
      expect(clock.pendingTasks).toBe(1);

      clock.advance(299);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(second.settled).toBe(false);
      clock.advance(1);
      await expect(rejectionOf(second.promise)).resolves.toBeInstanceOf(
        HeartbeatRequestTimeoutError,
      );
      // The connection is ended: every RPC on it fails, none is left waiting.
      await expect(rejectionOf(third.promise)).resolves.toBeInstanceOf(
        HeartbeatRequestTimeoutError,
      );
      expect(clock.pendingTasks).toBe(0);
    });

    it('schedules nothing once every RPC is answered', async () => {
      const peer = await rawPeer();
      peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));
      const target = targetAt(peer.port);

      await target.requestHeartbeat('rm-1', null);
      clock.advance(REQUEST_TIMEOUT);

      expect(clock.pendingTasks).toBe(0);
      expect(peer.peers[0].closed).toBe(false);
    });
  });

  describe('reading replies', () => {
    it('takes a reply that arrives one byte at a time, a multi-byte character split across chunks included', async () => {
      const watched = watchChunks();
      const peer = await rawPeer();
      const reply = new Promise<Buffer>((resolve) => {
        peer.onRequest = (_connection, request) =>
          resolve(Buffer.from(replyTo(request, { accepted: true, heartbeat: ANSWER })));
      });
      const rpc = track(targetAt(peer.port).requestHeartbeat('rm-1', null));
      const bytes = await reply;
      const socket = peer.peers[0].socket;
      socket.setNoDelay(true);

      for (let index = 0; index < bytes.length; index += 1) {
        expect(rpc.settled).toBe(false);
        socket.write(bytes.subarray(index, index + 1));
        await watched.chunk(index + 1); // the next byte goes only once this one was read
      }

      await expect(rpc.promise).resolves.toEqual(ANSWER);
      expect(watched.chunks).toHaveLength(bytes.length);
      expect(watched.chunks.every((chunk) => chunk.length === 1)).toBe(true);
      expect(bytes.length).toBeGreaterThan(Buffer.from(ANSWER.payload.note).length); // multi-byte
      expect(logger.warnings).toEqual([]);
    });

    it('takes two replies that arrive in one chunk, each for its own RPC', async () => {
      const watched = watchChunks();
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      const first = target.requestHeartbeat('rm-1', null);
      const second = target.requestHeartbeat('rm-1', null);
      await peer.requestCount(2);

      const [a, b] = peer.requests;
      const both = Buffer.from(
        replyTo(b, { accepted: true, heartbeat: { origin: 'tm-1', payload: 'b' } }) +
          replyTo(a, { accepted: true, heartbeat: { origin: 'tm-1', payload: 'a' } }),
      );
      peer.peers[0].socket.write(both);

      await expect(first).resolves.toEqual({ origin: 'tm-1', payload: 'a' });
      await expect(second).resolves.toEqual({ origin: 'tm-1', payload: 'b' });
      expect(watched.chunks).toContainEqual(both);
    });

    it('ignores a reply for an id it is not waiting for', async () => {
      const peer = await rawPeer();
      peer.onRequest = (connection, request) =>
        connection.socket.write(
          replyTo(
            { ...request, id: `${request.id}0` },
            {
              accepted: true,
              heartbeat: { origin: 'impostor', payload: 1 },
            },
          ) +
            replyTo({ ...request, id: 'never-sent' }) +
            replyTo(request, { accepted: true, heartbeat: ANSWER }),
        );
      const target = targetAt(peer.port);

      await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
      await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);

      expect(peer.peers).toHaveLength(1);
      expect(logger.warnings).toEqual([]);
    });

    it.each<[string, unknown, string]>([
      [
        "Nest's RpcException reply",
        { status: 'error', message: 'unknown heartbeat manager "x" (from rm-1)' },
        'unknown heartbeat manager "x" (from rm-1)',
      ],
      [
        'a string error',
        'There is no matching message handler defined in the remote service.',
        'There is no matching message handler defined in the remote service.',
      ],
      ['an error without message', { code: 42 }, '{"code":42}'],
    ])(
      'fails an RPC answered with an error reply (%s) with HeartbeatRejectedError, keeping the connection',
      async (_case, err, message) => {
        const peer = await rawPeer();
        peer.onRequest = (connection, request) =>
          connection.socket.write(
            peer.requests.length === 1
              ? encodeFrame({ id: request.id, err, isDisposed: true })
              : replyTo(request),
          );
        const target = targetAt(peer.port);

        const error = await rejectionOf(target.requestHeartbeat('rm-1', null));

        expect(error).toBeInstanceOf(HeartbeatRejectedError);
        expect(error).toMatchObject({ name: 'HeartbeatRejectedError', message });
        expect(RecipientUnreachableError.matches(error)).toBe(false);
        await expect(target.requestHeartbeat('rm-1', null)).resolves.toBeUndefined();
        expect(peer.peers).toHaveLength(1);
      },
    );
  });

  describe('a peer that does not speak the wire format', () => {
    it('ends the connection on a reply frame over maxBufferSize, failing its RPCs (not unreachable), with one warning', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port, { limits: { maxBufferSize: 100 } });
      const first = target.requestHeartbeat('rm-1', null);
      const second = target.requestHeartbeat('rm-1', null);
      await peer.requestCount(2);

      const [a, b] = peer.requests;
      const big = { accepted: true, heartbeat: { origin: 'tm-1', payload: 'x'.repeat(150) } };
      const socket = peer.peers[0].socket;
      socket.write(replyTo(a, big) + replyTo(b, big));
      socket.write(replyTo(b, big));

      for (const rpc of [first, second]) {
        const error = await rejectionOf(rpc);
        expect(error).toBeInstanceOf(HeartbeatReplyError);
        expect((error as Error).message).toMatch(/over the limit of 100 \(maxBufferSize\)$/);
        expect(RecipientUnreachableError.matches(error)).toBe(false);
      }
      await peer.closedConnection(0);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(
        new RegExp(
          `^Closed the heartbeat connection to 127\\.0\\.0\\.1:${peer.port}: a frame of \\d+ characters is over the limit of 100 \\(maxBufferSize\\)$`,
        ),
      );
    });

    it('takes a reply frame of exactly maxBufferSize characters', async () => {
      const peer = await rawPeer();
      let limit = 0;
      peer.onRequest = (connection, request) => {
        const reply = replyTo(request, { accepted: true, heartbeat: ANSWER });
        limit = reply.length - reply.indexOf('#') - 1;
        connection.socket.write(reply);
      };
      // The ids are "1", "2", ...: the reply to the first RPC of a fresh target is known in advance.
      const probe = targetAt(peer.port);
      await probe.requestHeartbeat('rm-1', null);
      const target = targetAt(peer.port, { limits: { maxBufferSize: limit } });

      await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual(ANSWER);
      expect(logger.warnings).toEqual([]);
    });

    it.each<[string, (request: Request) => string, string]>([
      [
        'bytes that are not Nest framing',
        () => 'HTTP/1.1 400 Bad Request\r\n\r\n',
        'a frame must start with its length and "#"',
      ],
      ['a corrupt length prefix', () => 'x1#{}', 'corrupt frame length "x1"'],
      ['a frame that is not JSON', () => '5#hello', messageOf(() => JSON.parse('hello'))],
      [
        'a frame that is not an object',
        () => '2#42',
        'a reply must be an object { id, response | err }',
      ],
      [
        'a reply without id',
        () => encodeFrame({ response: { accepted: true } }),
        'a reply must carry the string id of its request',
      ],
      [
        'a reply whose answer is malformed',
        (request) => replyTo(request, { accepted: true, heartbeat: { origin: '' } }),
        'the reply\'s "heartbeat.origin" must be a string of 1 to 256 characters',
      ],
    ])(
      'ends the connection on %s, failing its RPCs (not unreachable), with one warning; the next RPC reconnects',
      async (_case, garbage, reason) => {
        const peer = await rawPeer();
        peer.onRequest = (connection, request) => {
          if (peer.peers.length === 1 && peer.requests.length === 2) {
            connection.socket.write(garbage(request));
          } else if (peer.peers.length > 1) {
            connection.socket.write(replyTo(request));
          }
        };
        const target = targetAt(peer.port);
        const rpcs = [target.requestHeartbeat('rm-1', null), target.requestHeartbeat('rm-1', null)];

        for (const rpc of rpcs) {
          const error = await rejectionOf(rpc);
          expect(error).toBeInstanceOf(HeartbeatReplyError);
          expect((error as Error).message).toContain(reason);
          expect(RecipientUnreachableError.matches(error)).toBe(false);
        }
        await peer.closedConnection(0);
        // Said once, with the peer's text cut short and escaped (its quotes too).
        expect(logger.warnings).toEqual([
          `Closed the heartbeat connection to 127.0.0.1:${peer.port}: ${JSON.stringify(reason).slice(1, -1)}`,
        ]);

        await expect(target.requestHeartbeat('rm-1', null)).resolves.toBeUndefined();
        expect(peer.peers).toHaveLength(2);
        expect(logger.warnings).toHaveLength(1);
      },
    );

    it('escapes the control characters of what the peer sent in its warning', async () => {
      const peer = await rawPeer();
      // Not JSON: the parser's message quotes the text, a terminal escape and a line break included.
      const text = `\u001b[2J\r\nFAKE LOG LINE${'!'.repeat(500)}`;
      peer.onRequest = (connection) => connection.socket.write(`${text.length}#${text}`);
      const target = targetAt(peer.port);

      await expect(rejectionOf(target.requestHeartbeat('rm-1', null))).resolves.toBeInstanceOf(
        HeartbeatReplyError,
      );

      const prefix = `Closed the heartbeat connection to 127.0.0.1:${peer.port}: `;
      expect(logger.warnings).toHaveLength(1);
      const [warning] = logger.warnings;
      expect(warning.startsWith(prefix)).toBe(true);
      expect([...warning].filter((char) => char.charCodeAt(0) < 0x20)).toEqual([]);
      const reason = JSON.parse(`"${warning.slice(prefix.length)}"`) as string;
      expect(reason).toBe(messageOf(() => JSON.parse(text)).slice(0, 200));
      expect(reason).toContain('\u001b[2J\r\nFAKE');
    });

    it('drops the connection when more than maxSendBufferSize bytes would wait unsent (slow, not unreachable)', async () => {
      const peer = await rawPeer();
      peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));
      const target = targetAt(peer.port, { limits: { maxSendBufferSize: 1_024 } });

      const error = await rejectionOf(target.requestHeartbeat('rm-1', 'x'.repeat(2_000)));

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(
        `heartbeat target 127.0.0.1:${peer.port}: over 1024 bytes unsent (maxSendBufferSize)`,
      );
      expect(RecipientUnreachableError.matches(error)).toBe(false);
      expect(clock.pendingTasks).toBe(0);
      // A heartbeat of a fitting size goes out on a new connection.
      await expect(target.requestHeartbeat('rm-1', 'small')).resolves.toBeUndefined();
      expect(peer.requests.map(({ data }) => data.payload)).toEqual(['small']);
    });
  });

  describe('payloads JSON cannot carry', () => {
    it.each<[string, () => unknown]>([
      [
        'a cycle',
        () => {
          const payload: Record<string, unknown> = { name: 'loop' };
          payload.self = payload;
          return payload;
        },
      ],
      ['a BigInt', () => ({ big: 10n })],
    ])('rejects a payload with %s without writing anything', async (_case, payload) => {
      const peer = await rawPeer();
      peer.onRequest = (connection, request) => connection.socket.write(replyTo(request));
      const target = targetAt(peer.port);

      await expect(rejectionOf(target.requestHeartbeat('rm-1', payload()))).resolves.toBeInstanceOf(
        TypeError,
      );
      await expect(rejectionOf(target.receiveHeartbeat('rm-1', payload()))).resolves.toBeInstanceOf(
        TypeError,
      );
      expect(clock.pendingTasks).toBe(0);

      // Nothing went out for them: the first frame (and connection) the peer sees is the next RPC's.
      await target.requestHeartbeat('rm-1', 'fine');
      expect(peer.peers).toHaveLength(1);
      expect(peer.requests.map(({ data }) => data.payload)).toEqual(['fine']);
    });
  });

  describe('dispose', () => {
    it('ends the connection, fails the RPCs in flight (not unreachable), and rejects later calls without connecting', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      const inFlight = target.requestHeartbeat('rm-1', null);
      await peer.requestCount(1);

      target.dispose();

      const error = await rejectionOf(inFlight);
      expect((error as Error).message).toBe(`heartbeat target 127.0.0.1:${peer.port} disposed`);
      expect(RecipientUnreachableError.matches(error)).toBe(false);
      await peer.closedConnection(0);
      expect(clock.pendingTasks).toBe(0);

      for (const rpc of [
        () => target.requestHeartbeat('rm-1', null),
        () => target.receiveHeartbeat('rm-1', null),
      ]) {
        const later = await rejectionOf(rpc());
        expect((later as Error).message).toBe(
          `heartbeat target 127.0.0.1:${peer.port} is disposed`,
        );
      }
      // A second dispose is harmless.
      target.dispose();
      expect(peer.peers).toHaveLength(1);
    });

    it('is harmless on a target that never connected', async () => {
      const peer = await rawPeer();
      const target = targetAt(peer.port);
      target.dispose();
      await expect(rejectionOf(target.requestHeartbeat('rm-1', null))).resolves.toBeInstanceOf(
        Error,
      );
      expect(peer.peers).toHaveLength(0);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

const pem = (files: TlsFiles) => ({
  ca: readFileSync(files.ca),
  cert: readFileSync(files.cert),
  key: readFileSync(files.key),
});

/** A target over TLS, with the options checked as `createTcpTarget` checks them. */
const tlsTarget = (port: number, options: ConnectionOptions) =>
  targetAt(port, { tlsOptions: resolveTargetTlsOptions(options, `127.0.0.1:${port}`) });

describe('TcpHeartbeatTarget over mutual TLS', () => {
  let certificates: TestCertificates;
  let serverFiles: TlsFiles;
  let clientFiles: TlsFiles;
  let rogueFiles: TlsFiles;

  beforeAll(() => {
    certificates = new TestCertificates();
    const ca = certificates.authority('target-ca');
    serverFiles = certificates.issue(ca, 'target-server');
    clientFiles = certificates.issue(ca, 'target-client');
    // Trusts the right CA, but its own certificate comes from another one.
    rogueFiles = certificates.issue(certificates.authority('target-rogue-ca'), 'target-rogue', ca);
  });

  afterAll(() => certificates.remove());

  const mutualServer = () => ({ ...pem(serverFiles), requestCert: true, rejectUnauthorized: true });

  it('makes one round trip with a certificate from the CA the endpoint trusts', async () => {
    const app = await receiverApp(mutualServer());
    const target = tlsTarget(app.port, pem(clientFiles));

    await expect(target.requestHeartbeat('rm-1', { jobs: 1 })).resolves.toEqual(ANSWER);
    await expect(target.requestHeartbeat('rm-1', { jobs: 2 })).resolves.toEqual(ANSWER);

    expect(app.reported).toEqual([
      ['rm-1', { jobs: 1 }],
      ['rm-1', { jobs: 2 }],
    ]);
    expect(await app.connections()).toBe(1);
  });

  it('is cut off, as unreachable, with a certificate from a rogue CA', async () => {
    const app = await receiverApp(mutualServer());
    const target = tlsTarget(app.port, pem(rogueFiles));

    const error = await rejectionOf(target.requestHeartbeat('rm-1', null));
    expect(error).toBeInstanceOf(RecipientUnreachableError);
    expect(app.reported).toEqual([]);
  });

  it('fails the handshake with an endpoint whose certificate is not from the CA it trusts', async () => {
    const app = await receiverApp(mutualServer());
    const otherCa = certificates.issue(certificates.authority('target-other-ca'), 'target-other');
    const target = tlsTarget(app.port, { ...pem(clientFiles), ca: readFileSync(otherCa.ca) });

    const error = await rejectionOf(target.requestHeartbeat('rm-1', null));

    // Node's verification error as it is: not one of the codes counted as unreachable.
    expect(error).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(app.reported).toEqual([]);
  });
});

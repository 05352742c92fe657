import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createCheckedJsonSocket,
  HEARTBEAT_FRAME_LIMITS,
  HEARTBEAT_REQUEST_PATTERN,
  HeartbeatModule,
} from 'nestjs-heartbeat';
import { AppPool, type RunningApp } from './fixtures/heartbeat-apps.js';
import { exchangeRaw, frame, framesOf } from './fixtures/raw-client.js';

const LIMITS = { maxBufferSize: 4_096, incompleteMessageTimeout: 300 };
/** Enough for the incomplete-frame timeout and the linger, with a margin for a loaded machine. */
const WAIT_MS = 3_000;

const heartbeatRequest = (id: string) =>
  frame({
    pattern: HEARTBEAT_REQUEST_PATTERN,
    data: { manager: 'supervisor', origin: 'rm', payload: null },
    id,
  });

describe('createCheckedJsonSocket: a heartbeat endpoint that checks every frame', () => {
  const apps = new AppPool();
  let app: RunningApp;
  let warnings: string[];
  let errors: string[];

  beforeEach(async () => {
    warnings = [];
    errors = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
      errors.push(String(message));
    });
    app = await apps.start(
      {
        imports: [
          HeartbeatModule.forRoot({ resourceId: 'tm-1', managers: { supervisor: 'receiver' } }),
        ],
      },
      { socketClass: createCheckedJsonSocket({ limits: LIMITS, patterns: ['app.ping'] }) },
    );
  });

  afterEach(async () => {
    await apps.closeAll();
    jest.restoreAllMocks();
  });

  const closedLines = (localPort: number) =>
    warnings.filter((line) =>
      line.startsWith(`Closed the connection from 127.0.0.1:${localPort}: `),
    );

  it('takes a peer that resets its connection (a dying peer) quietly, and serves the next one', async () => {
    const socket = connect(app.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(heartbeatRequest('answered'));
    await once(socket, 'data');
    socket.write(heartbeatRequest('cut-short').slice(0, 10));
    await sleep(100);
    socket.resetAndDestroy();
    await once(socket, 'close');
    await sleep(100);

    const exchange = await exchangeRaw(app.port, [heartbeatRequest('after-reset')], 500);
    expect(framesOf(exchange.received)).toEqual([
      { id: 'after-reset', response: { accepted: true }, isDisposed: true },
    ]);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('recommends limits that fit heartbeats', () => {
    expect(HEARTBEAT_FRAME_LIMITS).toEqual({
      maxBufferSize: 65_536,
      incompleteMessageTimeout: 5_000,
      maxSendBufferSize: 262_144,
    });
  });

  it('answers a well-formed heartbeat, also after other connections were rejected', async () => {
    await exchangeRaw(app.port, ['not a frame#'], WAIT_MS);
    const exchange = await exchangeRaw(app.port, [heartbeatRequest('ok-1')], 500);
    expect(framesOf(exchange.received)).toEqual([
      { id: 'ok-1', response: { accepted: true }, isDisposed: true },
    ]);
  });

  it('closes a connection whose frame exceeds maxBufferSize, logs it once and reads no more of it', async () => {
    const exchange = await exchangeRaw(
      app.port,
      ['99999#', 'x'.repeat(LIMITS.maxBufferSize + 1), 'y'.repeat(20 * LIMITS.maxBufferSize)],
      WAIT_MS,
    );
    expect(exchange.closed).toBe(true);
    expect(closedLines(exchange.localPort)).toEqual([
      expect.stringMatching(/The packet length \(\d+\) exceeds the maximum allowed length$/),
    ]);
  });

  it('closes a connection that stops in the middle of a frame after incompleteMessageTimeout', async () => {
    const started = Date.now();
    const exchange = await exchangeRaw(app.port, [heartbeatRequest('cut').slice(0, 20)], WAIT_MS);
    expect(exchange.closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(LIMITS.incompleteMessageTimeout - 50);
    expect(closedLines(exchange.localPort)).toEqual([
      expect.stringContaining('stopped sending in the middle of a packet'),
    ]);
  });

  it.each([
    [
      'a non-numeric length prefix',
      'abc#{}',
      'Corrupted length value \\"abc\\" supplied in a packet',
    ],
    ['invalid JSON', '3#{x}', 'invalid JSON in a frame of 3 characters'],
    ['a message that is not an object', frame('hello'), 'bad message: a message must be an object'],
    [
      'a message without a pattern',
      frame({ data: 1, id: 'x' }),
      'bad message: pattern must be a string',
    ],
  ])('closes the connection on %s, with the reason logged', async (_case, bytes, reason) => {
    const exchange = await exchangeRaw(app.port, [bytes], WAIT_MS);
    expect(exchange.closed).toBe(true);
    expect(closedLines(exchange.localPort)).toEqual([expect.stringContaining(reason)]);
  });

  it.each([
    [
      'an unknown pattern',
      { pattern: 'app.drop', data: {}, id: 'u-1' },
      'unknown pattern \\"app.drop\\"',
    ],
    [
      'unknown fields',
      { pattern: 'app.ping', data: {}, id: 'u-1', junk: 1 },
      'unknown field(s) \\"junk\\"',
    ],
  ])(
    'answers %s with an error reply naming it, then closes the connection',
    async (_case, packet, reason) => {
      const exchange = await exchangeRaw(app.port, [frame(packet)], WAIT_MS);
      expect(framesOf(exchange.received)).toEqual([
        {
          id: 'u-1',
          err: { status: 'error', message: `bad message: ${reason.replaceAll('\\"', '"')}` },
          isDisposed: true,
        },
      ]);
      expect(exchange.closed).toBe(true);
      expect(closedLines(exchange.localPort)).toEqual([expect.stringContaining(reason)]);
    },
  );
});

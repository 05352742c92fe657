import { Injectable } from '@nestjs/common';
import { ClientTCP, JsonSocket } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startApp, type RunningApp } from '../../../../test/fixtures/heartbeat-apps.js';
import { ManualClock } from '../core/manual-clock.js';
import { ProvideHeartbeatPayload } from '../nest/decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from '../nest/heartbeat.module.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import { closeTcpClient } from './close-tcp-client.js';
import {
  answerOf,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  heartbeatFrameLength,
  HeartbeatReplyError,
  MAX_NAME_LENGTH,
  parseHeartbeatMessage,
  type HeartbeatMessage,
} from './heartbeat-wire.js';

/** Length of the frame (`<length>#<json>`) that carries `packet`. */
const lengthOf = (packet: unknown) => {
  const json = JSON.stringify(packet);
  return `${json.length}#`.length + json.length;
};

/** The packet id in a captured frame. */
const idOf = (frame: string) =>
  (JSON.parse(frame.slice(frame.indexOf('#') + 1)) as { id: string }).id;

/** What a Nest `JsonSocket` with the given frame limit made of one RPC sent by Nest's `ClientTCP`. */
interface Delivery {
  /** The first frame as it arrived, `<length>#<json>`. */
  readonly frame: string;
  /** Whether the receiving socket took the frame as a message or rejected it. */
  readonly outcome: 'message' | 'rejected';
}

async function deliver(
  pattern: string,
  message: HeartbeatMessage,
  maxBufferSize: number,
): Promise<Delivery> {
  let frame = '';
  let settle!: (outcome: Delivery['outcome']) => void;
  const outcome = new Promise<Delivery['outcome']>((resolve) => (settle = resolve));
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (frame += chunk));
    const json = new JsonSocket(socket, { maxBufferSize });
    json.on('message', () => settle('message'));
    json.on('error', () => settle('rejected'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ClientTCP({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  const subscription = client.send(pattern, message).subscribe({ error: () => undefined });
  try {
    return { outcome: await outcome, frame };
  } finally {
    subscription.unsubscribe();
    closeTcpClient(client);
    sockets.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const NOT_AN_OBJECT = 'heartbeat message must be an object { manager, origin, payload }';
const badField = (field: string) =>
  `heartbeat message field "${field}" must be a string of 1 to 256 characters`;
const NOT_AN_ANSWER = `the reply's "heartbeat" must be an object { origin, payload }`;
const ORIGIN_RULE = `the reply's "heartbeat.origin" must be a string of 1 to 256 characters`;

describe('heartbeat wire format', () => {
  it('has the documented patterns and name limit', () => {
    expect(HEARTBEAT_REQUEST_PATTERN).toBe('heartbeat.request');
    expect(HEARTBEAT_RECEIVE_PATTERN).toBe('heartbeat.receive');
    expect(MAX_NAME_LENGTH).toBe(256);
  });

  describe('parseHeartbeatMessage', () => {
    it.each<[string, unknown, unknown]>([
      [
        'an object payload',
        { manager: 'm', origin: 'o', payload: { slots: [1, 2] } },
        { slots: [1, 2] },
      ],
      ['a null payload', { manager: 'm', origin: 'o', payload: null }, null],
      ['an undefined payload, as null', { manager: 'm', origin: 'o', payload: undefined }, null],
      ['a missing payload, as null', { manager: 'm', origin: 'o' }, null],
      ['a 0 payload', { manager: 'm', origin: 'o', payload: 0 }, 0],
      ['a false payload', { manager: 'm', origin: 'o', payload: false }, false],
      ['an empty-string payload', { manager: 'm', origin: 'o', payload: '' }, ''],
    ])('accepts a message with %s', (_case, data, payload) => {
      expect(parseHeartbeatMessage(data)).toEqual({
        ok: true,
        message: { manager: 'm', origin: 'o', payload },
      });
    });

    it('rejects unknown fields, naming them', () => {
      const parsed = parseHeartbeatMessage({
        manager: 'm',
        origin: 'o',
        payload: 1,
        fencingToken: 'abc',
        junk: true,
      });
      expect(parsed).toEqual({
        ok: false,
        reason: 'heartbeat message has unknown field(s) "fencingToken", "junk"',
      });
    });

    it('keeps the reason short when the unknown fields are huge', () => {
      const parsed = parseHeartbeatMessage({ manager: 'm', origin: 'o', ['k'.repeat(10_000)]: 1 });
      expect(parsed).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/^heartbeat message has unknown field\(s\) "kkk/),
      });
      expect((parsed as { reason: string }).reason.length).toBeLessThanOrEqual(200);
    });

    it('accepts names of 1 and of 256 characters', () => {
      const long = 'x'.repeat(256);
      expect(parseHeartbeatMessage({ manager: long, origin: 'o' })).toMatchObject({
        ok: true,
        message: { manager: long },
      });
      expect(parseHeartbeatMessage({ manager: 'm', origin: long })).toMatchObject({
        ok: true,
        message: { origin: long },
      });
    });

    it.each<[string, unknown, string]>([
      ['null', null, NOT_AN_OBJECT],
      ['undefined', undefined, NOT_AN_OBJECT],
      ['a string', '{"manager":"m","origin":"o"}', NOT_AN_OBJECT],
      ['a number', 42, NOT_AN_OBJECT],
      ['an array', [{ manager: 'm', origin: 'o' }], NOT_AN_OBJECT],
      ['a missing manager', { origin: 'o', payload: 1 }, badField('manager')],
      ['an empty manager', { manager: '', origin: 'o' }, badField('manager')],
      ['a numeric manager', { manager: 1, origin: 'o' }, badField('manager')],
      [
        'a non-string manager (object)',
        { manager: { name: 'm' }, origin: 'o' },
        badField('manager'),
      ],
      ['a 257-character manager', { manager: 'm'.repeat(257), origin: 'o' }, badField('manager')],
      ['a missing origin', { manager: 'm', payload: 1 }, badField('origin')],
      ['an empty origin', { manager: 'm', origin: '' }, badField('origin')],
      ['a null origin', { manager: 'm', origin: null }, badField('origin')],
      ['a 257-character origin', { manager: 'm', origin: 'o'.repeat(257) }, badField('origin')],
      [
        'both fields bad: names the manager first',
        { manager: '', origin: '' },
        badField('manager'),
      ],
    ])('rejects %s, naming the field at fault', (_case, data, reason) => {
      expect(parseHeartbeatMessage(data)).toEqual({ ok: false, reason });
    });
  });

  describe('answerOf', () => {
    it.each<[string, unknown]>([
      ['a plain acknowledgement', { accepted: true }],
      ['an undefined response (an empty reply)', undefined],
      ['a null response', null],
      ['a non-object response', 'ok'],
      ['a response whose heartbeat is undefined', { accepted: true, heartbeat: undefined }],
    ])('finds no answer in %s', (_case, response) => {
      expect(answerOf(response)).toBeUndefined();
    });

    it('reads the answer of the reply: origin and payload', () => {
      expect(
        answerOf({ accepted: true, heartbeat: { origin: 'tm-1', payload: { slots: [1, 2] } } }),
      ).toEqual({ origin: 'tm-1', payload: { slots: [1, 2] } });
    });

    it.each<[string, unknown, unknown]>([
      ['a missing payload, as null', { origin: 'tm-1' }, null],
      ['a null payload', { origin: 'tm-1', payload: null }, null],
      ['a falsy payload, as it is', { origin: 'tm-1', payload: 0 }, 0],
      ['an empty-string payload, as it is', { origin: 'tm-1', payload: '' }, ''],
    ])('reads %s', (_case, heartbeat, payload) => {
      expect(answerOf({ accepted: true, heartbeat })).toEqual({ origin: 'tm-1', payload });
    });

    it('accepts an origin of 256 characters', () => {
      const origin = 'o'.repeat(MAX_NAME_LENGTH);
      expect(answerOf({ heartbeat: { origin } })).toEqual({ origin, payload: null });
    });

    it.each<[string, unknown, string]>([
      ['a null heartbeat', null, NOT_AN_ANSWER],
      ['a string heartbeat', 'tm-1', NOT_AN_ANSWER],
      ['a numeric heartbeat', 1, NOT_AN_ANSWER],
      ['a heartbeat without origin', { payload: 1 }, ORIGIN_RULE],
      ['a heartbeat with an empty origin', { origin: '' }, ORIGIN_RULE],
      ['a heartbeat with a numeric origin', { origin: 7 }, ORIGIN_RULE],
      ['a heartbeat with a 257-character origin', { origin: 'o'.repeat(257) }, ORIGIN_RULE],
      ['an array heartbeat', ['tm-1', null], ORIGIN_RULE],
    ])('throws a HeartbeatReplyError for %s', (_case, heartbeat, message) => {
      const read = () => answerOf({ accepted: true, heartbeat });
      expect(read).toThrow(HeartbeatReplyError);
      expect(read).toThrow(message);
    });
  });

  describe('heartbeatFrameLength', () => {
    const message: HeartbeatMessage = {
      manager: 'workers',
      origin: 'tm-ä1',
      // Characters that JSON escapes ("\", newline, quote) and one outside the BMP (2 UTF-16 units).
      payload: { note: 'a "quoted"\nline \\ 🫀', slots: [1, 2, 3] },
    };
    // A manager name this long makes the request frames longer than the reply frame.
    const longManager: HeartbeatMessage = { ...message, manager: 'task-manager-heartbeats' };

    it('is the longest of the request, receive and reply frames of the message, with a 36-character id', () => {
      const id = 'x'.repeat(36);
      const framesOf = (sent: HeartbeatMessage) => ({
        request: lengthOf({ pattern: HEARTBEAT_REQUEST_PATTERN, data: sent, id }),
        receive: lengthOf({ pattern: HEARTBEAT_RECEIVE_PATTERN, data: sent, id }),
        reply: lengthOf({
          id,
          response: { accepted: true, heartbeat: { origin: sent.origin, payload: sent.payload } },
          isDisposed: true,
        }),
      });
      // With a short manager name the reply (which does not carry it) is the longest frame ...
      const short = framesOf(message);
      expect(short.reply).toBeGreaterThan(short.request);
      expect(heartbeatFrameLength(message)).toBe(short.reply);
      // ... with a long one, the requests are.
      const long = framesOf(longManager);
      expect(long.request).toBeGreaterThan(long.reply);
      expect(heartbeatFrameLength(longManager)).toBe(long.request);
      expect(long.receive).toBe(long.request); // the two patterns have the same length
    });

    it.each([HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN])(
      "bounds the frame Nest's TCP client sends with %s, exactly when the request is the longest frame",
      async (pattern) => {
        const withUuids: number[] = [];
        for (const sent of [message, longManager]) {
          const { frame } = await deliver(pattern, sent, 65_536);
          expect(frame).toMatch(/^\d+#\{"pattern":/);
          const id = idOf(frame);
          expect(id.length).toBeLessThanOrEqual(36);
          // Nest's ids are shorter than a UUID (21 characters in Nest 12): the bound counts 36.
          withUuids.push(frame.length + (36 - id.length));
        }
        const [short, long] = withUuids;
        expect(short).toBeLessThan(heartbeatFrameLength(message)); // the reply is longer
        expect(long).toBe(heartbeatFrameLength(longManager));
      },
    );

    it("measures what Nest's frame limit measures: a limit of the frame's length takes it, one less rejects it", async () => {
      const { frame } = await deliver(HEARTBEAT_RECEIVE_PATTERN, message, 65_536);
      await expect(
        deliver(HEARTBEAT_RECEIVE_PATTERN, message, frame.length),
      ).resolves.toMatchObject({ outcome: 'message' });
      await expect(
        deliver(HEARTBEAT_RECEIVE_PATTERN, message, frame.length - 1),
      ).resolves.toMatchObject({ outcome: 'rejected' });
      await expect(
        deliver(HEARTBEAT_RECEIVE_PATTERN, message, heartbeatFrameLength(message)),
      ).resolves.toMatchObject({ outcome: 'message' });
    });

    describe("the reply frame a Nest ServerTCP endpoint sends (HeartbeatModule's ingress)", () => {
      let clock: ManualClock;
      let app: RunningApp | undefined;
      let sockets: Socket[];

      beforeEach(() => {
        clock = new ManualClock();
        sockets = [];
      });

      afterEach(async () => {
        sockets.forEach((socket) => socket.destroy());
        await app?.close();
        app = undefined;
      });

      /**
       * The reply frame an endpoint whose receiver `answering.manager`, with id `answering.origin`
       * and payload `answering.payload`, sends to a request with a 36-character id.
       */
      async function replyFrame(answering: HeartbeatMessage): Promise<string> {
        @Injectable()
        class Payloads {
          @ProvideHeartbeatPayload(answering.manager)
          provide(): unknown {
            return answering.payload;
          }
        }
        app = await startApp({
          imports: [
            HeartbeatModule.forRoot({
              resourceId: answering.origin,
              managers: { [answering.manager]: 'receiver' },
              clock,
              scheduler: clock,
            }),
          ],
          providers: [Payloads],
        });
        // The requester, monitored without a target: the answer goes back in the reply.
        app.get(HeartbeatRegistry).getManager(answering.manager).monitorTarget('rm-1');
        const id = randomUUID();
        expect(id).toHaveLength(36);
        const request = JSON.stringify({
          pattern: HEARTBEAT_REQUEST_PATTERN,
          data: { manager: answering.manager, origin: 'rm-1', payload: null },
          id,
        });
        const socket = connect({ host: '127.0.0.1', port: app.port });
        sockets.push(socket);
        socket.setEncoding('utf8');
        let received = '';
        const replied = new Promise<string>((resolve, reject) => {
          socket.on('data', (chunk: string) => {
            received += chunk;
            const hash = received.indexOf('#');
            if (hash > 0 && received.length >= hash + 1 + Number(received.slice(0, hash))) {
              resolve(received);
            }
          });
          socket.on('error', reject);
          socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(received)}`)));
        });
        socket.write(`${request.length}#${request}`);
        const frame = await replied;
        expect(JSON.parse(frame.slice(frame.indexOf('#') + 1))).toEqual({
          id,
          response: {
            accepted: true,
            heartbeat: { origin: answering.origin, payload: answering.payload },
          },
          isDisposed: true,
        });
        return frame;
      }

      it('is as long as heartbeatFrameLength says when the reply is the longest frame', async () => {
        const frame = await replyFrame(message);
        expect(frame.length).toBe(heartbeatFrameLength(message));
      });

      it('fits the bound when the requests are longer', async () => {
        const frame = await replyFrame(longManager);
        expect(frame.length).toBeLessThan(heartbeatFrameLength(longManager));
      });
    });

    it('grows with the payload and the names, the length prefix included', () => {
      const base = heartbeatFrameLength({ manager: 'm', origin: 'o', payload: null });
      // The reply, "134#" + 134 characters of JSON: it carries no manager name, the requests do.
      expect(base).toBe(138);
      expect(heartbeatFrameLength({ manager: 'm', origin: 'o', payload: 'abc' })).toBe(
        base - 'null'.length + '"abc"'.length,
      );
      expect(heartbeatFrameLength({ manager: 'm', origin: 'oo', payload: null })).toBe(base + 1);
      // The requests are 8 characters shorter with a 1-character name: a longer name counts
      // once the requests are the longest frame.
      expect(heartbeatFrameLength({ manager: 'm'.repeat(9), origin: 'o', payload: null })).toBe(
        base,
      );
      expect(heartbeatFrameLength({ manager: 'm'.repeat(10), origin: 'o', payload: null })).toBe(
        base + 1,
      );
      // 9,998 more characters of JSON, and a prefix of 5 digits instead of 3.
      const long = heartbeatFrameLength({ manager: 'm', origin: 'o', payload: 'x'.repeat(10_000) });
      expect(long).toBe(base + 9_998 + 2);
    });
  });
});

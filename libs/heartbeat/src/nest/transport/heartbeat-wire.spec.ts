import { ClientTCP, JsonSocket } from '@nestjs/microservices';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { closeTcpClient } from './close-tcp-client.js';
import {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  heartbeatFrameLength,
  MAX_NAME_LENGTH,
  parseHeartbeatMessage,
  type HeartbeatMessage,
} from './heartbeat-wire.js';

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

  describe('heartbeatFrameLength', () => {
    const message: HeartbeatMessage = {
      manager: 'workers',
      origin: 'tm-ä1',
      // Characters that JSON escapes ("\", newline, quote) and one outside the BMP (2 UTF-16 units).
      payload: { note: 'a "quoted"\nline \\ 🫀', slots: [1, 2, 3] },
    };
    it.each([HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN])(
      "is the length of the frame Nest's TCP client sends with %s, counting a 36-character id",
      async (pattern) => {
        const { frame } = await deliver(pattern, message, 65_536);
        expect(frame).toMatch(/^\d+#\{"pattern":/);
        const id = idOf(frame);
        expect(id.length).toBeLessThanOrEqual(36);
        // Nest's ids are shorter than a UUID (21 characters in Nest 12): the bound counts 36.
        expect(frame.length).toBe(heartbeatFrameLength(message) - (36 - id.length));
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

    it('grows with the payload and the names, the length prefix included', () => {
      const base = heartbeatFrameLength({ manager: 'm', origin: 'o', payload: null });
      expect(base).toBe(130); // "126#" + 126 characters of JSON
      expect(heartbeatFrameLength({ manager: 'm', origin: 'o', payload: 'abc' })).toBe(
        base - 'null'.length + '"abc"'.length,
      );
      expect(heartbeatFrameLength({ manager: 'mm', origin: 'o', payload: null })).toBe(base + 1);
      // 9,998 more characters of JSON, and a prefix of 5 digits instead of 3.
      const long = heartbeatFrameLength({ manager: 'm', origin: 'o', payload: 'x'.repeat(10_000) });
      expect(long).toBe(base + 9_998 + 2);
    });
  });
});

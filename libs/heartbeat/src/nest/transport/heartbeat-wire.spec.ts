import {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  MAX_NAME_LENGTH,
  parseHeartbeatMessage,
} from './heartbeat-wire.js';

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
});

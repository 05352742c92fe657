import { jest } from '@jest/globals';
import { acceptHeartbeat } from './accepted-heartbeat.js';
import type { IncomingHeartbeat } from './interfaces/heartbeat-handler.interface.js';
import { IncomingHeartbeatVetter } from './incoming-heartbeat-vetter.js';

const heartbeat: IncomingHeartbeat = {
  manager: 'a',
  kind: 'request',
  origin: 'rm',
  payload: '{"slots":2}',
};

describe('IncomingHeartbeatVetter', () => {
  let vetter: IncomingHeartbeatVetter;

  beforeEach(() => {
    vetter = new IncomingHeartbeatVetter('a');
  });

  it('accepts with the payload unchanged when there are no handlers', async () => {
    await expect(vetter.vet(heartbeat)).resolves.toEqual({
      accepted: true,
      payload: '{"slots":2}',
    });
  });

  it('accepts with the payload unchanged when every handler returns nothing or true', async () => {
    vetter.add({ where: 'A.one', call: () => true });
    vetter.add({ where: 'A.two', call: async () => undefined });
    vetter.add({ where: 'A.three', call: async () => true });

    await expect(vetter.vet(heartbeat)).resolves.toEqual({
      accepted: true,
      payload: '{"slots":2}',
    });
  });

  it.each<[string, () => unknown]>([
    ['returns false', () => false],
    ['resolves to false', async () => false],
  ])('rejects, naming the handler, when one %s', async (_case, call) => {
    vetter.add({ where: 'A.gate', call });
    await expect(vetter.vet(heartbeat)).resolves.toEqual({
      accepted: false,
      reason: 'rejected by A.gate',
    });
  });

  it.each<[string, () => unknown, string]>([
    [
      'throws',
      () => {
        throw new Error('stale fencing token');
      },
      'stale fencing token',
    ],
    [
      'rejects',
      async () => {
        throw new Error('wrong credential');
      },
      'wrong credential',
    ],
    [
      'throws a non-Error',
      () => {
        throw 'nope';
      },
      'nope',
    ],
  ])('rejects with the error as the reason when one %s', async (_case, call, reason) => {
    vetter.add({ where: 'A.gate', call });
    await expect(vetter.vet(heartbeat)).resolves.toEqual({ accepted: false, reason });
  });

  it('replaces the payload with what a handler returns as acceptHeartbeat(payload)', async () => {
    vetter.add({
      where: 'A.parse',
      call: ({ payload }) => acceptHeartbeat(JSON.parse(payload as string) as unknown),
    });
    await expect(vetter.vet(heartbeat)).resolves.toEqual({ accepted: true, payload: { slots: 2 } });
  });

  it('takes the parsed payload even when it has a payload field of its own (no guessing)', async () => {
    const message = { payload: 'inner', meta: { version: 1 } };
    vetter.add({ where: 'A.parse', call: async () => acceptHeartbeat({ payload: 'inner' }) });
    vetter.add({ where: 'A.enrich', call: () => acceptHeartbeat(message) });
    await expect(vetter.vet(heartbeat)).resolves.toEqual({ accepted: true, payload: message });
  });

  it('takes acceptHeartbeat(null) (or undefined, from JavaScript) as "no payload"', async () => {
    vetter.add({ where: 'A.drop', call: async () => acceptHeartbeat(null) });
    await expect(vetter.vet(heartbeat)).resolves.toEqual({ accepted: true, payload: null });
    const other = new IncomingHeartbeatVetter('a');
    other.add({ where: 'A.drop', call: () => acceptHeartbeat(undefined) });
    await expect(other.vet(heartbeat)).resolves.toEqual({ accepted: true, payload: null });
  });

  it('makes a frozen verdict that a handler cannot alter afterwards', () => {
    const verdict = acceptHeartbeat({ slots: 2 });
    expect(Object.isFrozen(verdict)).toBe(true);
    expect(verdict.payload).toEqual({ slots: 2 });
  });

  it('runs the handlers in order, each on the heartbeat as the one before left it', async () => {
    const seen: unknown[] = [];
    vetter.add({
      where: 'A.parse',
      call: (incoming) => {
        seen.push(incoming);
        return acceptHeartbeat(JSON.parse(incoming.payload as string) as unknown);
      },
    });
    vetter.add({
      where: 'A.check',
      call: (incoming) => {
        seen.push(incoming);
        return true;
      },
    });
    vetter.add({
      where: 'A.enrich',
      call: (incoming) => {
        seen.push(incoming);
        return acceptHeartbeat({ ...(incoming.payload as object), checked: true });
      },
    });

    await expect(vetter.vet(heartbeat)).resolves.toEqual({
      accepted: true,
      payload: { slots: 2, checked: true },
    });
    expect(seen).toEqual([
      heartbeat,
      { ...heartbeat, payload: { slots: 2 } },
      { ...heartbeat, payload: { slots: 2 } },
    ]);
  });

  it('stops at the first handler that rejects: later ones do not run', async () => {
    const later = jest.fn(() => true);
    vetter.add({ where: 'A.one', call: () => acceptHeartbeat(1) });
    vetter.add({ where: 'A.two', call: async () => false });
    vetter.add({ where: 'A.three', call: later });

    await expect(vetter.vet(heartbeat)).resolves.toEqual({
      accepted: false,
      reason: 'rejected by A.two',
    });
    expect(later).not.toHaveBeenCalled();
  });

  it.each<[string, unknown]>([
    ['the parsed payload itself', { slots: 2 }],
    ['a plain { payload }, not made by acceptHeartbeat', { payload: { slots: 2 } }],
    ['a plain { payload: null }', { payload: null }],
    ['an object with more than a payload', { payload: 1, meta: true }],
    [
      'a copy of an accepted verdict without its brand',
      JSON.parse(JSON.stringify(acceptHeartbeat(1))),
    ],
    ['a string', 'ok'],
    ['a number', 0],
    ['null', null],
    ['an array', [acceptHeartbeat(1)]],
  ])(
    'rejects, naming the handler, when one returns %s: neither a verdict nor acceptHeartbeat(payload)',
    async (_case, verdict) => {
      vetter.add({ where: 'A.sloppy', call: () => verdict });
      await expect(vetter.vet(heartbeat)).resolves.toEqual({
        accepted: false,
        reason: 'A.sloppy returned neither true, false, undefined nor acceptHeartbeat(payload)',
      });
    },
  );
});

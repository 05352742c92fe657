import { jest } from '@jest/globals';
import { EMPTY, NEVER, Observable, of, throwError, TimeoutError } from 'rxjs';
import { rpcFailureKindOf } from '../core/heartbeat-events.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { HeartbeatBrokerError } from '../transport/broker-failure.js';
import {
  ClientProxyHeartbeatTarget,
  type ClientProxyHeartbeatTargetOptions,
  type HeartbeatClient,
} from '../transport/client-proxy-heartbeat-target.js';
import {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  HeartbeatReplyError,
} from '../transport/heartbeat-wire.js';
import { rejectionOf } from '../../../../test/fixtures/settling.js';

// The factory's tests (fromClient, createTcpTarget) are in heartbeat-target.factory.spec.ts.

const ACK = { accepted: true };

/** A client whose every reply is made by `reply`, recording what is sent. */
function fakeClient(reply: () => Observable<unknown> = () => of(ACK)) {
  const send = jest.fn((_pattern: unknown, _data: unknown) => reply());
  const close = jest.fn(async () => undefined);
  return { send, close, client: { send, close } as unknown as HeartbeatClient };
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6123'), { code: 'ECONNREFUSED' });
const errorReply = (message: string) => ({ status: 'error', message });

const OPTIONS: ClientProxyHeartbeatTargetOptions = {
  remoteManager: 'workers',
  requestTimeout: 1_000,
  closeClientOnDispose: false,
  recipient: '10.0.0.7:6123',
};

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

  it('resolves a request with the answer its reply carries', async () => {
    const { client } = fakeClient(() =>
      of({ accepted: true, heartbeat: { origin: 'tm-1', payload: { slots: 4 } } }),
    );
    const target = new ClientProxyHeartbeatTarget(client, OPTIONS);

    await expect(target.requestHeartbeat('rm-1', null)).resolves.toEqual({
      origin: 'tm-1',
      payload: { slots: 4 },
    });
  });

  it('reads an answer without payload as a null payload', async () => {
    const { client } = fakeClient(() => of({ accepted: true, heartbeat: { origin: 'tm-1' } }));
    await expect(
      new ClientProxyHeartbeatTarget(client, OPTIONS).requestHeartbeat('rm-1', null),
    ).resolves.toEqual({ origin: 'tm-1', payload: null });
  });

  it('takes the answer of the first reply only', async () => {
    const { client } = fakeClient(() =>
      of(
        { accepted: true, heartbeat: { origin: 'tm-1', payload: 'first' } },
        { accepted: true, heartbeat: { origin: 'tm-1', payload: 'second' } },
      ),
    );
    await expect(
      new ClientProxyHeartbeatTarget(client, OPTIONS).requestHeartbeat('rm-1', null),
    ).resolves.toEqual({ origin: 'tm-1', payload: 'first' });
  });

  it('resolves a separate heartbeat ("receive") with nothing, even if its reply carries an answer', async () => {
    const { client } = fakeClient(() =>
      of({ accepted: true, heartbeat: { origin: 'tm-1', payload: 1 } }),
    );
    await expect(
      new ClientProxyHeartbeatTarget(client, OPTIONS).receiveHeartbeat('rm-1', null),
    ).resolves.toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['a null heartbeat', null],
    ['a heartbeat without origin', { payload: 1 }],
    ['a heartbeat with an empty origin', { origin: '' }],
  ])(
    'rejects a request whose reply carries a malformed answer (%s) with HeartbeatReplyError, not "unreachable"',
    async (_case, heartbeat) => {
      const { client } = fakeClient(() => of({ accepted: true, heartbeat }));

      const error = await rejectionOf(
        new ClientProxyHeartbeatTarget(client, OPTIONS).requestHeartbeat('rm-1', null),
      );

      expect(error).toBeInstanceOf(HeartbeatReplyError);
      expect(RecipientUnreachableError.matches(error)).toBe(false);
    },
  );

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

  describe('through a broker (broker set)', () => {
    const BROKERED: ClientProxyHeartbeatTargetOptions = {
      ...OPTIONS,
      recipient: 'tm-1',
      broker: { recipientId: 'tm-1', broker: 'nats://10.0.0.5:4222' },
    };

    it("sends to the patterns addressed to the recipient's id, with the same data", async () => {
      const { client, send } = fakeClient();
      const target = new ClientProxyHeartbeatTarget(client, {
        ...BROKERED,
        broker: { recipientId: 'tm.1', broker: 'nats://10.0.0.5:4222' },
      });

      await target.requestHeartbeat('rm-1', { slots: 4 });
      await target.receiveHeartbeat('rm-1', null);

      expect(send.mock.calls).toEqual([
        ['heartbeat.request.tm%2E1', { manager: 'workers', origin: 'rm-1', payload: { slots: 4 } }],
        ['heartbeat.receive.tm%2E1', { manager: 'workers', origin: 'rm-1', payload: null }],
      ]);
    });

    it('takes the answer its reply carries, as over TCP', async () => {
      const { client } = fakeClient(() =>
        of({ accepted: true, heartbeat: { origin: 'tm-1', payload: 7 } }),
      );
      await expect(
        new ClientProxyHeartbeatTarget(client, BROKERED).requestHeartbeat('rm-1', null),
      ).resolves.toEqual({ origin: 'tm-1', payload: 7 });
    });

    it("counts NATS's no responders (nobody subscribes to the recipient's subject) as the recipient unreachable", async () => {
      const cause = new Error(
        'Empty response. There are no subscribers listening to that message ("heartbeat.request.tm-1")',
      );
      const { client } = fakeClient(() => throwError(() => cause));

      const error = await rejectionOf(
        new ClientProxyHeartbeatTarget(client, BROKERED).requestHeartbeat('rm-1', null),
      );

      expect(error).toBeInstanceOf(RecipientUnreachableError);
      expect(error).toMatchObject({
        message:
          'Heartbeat recipient tm-1 is unreachable: no subscriber of heartbeat.request.tm-1 at nats://10.0.0.5:4222',
      });
    });

    it.each<[string, () => unknown]>([
      ['a refused connection', refused],
      ["Nest's closed connection", () => new Error('Connection closed')],
      ['a client reconnecting', () => 'Error: Connection lost. Trying to reconnect...'],
    ])(
      "takes %s for the broker's failure, which does not count: not the recipient unreachable",
      async (_case, failure) => {
        const { client } = fakeClient(() => throwError(failure));

        const error = await rejectionOf(
          new ClientProxyHeartbeatTarget(client, BROKERED).requestHeartbeat('rm-1', null),
        );

        expect(error).toBeInstanceOf(HeartbeatBrokerError);
        expect(RecipientUnreachableError.matches(error)).toBe(false);
        expect(rpcFailureKindOf(error)).toBe('other');
      },
    );

    it('lets an error reply and a timeout through as they are', async () => {
      const reply = errorReply('unknown heartbeat manager "workers" (from rm-1)');
      const rejecting = fakeClient(() => throwError(() => reply));
      expect(
        await rejectionOf(
          new ClientProxyHeartbeatTarget(rejecting.client, BROKERED).requestHeartbeat('rm-1', null),
        ),
      ).toBe(reply);

      const silent = fakeClient(() => NEVER);
      const error = await rejectionOf(
        new ClientProxyHeartbeatTarget(silent.client, {
          ...BROKERED,
          requestTimeout: 20,
        }).requestHeartbeat('rm-1', null),
      );
      expect(error).toBeInstanceOf(TimeoutError);
    });
  });
});

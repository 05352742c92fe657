import type {
  HeartbeatListener,
  HeartbeatLogger,
  MaybePromise,
} from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import type { AnswerAdmission } from './heartbeat-receiver-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import type { HeartbeatAnswer, HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';

/*
 * A heartbeat as one request and one reply: a receiver that monitors an origin without a target
 * answers its requests in their replies, and a sender takes such an answer as it takes a
 * `receiveHeartbeat`. All on fake time, with in-process targets (no transport, no Nest).
 */

/** Lets every pending promise callback run (RPC outcomes, async payloads, async vetting). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise and the functions that settle it, for outcomes a test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((settle, fail) => {
    resolve = settle;
    reject = fail;
  });
  return { promise, resolve, reject };
}

class RecordingListener implements HeartbeatListener<unknown, unknown> {
  readonly timeouts: string[] = [];
  readonly unreachable: string[] = [];
  readonly reported: Array<[string, unknown]> = [];
  readonly retrievedFor: string[] = [];
  payloadFor: (resourceId: string) => MaybePromise<unknown> = (resourceId) =>
    `payload-for-${resourceId}`;

  notifyHeartbeatTimeout(resourceId: string): void {
    this.timeouts.push(resourceId);
  }

  notifyTargetUnreachable(resourceId: string): void {
    this.unreachable.push(resourceId);
  }

  reportPayload(resourceId: string, payload: unknown): void {
    this.reported.push([resourceId, payload]);
  }

  retrievePayload(resourceId: string): MaybePromise<unknown> {
    this.retrievedFor.push(resourceId);
    return this.payloadFor(resourceId);
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

const INTERVAL = 50;
const TIMEOUT = 200;

interface Side {
  readonly listener: RecordingListener;
  readonly logger: RecordingLogger;
}

/** A clock shared by the managers a test makes, and a way to make each side. */
function world() {
  const clock = new ManualClock();
  const side = (): Side & { services: HeartbeatServices } => {
    const logger = new RecordingLogger();
    return {
      listener: new RecordingListener(),
      logger,
      services: HeartbeatServices.fromConfiguration(
        { interval: INTERVAL, timeout: TIMEOUT, rpcFailureThreshold: 2, stallThreshold: -1 },
        { clock, scheduler: clock, logger },
      ),
    };
  };
  return {
    clock,
    receiver(id = 'tm-1') {
      const parts = side();
      return { ...parts, manager: parts.services.createReceiverManager(id, parts.listener) };
    },
    sender(id = 'rm', admitAnswer?: AnswerAdmission) {
      const parts = side();
      const manager = parts.services.createSenderManager(id, parts.listener, { admitAnswer });
      return { ...parts, manager };
    },
  };
}

/** A target that carries requests to `far` in-process, and its answers back in the replies. */
function inProcess(far: HeartbeatManager): HeartbeatTarget & { requests: number } {
  const target = {
    requests: 0,
    requestHeartbeat: (origin: string, payload: unknown) => {
      target.requests += 1;
      return far.requestHeartbeat(origin, payload);
    },
    receiveHeartbeat: (origin: string, payload: unknown) => far.receiveHeartbeat(origin, payload),
  };
  return target;
}

type Reply = HeartbeatAnswer | void | Error | 'hold';

/** A target whose requests resolve with the replies the test scripts (void once they run out). */
class ScriptedTarget implements HeartbeatTarget {
  readonly requests: Array<{ origin: string; payload: unknown }> = [];
  readonly received: Array<{ origin: string; payload: unknown }> = [];
  readonly held: Array<ReturnType<typeof deferred<HeartbeatAnswer | void>>> = [];
  private readonly replies: Reply[] = [];
  private otherwise: Reply = undefined;

  reply(...replies: Reply[]): this {
    this.replies.push(...replies);
    return this;
  }

  always(reply: Reply): this {
    this.otherwise = reply;
    return this;
  }

  requestHeartbeat(origin: string, payload: unknown): Promise<HeartbeatAnswer | void> {
    this.requests.push({ origin, payload });
    const reply = this.replies.length > 0 ? this.replies.shift() : this.otherwise;
    if (reply === 'hold') {
      const held = deferred<HeartbeatAnswer | void>();
      this.held.push(held);
      return held.promise;
    }
    return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
  }

  receiveHeartbeat(origin: string, payload: unknown): Promise<void> {
    this.received.push({ origin, payload });
    return Promise.resolve();
  }
}

const answer = (origin: string, payload: unknown = null): HeartbeatAnswer => ({ origin, payload });
const unreachable = () => new RecipientUnreachableError('tm-1', 'ECONNREFUSED');

describe('a receiver that monitors an origin without a target', () => {
  it('answers its requests in their replies: its own id and the payload it retrieves for the origin', async () => {
    const { clock, receiver } = world();
    const { manager, listener } = receiver('tm-1');
    manager.monitorTarget('rm');
    clock.advance(30);

    await expect(manager.requestHeartbeat('rm', { leader: true })).resolves.toEqual({
      origin: 'tm-1',
      payload: 'payload-for-rm',
    });

    expect(listener.retrievedFor).toEqual(['rm']);
    expect(listener.reported).toEqual([['rm', { leader: true }]]);
    expect(manager.getLastHeartbeatFrom('rm')).toBe(clock.now());
    expect(manager.getMonitoredTargets()).toEqual(['rm']);
  });

  it('answers with a payload retrieved asynchronously', async () => {
    const { receiver } = world();
    const { manager, listener } = receiver();
    listener.payloadFor = async (id) => ({ slotsFor: id });
    manager.monitorTarget('rm');

    await expect(manager.requestHeartbeat('rm', null)).resolves.toEqual({
      origin: 'tm-1',
      payload: { slotsFor: 'rm' },
    });
    expect(listener.reported).toEqual([]); // a null payload is not reported
  });

  it.each<[string, () => MaybePromise<unknown>]>([
    ['null', () => null],
    ['undefined', () => undefined],
    ['a promise of undefined', async () => undefined],
  ])('answers with a null payload when the provider returns %s', async (_case, provide) => {
    const { receiver } = world();
    const { manager, listener, logger } = receiver();
    listener.payloadFor = provide;
    manager.monitorTarget('rm');

    await expect(manager.requestHeartbeat('rm', null)).resolves.toEqual(answer('tm-1', null));
    expect(logger.errors).toEqual([]);
  });

  it.each<[string, () => MaybePromise<unknown>]>([
    [
      'throws',
      () => {
        throw new Error('no slot report');
      },
    ],
    [
      'rejects',
      async () => {
        throw new Error('no slot report');
      },
    ],
  ])(
    'still answers, with a null payload, when the provider %s (and logs it)',
    async (_case, provide) => {
      const { clock, receiver } = world();
      const { manager, listener, logger } = receiver();
      listener.payloadFor = provide;
      manager.monitorTarget('rm');
      clock.advance(10);

      await expect(manager.requestHeartbeat('rm', 'p')).resolves.toEqual(answer('tm-1', null));

      expect(logger.errors).toHaveLength(1);
      expect(logger.errors[0]).toContain('Retrieving the heartbeat payload for rm');
      expect(logger.errors[0]).toContain('no slot report');
      // The request still proves the origin alive.
      expect(manager.getLastHeartbeatFrom('rm')).toBe(clock.now());
      expect(listener.reported).toEqual([['rm', 'p']]);
    },
  );

  it('gives no answer, and reports nothing, for a request from an origin it does not monitor', async () => {
    const { receiver } = world();
    const { manager, listener } = receiver();
    manager.monitorTarget('rm');

    await expect(manager.requestHeartbeat('stranger', { leader: true })).resolves.toBeUndefined();

    expect(listener.reported).toEqual([]);
    expect(listener.retrievedFor).toEqual([]);
    expect(manager.getLastHeartbeatFrom('stranger')).toBe(-1);
    expect(manager.getLastHeartbeatFrom('rm')).toBe(0);
  });

  it('gives no answer once the origin is unmonitored, nor after stop', async () => {
    const { receiver } = world();
    const { manager, listener } = receiver();
    manager.monitorTarget('rm');
    manager.monitorTarget('rm-2');

    manager.unmonitorTarget('rm');
    await expect(manager.requestHeartbeat('rm', 'p')).resolves.toBeUndefined();
    manager.stop();
    await expect(manager.requestHeartbeat('rm-2', 'p')).resolves.toBeUndefined();

    expect(listener.reported).toEqual([]);
    expect(listener.retrievedFor).toEqual([]);
  });

  it.each<[string, (manager: HeartbeatManager) => void]>([
    ['unmonitored', (manager) => manager.unmonitorTarget('rm')],
    ['stopped', (manager) => manager.stop()],
  ])('gives no answer when it is %s while the payload is being retrieved', async (_case, leave) => {
    const { receiver } = world();
    const { manager, listener } = receiver();
    const payload = deferred<unknown>();
    listener.payloadFor = () => payload.promise;
    manager.monitorTarget('rm');

    const reply = manager.requestHeartbeat('rm', null);
    leave(manager);
    payload.resolve('late');

    await expect(reply).resolves.toBeUndefined();
  });

  it('gives no answer to the request of an earlier monitor of the same id (unmonitored and monitored again meanwhile)', async () => {
    const { receiver } = world();
    const { manager, listener } = receiver();
    const payloads = [deferred<unknown>(), deferred<unknown>()];
    listener.payloadFor = () => payloads[listener.retrievedFor.length - 1].promise;
    manager.monitorTarget('rm');

    const first = manager.requestHeartbeat('rm', null);
    manager.unmonitorTarget('rm');
    manager.monitorTarget('rm');
    const second = manager.requestHeartbeat('rm', null);
    payloads[0].resolve('for the old monitor');
    payloads[1].resolve('for the new monitor');

    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toEqual(answer('tm-1', 'for the new monitor'));
  });

  it('times the origin out when its requests stop, and not while they keep coming', async () => {
    const { clock, receiver } = world();
    const { manager, listener } = receiver();
    manager.monitorTarget('rm');

    for (let elapsed = 0; elapsed < 5 * TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await manager.requestHeartbeat('rm', null);
    }
    expect(listener.timeouts).toEqual([]);

    clock.advance(TIMEOUT - 1);
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['rm']);
  });

  it('keeps the first monitor when the id is monitored again, with or without a target', async () => {
    const { receiver } = world();
    const { manager } = receiver();
    const target = new ScriptedTarget();
    manager.monitorTarget('rm');
    manager.monitorTarget('rm');
    manager.monitorTarget('rm', target);

    // Still answered in the reply: the target given later was not taken.
    await expect(manager.requestHeartbeat('rm', null)).resolves.toEqual(
      answer('tm-1', 'payload-for-rm'),
    );
    expect(target.received).toEqual([]);
    expect(manager.getMonitoredTargets()).toEqual(['rm']);
  });

  it('still answers an origin monitored with a target through that target, resolving the request with nothing', async () => {
    const { receiver } = world();
    const { manager } = receiver();
    const target = new ScriptedTarget();
    manager.monitorTarget('rm', target);

    await expect(manager.requestHeartbeat('rm', null)).resolves.toBeUndefined();
    await flush();

    expect(target.received).toEqual([{ origin: 'tm-1', payload: 'payload-for-rm' }]);
  });

  it('leaves no timer behind once unmonitored or stopped', () => {
    const { clock, receiver } = world();
    const { manager } = receiver();
    manager.monitorTarget('rm');
    manager.monitorTarget('rm-2');
    expect(clock.pendingTasks).toBeGreaterThan(0);

    manager.unmonitorTarget('rm');
    manager.stop();

    expect(clock.pendingTasks).toBe(0);
  });
});

describe('a sender whose requests come back with answers', () => {
  it('takes an answer like receiveHeartbeat: records the heartbeat and reports the payload', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const target = new ScriptedTarget().always(answer('tm-1', { slots: 4 }));
    manager.monitorTarget('tm-1', target);
    manager.start();

    clock.advance(0);
    await flush();

    expect(target.requests).toEqual([{ origin: 'rm', payload: 'payload-for-tm-1' }]);
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    expect(listener.reported).toEqual([['tm-1', { slots: 4 }]]);
    expect(target.received).toEqual([]); // nothing is sent back for an answer
  });

  it('re-arms the timeout on each answer: no timeout while answers keep coming, one a timeout after the last', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const target = new ScriptedTarget().always(answer('tm-1'));
    manager.monitorTarget('tm-1', target);
    manager.start();
    clock.advance(0);
    await flush();

    for (let elapsed = 0; elapsed < 5 * TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await flush();
    }
    expect(listener.timeouts).toEqual([]);
    expect(target.requests.length).toBeGreaterThan(5 * (TIMEOUT / INTERVAL));

    // The target goes on replying, but without answers: only answers prove it alive.
    target.always(undefined);
    const lastAnswer = manager.getLastHeartbeatFrom('tm-1');
    for (let elapsed = INTERVAL; elapsed < TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await flush();
    }
    expect(listener.timeouts).toEqual([]);
    clock.advance(lastAnswer + TIMEOUT - clock.now());
    expect(listener.timeouts).toEqual(['tm-1']);
  });

  it('does not report a null payload, but records the heartbeat', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', null)));
    manager.start();
    clock.advance(0);
    await flush();

    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    expect(listener.reported).toEqual([]);
  });

  it('counts a request answered in its reply as a successful RPC: it resets the unreachable count', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    // Threshold 2: unreachable, answered, unreachable, answered, ... never two failures in a row.
    const target = new ScriptedTarget().reply(
      unreachable(),
      answer('tm-1'),
      unreachable(),
      answer('tm-1'),
      unreachable(),
    );
    target.always(unreachable());
    manager.monitorTarget('tm-1', target);
    manager.start();

    clock.advance(0);
    await flush();
    for (let run = 1; run <= 4; run += 1) {
      clock.advance(INTERVAL);
      await flush();
    }
    expect(listener.unreachable).toEqual([]);

    clock.advance(INTERVAL); // the second failure in a row
    await flush();
    expect(listener.unreachable).toEqual(['tm-1']);
  });

  it('records an answer from another origin for that origin (Flink: receiveHeartbeat(origin))', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    // tm-1's endpoint answers as tm-2 (say, the process behind the address changed).
    manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-2', 'from tm-2')));
    manager.monitorTarget('tm-2', new ScriptedTarget());
    manager.start();

    clock.advance(0);
    await flush();

    expect(manager.getLastHeartbeatFrom('tm-2')).toBe(clock.now());
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
    expect(listener.reported).toEqual([['tm-2', 'from tm-2']]);

    // tm-1 itself is never heard from: it times out, tm-2 (refreshed every round) does not.
    for (let elapsed = 0; elapsed < TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await flush();
    }
    expect(listener.timeouts).toEqual(['tm-1']);
  });

  it('reports the payload of an answer from an origin it does not monitor, without monitoring it', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('stranger', 'hello')));
    manager.start();

    clock.advance(0);
    await flush();

    expect(listener.reported).toEqual([['stranger', 'hello']]);
    expect(manager.getMonitoredTargets()).toEqual(['tm-1']);
    expect(manager.getLastHeartbeatFrom('stranger')).toBe(-1);
  });

  it('ignores a reply that is not an answer (no string origin) beyond counting the RPC as a success', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const notAnswers = [{ accepted: true }, { origin: 7, payload: 'x' }, 'tm-1', 42, null];
    const target = new ScriptedTarget().reply(
      unreachable(),
      ...(notAnswers as unknown as Reply[]),
      unreachable(),
    );
    manager.monitorTarget('tm-1', target);
    manager.start();

    clock.advance(0);
    await flush();
    for (let run = 1; run <= notAnswers.length + 1; run += 1) {
      clock.advance(INTERVAL);
      await flush();
    }

    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
    expect(listener.reported).toEqual([]);
    expect(listener.unreachable).toEqual([]); // every non-answer reset the count
  });

  it('ignores an answer that comes back after stop', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const target = new ScriptedTarget().always('hold');
    manager.monitorTarget('tm-1', target);
    manager.start();
    clock.advance(0);
    expect(target.held).toHaveLength(1);

    manager.stop();
    target.held[0].resolve(answer('tm-1', 'late'));
    await flush();

    expect(listener.reported).toEqual([]);
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(-1);
  });

  it('drops an answer that comes back after its target was unmonitored: nothing fires for it', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const target = new ScriptedTarget().always('hold');
    manager.monitorTarget('tm-1', target);
    manager.start();
    clock.advance(0);
    expect(target.held).toHaveLength(1);

    manager.unmonitorTarget('tm-1');
    target.held[0].resolve(answer('tm-1', 'late'));
    await flush();

    expect(listener.reported).toEqual([]);
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(-1);
  });

  it('drops a late answer of a target that timed out and was monitored again: the new monitor is not refreshed', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const first = new ScriptedTarget().always('hold');
    manager.monitorTarget('tm-1', first);
    manager.start();
    clock.advance(TIMEOUT);
    expect(listener.timeouts).toEqual(['tm-1']);

    manager.unmonitorTarget('tm-1');
    manager.monitorTarget('tm-1', new ScriptedTarget().always('hold'));
    first.held[0].resolve(answer('tm-1', 'late'));
    await flush();

    expect(listener.reported).toEqual([]);
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
    manager.stop();
  });

  it('drops an answer whose target is unmonitored while the answer is being vetted', async () => {
    const { clock, sender } = world();
    const vetting = deferred<{ accepted: true; payload: unknown }>();
    const { manager, listener } = sender('rm', () => vetting.promise);
    manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', 'p')));
    manager.start();
    clock.advance(0);
    await flush();

    manager.unmonitorTarget('tm-1');
    vetting.resolve({ accepted: true, payload: 'p' });
    await flush();

    expect(listener.reported).toEqual([]);
    manager.stop();
  });

  describe('admitAnswer', () => {
    it('vets each answer before it is taken, and may replace its payload', async () => {
      const { clock, sender } = world();
      const seen: HeartbeatAnswer[] = [];
      const { manager, listener } = sender('rm', (vetted) => {
        seen.push(vetted);
        return { accepted: true, payload: { parsed: vetted.payload } };
      });
      manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', 'raw')));
      manager.start();

      clock.advance(0);
      await flush();

      expect(seen).toEqual([answer('tm-1', 'raw')]);
      expect(listener.reported).toEqual([['tm-1', { parsed: 'raw' }]]);
      expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    });

    it('may vet asynchronously; an accepted null payload refreshes without a report', async () => {
      const { clock, sender } = world();
      const { manager, listener } = sender('rm', async () => ({ accepted: true, payload: null }));
      manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', 'raw')));
      manager.start();

      clock.advance(0);
      await flush();

      expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
      expect(listener.reported).toEqual([]);
    });

    it.each<[string, AnswerAdmission]>([
      ['synchronously', () => ({ accepted: false, reason: 'stale leader' })],
      ['asynchronously', async () => ({ accepted: false, reason: 'stale leader' })],
    ])(
      'a rejected answer (%s) neither refreshes the target nor reports, and is logged as a warning',
      async (_case, admit) => {
        const { clock, sender } = world();
        const { manager, listener, logger } = sender('rm', admit);
        manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', 'raw')));
        manager.start();

        clock.advance(0);
        await flush();

        expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
        expect(listener.reported).toEqual([]);
        expect(logger.warnings).toEqual([
          'Heartbeat manager rm: rejected the answer of tm-1: stale leader',
        ]);
        expect(logger.errors).toEqual([]);

        // Every answer is rejected: the target is declared lost a timeout after the start.
        for (let elapsed = 0; elapsed < TIMEOUT; elapsed += INTERVAL) {
          clock.advance(INTERVAL);
          await flush();
        }
        expect(listener.timeouts).toEqual(['tm-1']);
      },
    );

    it.each<[string, AnswerAdmission]>([
      [
        'throws',
        () => {
          throw new Error('vetting broke');
        },
      ],
      [
        'rejects',
        async () => {
          throw new Error('vetting broke');
        },
      ],
    ])(
      'an admitAnswer that %s is logged as an error, and the answer is not taken',
      async (_case, admit) => {
        const { clock, sender } = world();
        const { manager, listener, logger } = sender('rm', admit);
        manager.monitorTarget('tm-1', new ScriptedTarget().always(answer('tm-1', 'raw')));
        manager.start();

        clock.advance(0);
        await flush();

        expect(logger.errors).toHaveLength(1);
        expect(logger.errors[0]).toContain('Vetting the answer of tm-1');
        expect(logger.errors[0]).toContain('vetting broke');
        expect(logger.warnings).toEqual([]);
        expect(manager.getLastHeartbeatFrom('tm-1')).toBe(0);
        expect(listener.reported).toEqual([]);
        // The RPC itself reached the target: it is not counted as a failure.
        expect(listener.unreachable).toEqual([]);
      },
    );

    it('is not asked about replies without an answer, nor about separate receiveHeartbeat calls', async () => {
      const { clock, sender } = world();
      let asked = 0;
      const { manager, listener } = sender('rm', () => {
        asked += 1;
        return { accepted: false, reason: 'no' };
      });
      manager.monitorTarget('tm-1', new ScriptedTarget());
      manager.start();

      clock.advance(0);
      await flush();
      await manager.receiveHeartbeat('tm-1', 'separate');

      expect(asked).toBe(0);
      expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
      expect(listener.reported).toEqual([['tm-1', 'separate']]);
    });
  });

  it.each<[string, unknown]>([
    ['no target', undefined],
    ['null', null],
    ['an object without requestHeartbeat', { receiveHeartbeat: () => Promise.resolve() }],
  ])('throws a TypeError on monitorTarget with %s, monitoring nothing', (_case, target) => {
    const { sender } = world();
    const { manager } = sender();
    const monitor = () =>
      (manager as HeartbeatManager).monitorTarget('tm-1', target as HeartbeatTarget | undefined);

    expect(monitor).toThrow(TypeError);
    expect(monitor).toThrow(/Heartbeat sender rm: monitorTarget\("tm-1"\) needs a target/);
    expect(manager.getMonitoredTargets()).toEqual([]);
  });

  it('still works with a target that resolves with nothing and answers with a separate receiveHeartbeat', async () => {
    const { clock, sender } = world();
    const { manager, listener } = sender();
    const target = new ScriptedTarget(); // resolves with nothing
    manager.monitorTarget('tm-1', target);
    manager.start();

    for (let elapsed = 0; elapsed < 5 * TIMEOUT; elapsed += INTERVAL) {
      clock.advance(elapsed === 0 ? 0 : INTERVAL);
      await flush();
      // The answer arrives on its own, as earlier transports (and Flink) deliver it.
      await manager.receiveHeartbeat('tm-1', `slots@${clock.now()}`);
    }

    expect(listener.timeouts).toEqual([]);
    expect(manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    expect(listener.reported).toHaveLength(target.requests.length);
  });
});

describe('a sender and a receiver wired in-process', () => {
  it('exchange one request and one reply per heartbeat, payloads both ways, and stay alive', async () => {
    const { clock, sender, receiver } = world();
    const rm = sender('rm');
    const tm = receiver('tm-1');
    rm.listener.payloadFor = () => 'from rm';
    tm.listener.payloadFor = () => 'from tm-1';
    tm.manager.monitorTarget('rm'); // no way to reach rm: it answers in the replies
    const toTm = inProcess(tm.manager);
    rm.manager.monitorTarget('tm-1', toTm);
    rm.manager.start();

    for (let elapsed = 0; elapsed < 5 * TIMEOUT; elapsed += INTERVAL) {
      clock.advance(elapsed === 0 ? 0 : INTERVAL);
      await flush();
    }

    expect(rm.listener.timeouts).toEqual([]);
    expect(tm.listener.timeouts).toEqual([]);
    expect(toTm.requests).toBe(5 * (TIMEOUT / INTERVAL));
    expect(rm.listener.reported).toHaveLength(toTm.requests);
    expect(new Set(rm.listener.reported.map(String))).toEqual(new Set(['tm-1,from tm-1']));
    expect(tm.listener.reported).toHaveLength(toTm.requests);
    expect(new Set(tm.listener.reported.map(String))).toEqual(new Set(['rm,from rm']));
    expect(rm.manager.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
    expect(tm.manager.getLastHeartbeatFrom('rm')).toBe(clock.now());
  });

  it('the sender times out a receiver that stops answering; the receiver times out a sender that stops asking', async () => {
    const { clock, sender, receiver } = world();
    const rm = sender('rm');
    const tm = receiver('tm-1');
    tm.manager.monitorTarget('rm');
    rm.manager.monitorTarget('tm-1', inProcess(tm.manager));
    rm.manager.start();
    clock.advance(0);
    await flush();

    // The receiver forgets rm: its requests still succeed, but come back without answers.
    tm.manager.unmonitorTarget('rm');
    for (let elapsed = 0; elapsed < TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await flush();
    }
    expect(rm.listener.timeouts).toEqual(['tm-1']);
    expect(rm.listener.unreachable).toEqual([]);

    // And a receiver whose sender stops asking times it out.
    tm.manager.monitorTarget('rm');
    rm.manager.stop();
    clock.advance(TIMEOUT);
    expect(tm.listener.timeouts).toEqual(['rm']);
  });
});

import type { Clock, Scheduler } from './clock.js';
import {
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type {
  HeartbeatListener,
  HeartbeatLogger,
  MaybePromise,
} from './heartbeat-listener.interface.js';
import { HeartbeatServices } from './heartbeat-services.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';

// ---------------------------------------------------------------------------------------------
// Test doubles
// ---------------------------------------------------------------------------------------------

/** Lets every pending promise callback run (RPC outcomes, async listeners, async payloads). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const unreachable = () => new RecipientUnreachableError('x', 'refused');

/** A promise and the function that resolves it, for outcomes a test settles by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** How a recorded RPC ends: resolved, rejected with the error, or left pending ('hold'). */
type Outcome = 'resolve' | 'hold' | Error;

interface TargetCall {
  readonly origin: string;
  readonly payload: string | null;
  readonly at: number;
}

interface Held {
  resolve(): void;
  reject(error: Error): void;
}

/** A far side that records every call and answers with the outcomes the test chooses. */
class RecordingTarget implements HeartbeatTarget<string> {
  /** `requestHeartbeat` calls: the manager asked this target for a heartbeat. */
  readonly requests: TargetCall[] = [];
  /** `receiveHeartbeat` calls: the manager replied to this target. */
  readonly replies: TargetCall[] = [];
  /** RPCs answered with 'hold', in call order, for the test to settle. */
  readonly held: Held[] = [];
  disposed = 0;
  private readonly scripted: Outcome[] = [];
  private otherwise: Outcome = 'resolve';

  constructor(private readonly clock: Clock) {}

  /** The outcomes of the next calls, in order; after them, calls get the `always` outcome. */
  respondWith(...outcomes: Outcome[]): this {
    this.scripted.push(...outcomes);
    return this;
  }

  /** The outcome of every call not scripted by `respondWith` (resolve unless set). */
  always(outcome: Outcome): this {
    this.otherwise = outcome;
    return this;
  }

  requestHeartbeat(origin: string, payload: string | null): Promise<void> {
    this.requests.push({ origin, payload, at: this.clock.now() });
    return this.answer();
  }

  receiveHeartbeat(origin: string, payload: string | null): Promise<void> {
    this.replies.push({ origin, payload, at: this.clock.now() });
    return this.answer();
  }

  dispose(): void {
    this.disposed += 1;
  }

  private answer(): Promise<void> {
    const outcome = this.scripted.shift() ?? this.otherwise;
    if (outcome === 'resolve') {
      return Promise.resolve();
    }
    if (outcome === 'hold') {
      return new Promise<void>((resolve, reject) => this.held.push({ resolve, reject }));
    }
    return Promise.reject(outcome);
  }
}

/** The owner's callbacks, recorded; each `after*` hook lets a test make a callback throw or reject. */
class RecordingListener implements HeartbeatListener<string, string> {
  readonly timeouts: string[] = [];
  readonly unreachable: string[] = [];
  readonly reported: Array<[string, string]> = [];
  readonly retrievedFor: string[] = [];
  payloadFor: (resourceId: string) => MaybePromise<string | null | undefined> = (resourceId) =>
    `payload-for-${resourceId}`;
  afterTimeout: (resourceId: string) => MaybePromise<void> = () => undefined;
  afterUnreachable: (resourceId: string) => MaybePromise<void> = () => undefined;
  afterReport: (resourceId: string, payload: string) => MaybePromise<void> = () => undefined;

  notifyHeartbeatTimeout(resourceId: string): MaybePromise<void> {
    this.timeouts.push(resourceId);
    return this.afterTimeout(resourceId);
  }

  notifyTargetUnreachable(resourceId: string): MaybePromise<void> {
    this.unreachable.push(resourceId);
    return this.afterUnreachable(resourceId);
  }

  reportPayload(resourceId: string, payload: string): MaybePromise<void> {
    this.reported.push([resourceId, payload]);
    return this.afterReport(resourceId, payload);
  }

  retrievePayload(resourceId: string): MaybePromise<string | null | undefined> {
    this.retrievedFor.push(resourceId);
    return this.payloadFor(resourceId);
  }
}

class RecordingLogger implements HeartbeatLogger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  error(message: string): void {
    this.errors.push(message);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Rigs: a manager on fake time (the ManualClock is both clock and scheduler)
// ---------------------------------------------------------------------------------------------

/**
 * Flink's test settings: requests every 50 ms, a 200 ms timeout. The stall guard is not Flink's,
 * so it is off here, where timers are counted; stall-guard.spec.ts tests it with the managers.
 */
const TEST_CONFIGURATION: HeartbeatConfiguration = {
  interval: 50,
  timeout: 200,
  rpcFailureThreshold: 2,
  stallThreshold: -1,
};

interface Rig<M> {
  readonly clock: ManualClock;
  readonly listener: RecordingListener;
  readonly logger: RecordingLogger;
  readonly manager: M;
  /** The time the manager was created. */
  readonly t0: number;
  target(): RecordingTarget;
}

/** The factory every manager here comes from: Flink's test settings, overridden by `configuration`. */
function testServices(
  environment: { clock: Clock; scheduler: Scheduler; logger: HeartbeatLogger },
  configuration: Partial<HeartbeatConfiguration> = {},
): HeartbeatServices {
  return HeartbeatServices.fromConfiguration(
    { ...TEST_CONFIGURATION, ...configuration },
    environment,
  );
}

function rig<M>(
  create: (services: HeartbeatServices, listener: RecordingListener) => M,
  configuration: Partial<HeartbeatConfiguration>,
): Rig<M> {
  const clock = new ManualClock();
  const listener = new RecordingListener();
  const logger = new RecordingLogger();
  const manager = create(
    testServices({ clock, scheduler: clock, logger }, configuration),
    listener,
  );
  return {
    clock,
    listener,
    logger,
    manager,
    t0: clock.now(),
    target: () => new RecordingTarget(clock),
  };
}

const receiverRig = (configuration: Partial<HeartbeatConfiguration> = {}) =>
  rig((services, listener) => services.createReceiverManager('receiver', listener), configuration);

const senderRig = (configuration: Partial<HeartbeatConfiguration> = {}) =>
  rig((services, listener) => {
    // Started at once: the loop's first run is then due at the rig's t0, as in Flink.
    const sender = services.createSenderManager('sender', listener);
    sender.start();
    return sender;
  }, configuration);

// ---------------------------------------------------------------------------------------------
// Flink's HeartbeatManagerTest
// ---------------------------------------------------------------------------------------------

describe("Flink's HeartbeatManagerTest scenarios", () => {
  it('1. a request reports the incoming payload and replies with the retrieved payload; a reply reports its payload', async () => {
    const { manager, listener, t0, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', 'request-payload');
    await flush();

    expect(listener.reported).toEqual([['peer', 'request-payload']]);
    expect(listener.retrievedFor).toEqual(['peer']);
    expect(peer.replies).toEqual([{ origin: 'receiver', payload: 'payload-for-peer', at: t0 }]);

    await manager.receiveHeartbeat('peer', 'reply-payload');
    await flush();

    expect(listener.reported).toEqual([
      ['peer', 'request-payload'],
      ['peer', 'reply-payload'],
    ]);
    expect(peer.replies).toHaveLength(1); // a reply is not answered
    expect(peer.requests).toEqual([]);
  });

  it('2. a heartbeat cancels the pending timeout and schedules a new one', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const scheduled: Array<{ at: number; delay: number; cancelled: boolean }> = [];
    const recordingScheduler: Scheduler = {
      schedule(task, delayMs) {
        const entry = { at: clock.now(), delay: delayMs, cancelled: false };
        scheduled.push(entry);
        const handle = clock.schedule(task, delayMs);
        return {
          cancel: () => {
            entry.cancelled = true;
            handle.cancel();
          },
        };
      },
    };
    const listener = new RecordingListener();
    const manager = testServices({
      clock,
      scheduler: recordingScheduler,
      logger: new RecordingLogger(),
    }).createReceiverManager('receiver', listener);
    manager.monitorTarget('peer', new RecordingTarget(clock));
    expect(scheduled).toEqual([{ at: t0, delay: 200, cancelled: false }]);

    clock.advance(100);
    await manager.receiveHeartbeat('peer', null);

    expect(scheduled).toEqual([
      { at: t0, delay: 200, cancelled: true },
      { at: t0 + 100, delay: 200, cancelled: false },
    ]);
    clock.advance(199); // past the first timer's due time (t0 + 200)
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer']);
  });

  it('3. heartbeats every 50 ms keep a 200 ms timeout from firing; once they stop, the timeout fires with the right id', async () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    for (let i = 0; i < 20; i++) {
      clock.advance(50);
      await manager.requestHeartbeat('peer', 'still here');
    }
    await flush();
    expect(listener.timeouts).toEqual([]);

    clock.advance(199);
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer']);
  });

  it('4. a sender and a receiver exchange payloads both ways; stopping the receiver makes the sender time out', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const senderListener = new RecordingListener();
    const receiverListener = new RecordingListener();
    senderListener.payloadFor = () => 'from-sender';
    receiverListener.payloadFor = () => 'from-receiver';
    const services = testServices({ clock, scheduler: clock, logger: new RecordingLogger() });
    const sender = services.createSenderManager('sender', senderListener);
    sender.start();
    const receiver = services.createReceiverManager('receiver', receiverListener);
    sender.monitorTarget('receiver', receiver);
    receiver.monitorTarget('sender', sender);

    clock.advance(0);
    await flush();

    expect(receiverListener.reported).toEqual([['sender', 'from-sender']]);
    expect(senderListener.reported).toEqual([['receiver', 'from-receiver']]);
    expect(sender.getLastHeartbeatFrom('receiver')).toBe(t0);
    expect(receiver.getLastHeartbeatFrom('sender')).toBe(t0);

    for (let i = 0; i < 10; i++) {
      clock.advance(50);
      await flush();
    }
    expect(receiverListener.reported).toHaveLength(11);
    expect(senderListener.reported).toHaveLength(11);
    expect(senderListener.timeouts).toEqual([]);
    expect(receiverListener.timeouts).toEqual([]);

    const lastExchange = clock.now();
    expect(sender.getLastHeartbeatFrom('receiver')).toBe(lastExchange);
    receiver.stop();

    clock.advance(199);
    await flush();
    expect(senderListener.timeouts).toEqual([]);
    clock.advance(1);
    expect(senderListener.timeouts).toEqual(['receiver']);
    expect(sender.getLastHeartbeatFrom('receiver')).toBe(lastExchange);
    expect(receiverListener.timeouts).toEqual([]);
    sender.stop();
  });

  it('5. no timeout fires after unmonitoring', () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    clock.advance(100);
    manager.unmonitorTarget('peer');
    clock.advance(10_000);

    expect(listener.timeouts).toEqual([]);
    expect(clock.pendingTasks).toBe(0);
  });

  it('6. last heartbeat of an unknown target is -1', () => {
    const { manager } = receiverRig();

    expect(manager.getLastHeartbeatFrom('nobody')).toBe(-1);
  });

  it('7. last heartbeat is 0 after monitoring, then at least the current time after a heartbeat', async () => {
    const { manager, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());
    expect(manager.getLastHeartbeatFrom('peer')).toBe(0);

    clock.advance(30);
    await manager.receiveHeartbeat('peer', null);
    expect(manager.getLastHeartbeatFrom('peer')).toBeGreaterThanOrEqual(clock.now());
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());

    clock.advance(40);
    await manager.requestHeartbeat('peer', null);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());
  });

  it('8. retrievePayload gets the right target id on the receiving side', async () => {
    const { manager, listener, t0, target } = receiverRig();
    const a = target();
    const b = target();
    manager.monitorTarget('a', a);
    manager.monitorTarget('b', b);

    await manager.requestHeartbeat('b', null);
    await manager.requestHeartbeat('a', null);

    expect(listener.retrievedFor).toEqual(['b', 'a']);
    expect(a.replies).toEqual([{ origin: 'receiver', payload: 'payload-for-a', at: t0 }]);
    expect(b.replies).toEqual([{ origin: 'receiver', payload: 'payload-for-b', at: t0 }]);
  });

  it("9. retrievePayload gets the right target id for the sender's periodic requests", () => {
    const { manager, listener, clock, t0, target } = senderRig();
    const a = target();
    const b = target();
    manager.monitorTarget('a', a);
    manager.monitorTarget('b', b);

    clock.advance(0);
    clock.advance(50);

    expect(listener.retrievedFor).toEqual(['a', 'b', 'a', 'b']);
    expect(a.requests).toEqual([
      { origin: 'sender', payload: 'payload-for-a', at: t0 },
      { origin: 'sender', payload: 'payload-for-a', at: t0 + 50 },
    ]);
    expect(b.requests).toEqual([
      { origin: 'sender', payload: 'payload-for-b', at: t0 },
      { origin: 'sender', payload: 'payload-for-b', at: t0 + 50 },
    ]);
    manager.stop();
  });

  it('10. threshold 1: one unreachable failure marks the target unreachable (sender side)', async () => {
    const { manager, listener, clock, target } = senderRig({ rpcFailureThreshold: 1 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    await flush();

    expect(peer.requests).toHaveLength(1);
    expect(listener.unreachable).toEqual(['peer']);
    manager.stop();
  });

  it('11. threshold 5: four failures do not mark the target unreachable, the fifth does (receiver side)', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 5 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 4; i++) {
      await manager.requestHeartbeat('peer', null);
      await flush();
    }
    expect(peer.replies).toHaveLength(4);
    expect(listener.unreachable).toEqual([]);

    await manager.requestHeartbeat('peer', null);
    await flush();
    expect(listener.unreachable).toEqual(['peer']);
  });

  it('12. threshold -1: ten unreachable failures never mark the target unreachable', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: -1 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 10; i++) {
      await manager.requestHeartbeat('peer', null);
      await flush();
    }

    expect(peer.replies).toHaveLength(10);
    expect(listener.unreachable).toEqual([]);
  });

  it('13. fail, fail, success, fail with threshold 3 does not trigger (a success resets the count)', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 3 });
    const peer = target().respondWith(unreachable(), unreachable(), 'resolve', unreachable());
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 4; i++) {
      await manager.requestHeartbeat('peer', null);
      await flush();
    }
    expect(listener.unreachable).toEqual([]);

    // The count restarted at the success: two more failures make three in a row.
    peer.always(unreachable());
    await manager.requestHeartbeat('peer', null);
    await flush();
    expect(listener.unreachable).toEqual([]);
    await manager.requestHeartbeat('peer', null);
    await flush();
    expect(listener.unreachable).toEqual(['peer']);
  });
});

// ---------------------------------------------------------------------------------------------
// The reference's "Exact semantics", rule by rule
// ---------------------------------------------------------------------------------------------

describe('monitorTarget', () => {
  it('starts the timeout timer of a new monitor at once', () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    clock.advance(199);
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer']);
  });

  it('lists the monitored targets, and getLastHeartbeatFrom is 0 until the first heartbeat', () => {
    const { manager, target } = receiverRig();
    manager.monitorTarget('a', target());
    manager.monitorTarget('b', target());

    expect(manager.getMonitoredTargets()).toEqual(['a', 'b']);
    expect(manager.getLastHeartbeatFrom('a')).toBe(0);
    expect(manager.getLastHeartbeatFrom('b')).toBe(0);
  });

  it('keeps the first monitor and its target when the same id is monitored twice, and disposes the second target', async () => {
    const { manager, t0, target } = receiverRig();
    const first = target();
    const second = target();
    manager.monitorTarget('peer', first);
    manager.monitorTarget('peer', second);

    await manager.requestHeartbeat('peer', null);

    expect(first.replies).toEqual([{ origin: 'receiver', payload: 'payload-for-peer', at: t0 }]);
    expect(second.replies).toEqual([]);
    expect(first.disposed).toBe(0);
    expect(second.disposed).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual(['peer']);
  });

  it("keeps the first monitor's timer when the same id is monitored twice", () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    clock.advance(150);
    manager.monitorTarget('peer', target());
    clock.advance(50);

    expect(listener.timeouts).toEqual(['peer']);
  });

  it('keeps the last heartbeat time when the same id is monitored twice', async () => {
    const { manager, clock, t0, target } = receiverRig();
    manager.monitorTarget('peer', target());
    await manager.receiveHeartbeat('peer', null);

    clock.advance(10);
    manager.monitorTarget('peer', target());

    expect(manager.getLastHeartbeatFrom('peer')).toBe(t0);
  });

  it('does not dispose the target when the very same target object is monitored twice', () => {
    const { manager, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    manager.monitorTarget('peer', peer);

    expect(peer.disposed).toBe(0);
    expect(manager.getMonitoredTargets()).toEqual(['peer']);
  });

  it('does nothing on a stopped manager, except disposing the target', () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.stop();
    const peer = target();

    manager.monitorTarget('peer', peer);
    clock.advance(10_000);

    expect(peer.disposed).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(-1);
    expect(listener.timeouts).toEqual([]);
    expect(clock.pendingTasks).toBe(0);
  });

  it('accepts a target without dispose', () => {
    const { manager, clock, logger } = receiverRig();
    const bare: HeartbeatTarget<string> = {
      requestHeartbeat: () => Promise.resolve(),
      receiveHeartbeat: () => Promise.resolve(),
    };

    manager.monitorTarget('peer', bare);
    manager.monitorTarget('peer', { ...bare });
    manager.unmonitorTarget('peer');
    clock.advance(1_000);

    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(logger.errors).toEqual([]);
  });

  it('rejects an empty or non-string resource id', () => {
    const { manager, target } = receiverRig();

    expect(() => manager.monitorTarget('', target())).toThrow(TypeError);
    expect(() => manager.monitorTarget(undefined as unknown as string, target())).toThrow(
      /resourceId must be a non-empty string/,
    );
    expect(manager.getMonitoredTargets()).toEqual([]);
  });
});

describe('unmonitorTarget', () => {
  it('removes the monitor, cancels its timer and disposes its target', () => {
    const { manager, listener, clock, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    manager.unmonitorTarget('peer');

    expect(peer.disposed).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(-1);
    expect(clock.pendingTasks).toBe(0);
    clock.advance(10_000);
    expect(listener.timeouts).toEqual([]);
  });

  it('leaves the other monitors alone', () => {
    const { manager, listener, clock, target } = receiverRig();
    const kept = target();
    manager.monitorTarget('gone', target());
    manager.monitorTarget('kept', kept);

    manager.unmonitorTarget('gone');
    clock.advance(200);

    expect(kept.disposed).toBe(0);
    expect(listener.timeouts).toEqual(['kept']);
  });

  it('fires no unreachable callback for an RPC that fails after unmonitoring', async () => {
    const { manager, listener, clock, target } = senderRig({ rpcFailureThreshold: 1 });
    const peer = target().always('hold');
    manager.monitorTarget('peer', peer);
    clock.advance(0);
    expect(peer.held).toHaveLength(1);

    manager.unmonitorTarget('peer');
    peer.held[0]!.reject(unreachable());
    await flush();

    expect(listener.unreachable).toEqual([]);
    manager.stop();
  });

  it('ignores later requests from the unmonitored origin', async () => {
    const { manager, listener, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    manager.unmonitorTarget('peer');

    await manager.requestHeartbeat('peer', 'hello');

    expect(peer.replies).toEqual([]);
    expect(listener.reported).toEqual([]);
  });

  it('is harmless for an id that is not monitored, or unmonitored twice', () => {
    const { manager, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    manager.unmonitorTarget('nobody');
    manager.unmonitorTarget('peer');
    manager.unmonitorTarget('peer');

    expect(peer.disposed).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual([]);
  });

  it('lets the owner monitor the id again with a fresh monitor (reconnection)', async () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());
    clock.advance(200);
    expect(listener.timeouts).toEqual(['peer']);

    manager.unmonitorTarget('peer');
    const reconnected = target();
    manager.monitorTarget('peer', reconnected);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(0);

    await manager.requestHeartbeat('peer', null);
    expect(reconnected.replies).toHaveLength(1);
    clock.advance(199);
    expect(listener.timeouts).toEqual(['peer']);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer', 'peer']);
  });
});

describe('stop()', () => {
  it('cancels every monitor, disposes every target and clears them', () => {
    const { manager, listener, clock, target } = receiverRig();
    const a = target();
    const b = target();
    manager.monitorTarget('a', a);
    manager.monitorTarget('b', b);

    manager.stop();

    expect(manager.isStopped).toBe(true);
    expect(a.disposed).toBe(1);
    expect(b.disposed).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(clock.pendingTasks).toBe(0);
    clock.advance(10_000);
    expect(listener.timeouts).toEqual([]);
  });

  it('makes every later call a no-op, and getLastHeartbeatFrom returns -1', async () => {
    const { manager, listener, clock, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    await manager.receiveHeartbeat('peer', null);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());

    manager.stop();

    expect(manager.getLastHeartbeatFrom('peer')).toBe(-1);
    await expect(manager.receiveHeartbeat('peer', 'late reply')).resolves.toBeUndefined();
    await expect(manager.requestHeartbeat('peer', 'late request')).resolves.toBeUndefined();
    await expect(manager.receiveHeartbeat('stranger', 'late reply')).resolves.toBeUndefined();
    manager.unmonitorTarget('peer');
    manager.stop();
    await flush();

    expect(listener.reported).toEqual([]);
    expect(listener.retrievedFor).toEqual([]);
    expect(peer.replies).toEqual([]);
    expect(peer.disposed).toBe(1); // not disposed again by the second stop()
    expect(manager.getLastHeartbeatFrom('peer')).toBe(-1);
  });

  it('fires no callback for an RPC that fails after stop', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 1 });
    const peer = target().always('hold');
    manager.monitorTarget('peer', peer);
    await manager.requestHeartbeat('peer', null);

    manager.stop();
    peer.held[0]!.reject(unreachable());
    await flush();

    expect(listener.unreachable).toEqual([]);
  });

  it('ends the sender loop: no request after stop', () => {
    const { manager, clock, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    clock.advance(0);
    expect(peer.requests).toHaveLength(1);

    manager.stop();
    expect(clock.pendingTasks).toBe(0); // the next run is cancelled, not just skipped
    clock.advance(10_000);

    expect(peer.requests).toHaveLength(1);
    expect(clock.pendingTasks).toBe(0);
  });

  it('ends the sender loop even before its first run', () => {
    const { manager, clock, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    manager.stop();
    expect(clock.pendingTasks).toBe(0); // the next run is cancelled, not just skipped
    clock.advance(10_000);

    expect(peer.requests).toEqual([]);
    expect(clock.pendingTasks).toBe(0);
  });
});

describe('receiveHeartbeat (a reply arrives)', () => {
  it('records the time and resets the timeout of a monitored origin', async () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    clock.advance(150);
    await manager.receiveHeartbeat('peer', null);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());

    clock.advance(199);
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer']);
  });

  it('reports a non-null payload and sends nothing back', async () => {
    const { manager, listener, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.receiveHeartbeat('peer', 'status');

    expect(listener.reported).toEqual([['peer', 'status']]);
    expect(listener.retrievedFor).toEqual([]);
    expect(peer.replies).toEqual([]);
    expect(peer.requests).toEqual([]);
  });

  it('reports a payload even from an unmonitored origin, without monitoring it', async () => {
    const { manager, listener } = receiverRig();

    await manager.receiveHeartbeat('stranger', 'status');

    expect(listener.reported).toEqual([['stranger', 'status']]);
    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(manager.getLastHeartbeatFrom('stranger')).toBe(-1);
  });

  it('does not report a null or undefined payload', async () => {
    const { manager, listener, target } = receiverRig();
    manager.monitorTarget('peer', target());

    await manager.receiveHeartbeat('peer', null);
    await manager.receiveHeartbeat('peer', undefined as unknown as null);
    await manager.receiveHeartbeat('stranger', null);

    expect(listener.reported).toEqual([]);
    expect(manager.getLastHeartbeatFrom('peer')).toBeGreaterThan(0);
  });

  it('reports falsy but non-null payloads', async () => {
    const { manager, listener } = receiverRig();

    await manager.receiveHeartbeat('peer', '');

    expect(listener.reported).toEqual([['peer', '']]);
  });
});

describe('requestHeartbeat (a request arrives)', () => {
  it('ignores an unmonitored origin entirely: no report, no retrieval, no reply', async () => {
    const { manager, listener, target } = receiverRig();
    const other = target();
    manager.monitorTarget('other', other);

    await expect(manager.requestHeartbeat('stranger', 'hello')).resolves.toBeUndefined();
    await flush();

    expect(listener.reported).toEqual([]);
    expect(listener.retrievedFor).toEqual([]);
    expect(other.replies).toEqual([]);
    expect(manager.getMonitoredTargets()).toEqual(['other']);
  });

  it('resets the timeout of the origin, reports its payload, then replies with the retrieved payload', async () => {
    const { manager, listener, clock, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    let repliesWhenReported = -1;
    listener.afterReport = () => {
      repliesWhenReported = peer.replies.length;
    };

    clock.advance(150);
    await manager.requestHeartbeat('peer', 'hello');

    expect(listener.reported).toEqual([['peer', 'hello']]);
    expect(repliesWhenReported).toBe(0);
    expect(peer.replies).toEqual([
      { origin: 'receiver', payload: 'payload-for-peer', at: clock.now() },
    ]);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());
    clock.advance(199);
    expect(listener.timeouts).toEqual([]);
    clock.advance(1);
    expect(listener.timeouts).toEqual(['peer']);
  });

  it('replies, but reports nothing, for a request with a null payload', async () => {
    const { manager, listener, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', null);

    expect(listener.reported).toEqual([]);
    expect(peer.replies).toHaveLength(1);
  });

  it('replies with a null payload when retrievePayload returns null or undefined', async () => {
    const { manager, listener, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    listener.payloadFor = () => null;
    await manager.requestHeartbeat('peer', null);
    listener.payloadFor = () => undefined;
    await manager.requestHeartbeat('peer', null);

    expect(peer.replies.map((reply) => reply.payload)).toEqual([null, null]);
  });
});

describe('the sender loop', () => {
  it('runs once right away (at advance(0)), not during construction', () => {
    const { manager, clock, t0, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    expect(peer.requests).toEqual([]);

    clock.advance(0);

    expect(peer.requests).toEqual([{ origin: 'sender', payload: 'payload-for-peer', at: t0 }]);
    manager.stop();
  });

  it('then runs every interval (fixed delay)', () => {
    const { manager, clock, t0, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    clock.advance(0);

    clock.advance(49);
    expect(peer.requests).toHaveLength(1);
    clock.advance(1);
    expect(peer.requests).toHaveLength(2);
    clock.advance(120);

    expect(peer.requests.map((request) => request.at - t0)).toEqual([0, 50, 100, 150]);
    manager.stop();
  });

  it('keeps running while nothing is monitored', () => {
    const { manager, clock, target } = senderRig();
    clock.advance(0);
    clock.advance(500);

    const peer = target();
    manager.monitorTarget('peer', peer);
    clock.advance(50);

    expect(peer.requests).toHaveLength(1);
    manager.stop();
  });

  it('sends a target added between runs its first request at the next run', () => {
    const { manager, clock, t0, target } = senderRig();
    const early = target();
    manager.monitorTarget('early', early);
    clock.advance(0);
    clock.advance(20);

    const late = target();
    manager.monitorTarget('late', late);
    expect(late.requests).toEqual([]);
    clock.advance(29);
    expect(late.requests).toEqual([]);
    clock.advance(1);

    expect(late.requests).toEqual([{ origin: 'sender', payload: 'payload-for-late', at: t0 + 50 }]);
    expect(early.requests).toHaveLength(2);
    manager.stop();
  });

  it("does not reset a target's timeout by sending it requests: only its replies do", async () => {
    const { manager, listener, clock, target } = senderRig();
    const silent = target(); // accepts every request, never replies
    manager.monitorTarget('silent', silent);

    clock.advance(0);
    for (let i = 0; i < 3; i++) {
      clock.advance(50);
      await flush();
    }
    expect(silent.requests).toHaveLength(4);
    expect(manager.getLastHeartbeatFrom('silent')).toBe(0);
    expect(listener.timeouts).toEqual([]);

    clock.advance(50);
    expect(listener.timeouts).toEqual(['silent']);
    manager.stop();
  });

  it('stays quiet about a target that replies to every request', async () => {
    const { manager, listener, clock, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 20; i++) {
      clock.advance(i === 0 ? 0 : 50);
      await manager.receiveHeartbeat('peer', `reply-${i}`);
    }
    clock.advance(199);

    expect(peer.requests).toHaveLength(23);
    expect(listener.timeouts).toEqual([]);
    expect(listener.reported).toHaveLength(20);
    manager.stop();
  });

  it('answers requests from monitored origins like a receiver', async () => {
    const { manager, listener, t0, target } = senderRig();
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', 'hello');
    await manager.requestHeartbeat('stranger', 'hello');

    expect(listener.reported).toEqual([['peer', 'hello']]);
    expect(peer.replies).toEqual([{ origin: 'sender', payload: 'payload-for-peer', at: t0 }]);
    manager.stop();
  });

  it('detects a refusing target after about interval × threshold', async () => {
    const { manager, listener, clock, t0, target } = senderRig({ rpcFailureThreshold: 3 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);
    let detectedAt = -1;
    listener.afterUnreachable = () => {
      detectedAt = clock.now();
    };

    clock.advance(0);
    await flush();
    clock.advance(50);
    await flush();
    expect(listener.unreachable).toEqual([]);
    clock.advance(50);
    await flush();

    expect(listener.unreachable).toEqual(['peer']);
    expect(detectedAt - t0).toBe(100);
    manager.stop();
  });
});

describe('timeout', () => {
  it('fires notifyHeartbeatTimeout exactly once', () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('peer', target());

    clock.advance(200);
    clock.advance(10_000);

    expect(listener.timeouts).toEqual(['peer']);
  });

  it('fires for each silent target with its own id, and only for silent ones', async () => {
    const { manager, listener, clock, target } = receiverRig();
    manager.monitorTarget('silent', target());
    manager.monitorTarget('chatty', target());

    for (let i = 0; i < 8; i++) {
      clock.advance(50);
      await manager.receiveHeartbeat('chatty', null);
    }

    expect(listener.timeouts).toEqual(['silent']);
  });

  it('is terminal: a later heartbeat does not re-arm the timer and no second callback fires', async () => {
    const { manager, listener, clock, target } = receiverRig();
    const peer = target();
    manager.monitorTarget('peer', peer);
    clock.advance(200);
    expect(listener.timeouts).toEqual(['peer']);

    await manager.receiveHeartbeat('peer', null);
    await manager.requestHeartbeat('peer', null);
    expect(clock.pendingTasks).toBe(0);
    clock.advance(10_000);

    expect(listener.timeouts).toEqual(['peer']);
  });

  it('is terminal: later unreachable failures fire no unreachable callback', async () => {
    const { manager, listener, clock, target } = receiverRig({ rpcFailureThreshold: 1 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);
    clock.advance(200);

    await manager.requestHeartbeat('peer', null);
    await flush();

    expect(peer.replies).toHaveLength(1);
    expect(listener.timeouts).toEqual(['peer']);
    expect(listener.unreachable).toEqual([]);
  });
});

describe('failed RPCs', () => {
  it('keeps the sender loop running when a plain-JS target returns no promise', async () => {
    const { manager, clock } = senderRig();
    const requests: string[] = [];
    const plainTarget = {
      requestHeartbeat: (origin: string) => void requests.push(origin),
      receiveHeartbeat: () => undefined,
    } as unknown as HeartbeatTarget<string>;
    manager.monitorTarget('plain', plainTarget);

    clock.advance(0);
    clock.advance(TEST_CONFIGURATION.interval);
    await flush();

    expect(requests).toEqual(['sender', 'sender']);
  });

  it('counts consecutive RecipientUnreachableError failures up to the threshold', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 2 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', null);
    await flush();
    expect(listener.unreachable).toEqual([]);
    await manager.requestHeartbeat('peer', null);
    await flush();

    expect(listener.unreachable).toEqual(['peer']);
  });

  it('neither counts nor resets on another error (a plain Error("timeout"))', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 2 });
    const peer = target().respondWith(unreachable(), new Error('timeout'), new Error('timeout'));
    peer.always(unreachable());
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 3; i++) {
      await manager.requestHeartbeat('peer', null);
      await flush();
    }
    // one unreachable failure, then two ignored ones: not yet two in a row
    expect(listener.unreachable).toEqual([]);

    await manager.requestHeartbeat('peer', null);
    await flush();
    // the earlier failure still counts: the ask timeouts did not reset it
    expect(listener.unreachable).toEqual(['peer']);
  });

  it('never marks a target unreachable for other errors alone', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 1 });
    const peer = target().always(new Error('timeout'));
    manager.monitorTarget('peer', peer);

    for (let i = 0; i < 10; i++) {
      await manager.requestHeartbeat('peer', null);
      await flush();
    }

    expect(listener.unreachable).toEqual([]);
  });

  it('counts an error named RecipientUnreachableError from another copy of the library', async () => {
    const { manager, listener, target } = receiverRig({ rpcFailureThreshold: 1 });
    const foreign = Object.assign(new Error('refused'), { name: 'RecipientUnreachableError' });
    manager.monitorTarget('peer', target().always(foreign));

    await manager.requestHeartbeat('peer', null);
    await flush();

    expect(listener.unreachable).toEqual(['peer']);
  });

  it('treats an RPC that throws synchronously like one that rejects', async () => {
    const { manager, listener, clock } = senderRig({ rpcFailureThreshold: 1 });
    const throwing: HeartbeatTarget<string> = {
      requestHeartbeat: () => {
        throw unreachable();
      },
      receiveHeartbeat: () => Promise.resolve(),
    };
    manager.monitorTarget('peer', throwing);

    clock.advance(0);
    await flush();

    expect(listener.unreachable).toEqual(['peer']);
    manager.stop();
  });

  it("counts the sender's requests and the receiver's replies alike", async () => {
    const { manager, listener, clock, target } = senderRig({ rpcFailureThreshold: 2 });
    const peer = target().always(unreachable());
    manager.monitorTarget('peer', peer);

    clock.advance(0); // a failed request
    await flush();
    await manager.requestHeartbeat('peer', null); // a failed reply
    await flush();

    expect(peer.requests).toHaveLength(1);
    expect(peer.replies).toHaveLength(1);
    expect(listener.unreachable).toEqual(['peer']);
    manager.stop();
  });

  it('fires notifyTargetUnreachable exactly once, however many failures follow', async () => {
    const { manager, listener, clock, target } = senderRig({ rpcFailureThreshold: 1 });
    manager.monitorTarget('peer', target().always(unreachable()));

    clock.advance(0);
    for (let i = 0; i < 5; i++) {
      clock.advance(50);
      await flush();
    }

    expect(listener.unreachable).toEqual(['peer']);
    manager.stop();
  });

  it('is terminal: after UNREACHABLE no timeout fires, even after a heartbeat', async () => {
    const { manager, listener, clock, target } = receiverRig({ rpcFailureThreshold: 1 });
    const peer = target().respondWith(unreachable());
    manager.monitorTarget('peer', peer);
    await manager.requestHeartbeat('peer', null);
    await flush();
    expect(listener.unreachable).toEqual(['peer']);
    expect(clock.pendingTasks).toBe(0);

    await manager.receiveHeartbeat('peer', null);
    clock.advance(10_000);

    expect(listener.timeouts).toEqual([]);
    expect(listener.unreachable).toEqual(['peer']);
  });
});

describe('an owner acting from its callbacks', () => {
  it('may unmonitor and monitor again from the timeout handler (reconnection)', () => {
    const { manager, listener, clock, target } = receiverRig();
    const first = target();
    const second = target();
    listener.afterTimeout = (id) => {
      listener.afterTimeout = () => undefined; // reconnect once only
      manager.unmonitorTarget(id);
      manager.monitorTarget(id, second);
    };
    manager.monitorTarget('peer', first);

    clock.advance(200);
    expect(listener.timeouts).toEqual(['peer']);
    expect(first.disposed).toBe(1);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(0);

    clock.advance(200);
    expect(listener.timeouts).toEqual(['peer', 'peer']);
    expect(second.disposed).toBe(0);
  });

  it('may unmonitor from the unreachable handler', async () => {
    const { manager, listener, clock, target } = senderRig({ rpcFailureThreshold: 1 });
    const peer = target().always(unreachable());
    listener.afterUnreachable = (id) => manager.unmonitorTarget(id);
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    await flush();
    clock.advance(1_000);
    await flush();

    expect(listener.unreachable).toEqual(['peer']);
    expect(listener.timeouts).toEqual([]);
    expect(peer.disposed).toBe(1);
    expect(peer.requests).toHaveLength(1);
    manager.stop();
  });
});

describe('a failing owner (listener)', () => {
  it('logs a timeout callback that throws, and still times out the other targets', () => {
    const { manager, listener, logger, clock, target } = receiverRig();
    listener.afterTimeout = (id) => {
      if (id === 'a') {
        throw new Error('boom');
      }
    };
    manager.monitorTarget('a', target());
    manager.monitorTarget('b', target());

    clock.advance(200);

    expect(listener.timeouts).toEqual(['a', 'b']);
    expect(logger.errors).toEqual(['Heartbeat timeout handler for a failed: boom']);
  });

  it('logs a timeout callback that rejects, and keeps working', async () => {
    const { manager, listener, logger, clock, target } = receiverRig();
    listener.afterTimeout = async () => {
      throw new Error('async boom');
    };
    manager.monitorTarget('a', target());

    clock.advance(200);
    await flush();
    expect(logger.errors).toEqual(['Heartbeat timeout handler for a failed: async boom']);

    const b = target();
    manager.monitorTarget('b', b);
    await manager.requestHeartbeat('b', null);
    expect(b.replies).toHaveLength(1);
    clock.advance(200);
    await flush();
    expect(listener.timeouts).toEqual(['a', 'b']);
  });

  it('logs an unreachable callback that throws or rejects, and still reports the other targets', async () => {
    const { manager, listener, logger, clock, target } = senderRig({ rpcFailureThreshold: 1 });
    listener.afterUnreachable = (id) => {
      if (id === 'sync') {
        throw new Error('sync boom');
      }
      return Promise.reject(new Error('async boom'));
    };
    manager.monitorTarget('sync', target().always(unreachable()));
    manager.monitorTarget('async', target().always(unreachable()));

    clock.advance(0);
    await flush();

    expect(listener.unreachable).toEqual(['sync', 'async']);
    expect(logger.errors).toEqual([
      'Target unreachable handler for sync failed: sync boom',
      'Target unreachable handler for async failed: async boom',
    ]);
    manager.stop();
  });

  it('logs a payload report that throws, and still records the heartbeat and replies', async () => {
    const { manager, listener, logger, clock, target } = receiverRig();
    listener.afterReport = () => {
      throw new Error('bad payload');
    };
    const peer = target();
    manager.monitorTarget('peer', peer);
    clock.advance(10);

    await expect(manager.requestHeartbeat('peer', 'hello')).resolves.toBeUndefined();
    await expect(manager.receiveHeartbeat('peer', 'hello again')).resolves.toBeUndefined();

    expect(listener.reported).toHaveLength(2);
    expect(logger.errors).toEqual([
      'Heartbeat payload handler for peer failed: bad payload',
      'Heartbeat payload handler for peer failed: bad payload',
    ]);
    expect(peer.replies).toHaveLength(1);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(clock.now());
  });

  it('logs a payload report that rejects', async () => {
    const { manager, listener, logger } = receiverRig();
    listener.afterReport = () => Promise.reject(new Error('async bad payload'));

    await manager.receiveHeartbeat('peer', 'hello');
    await flush();

    expect(logger.errors).toEqual(['Heartbeat payload handler for peer failed: async bad payload']);
  });

  it('logs a non-Error failure with its string form', async () => {
    const { manager, listener, logger } = receiverRig();
    listener.afterReport = () => Promise.reject('just a string');

    await manager.receiveHeartbeat('peer', 'hello');
    await flush();

    expect(logger.errors).toEqual(['Heartbeat payload handler for peer failed: just a string']);
  });

  it('logs a dispose that throws or rejects, and still unmonitors', async () => {
    const { manager, logger, clock } = receiverRig();
    const base = {
      requestHeartbeat: () => Promise.resolve(),
      receiveHeartbeat: () => Promise.resolve(),
    };
    manager.monitorTarget('sync', {
      ...base,
      dispose: () => {
        throw new Error('close failed');
      },
    });
    manager.monitorTarget('async', {
      ...base,
      dispose: () => Promise.reject(new Error('late close')),
    });

    manager.unmonitorTarget('sync');
    manager.unmonitorTarget('async');
    await flush();

    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(clock.pendingTasks).toBe(0);
    expect(logger.errors).toEqual([
      'Disposing the heartbeat target sync failed: close failed',
      'Disposing the heartbeat target async failed: late close',
    ]);
  });
});

describe('retrievePayload', () => {
  it('a throw still sends the reply, with a null payload, and is logged', async () => {
    const { manager, listener, logger, target } = receiverRig();
    listener.payloadFor = () => {
      throw new Error('no payload');
    };
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', null);

    expect(peer.replies.map((reply) => reply.payload)).toEqual([null]);
    expect(logger.errors).toEqual(['Retrieving the heartbeat payload for peer failed: no payload']);
  });

  it('a throw still sends the request, with a null payload, and is logged (sender side)', () => {
    const { manager, listener, logger, clock, target } = senderRig();
    listener.payloadFor = () => {
      throw new Error('no payload');
    };
    const peer = target();
    manager.monitorTarget('peer', peer);

    clock.advance(0);

    expect(peer.requests.map((request) => request.payload)).toEqual([null]);
    expect(logger.errors).toEqual(['Retrieving the heartbeat payload for peer failed: no payload']);
    manager.stop();
  });

  it('a rejection still sends the heartbeat, with a null payload, and is logged', async () => {
    const { manager, listener, logger, clock, target } = senderRig();
    listener.payloadFor = () => Promise.reject(new Error('async no payload'));
    const peer = target();
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    await flush();
    await manager.requestHeartbeat('peer', null);
    await flush();

    expect(peer.requests.map((request) => request.payload)).toEqual([null]);
    expect(peer.replies.map((reply) => reply.payload)).toEqual([null]);
    expect(logger.errors).toEqual([
      'Retrieving the heartbeat payload for peer failed: async no payload',
      'Retrieving the heartbeat payload for peer failed: async no payload',
    ]);
    manager.stop();
  });

  it('may be async: the heartbeat carries the resolved payload', async () => {
    const { manager, listener, clock, target } = senderRig();
    listener.payloadFor = async (id) => `async-payload-for-${id}`;
    const peer = target();
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    expect(peer.requests).toEqual([]); // not before the payload resolves
    await flush();
    await manager.requestHeartbeat('peer', null);
    await flush();

    expect(peer.requests.map((request) => request.payload)).toEqual(['async-payload-for-peer']);
    expect(peer.replies.map((reply) => reply.payload)).toEqual(['async-payload-for-peer']);
    manager.stop();
  });

  it('an async payload that resolves to undefined is sent as null', async () => {
    const { manager, listener, clock, target } = senderRig();
    listener.payloadFor = async () => undefined;
    const peer = target();
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    await flush();

    expect(peer.requests.map((request) => request.payload)).toEqual([null]);
    manager.stop();
  });

  it('an async payload that resolves after the target was unmonitored sends nothing', async () => {
    const { manager, listener, clock, target } = senderRig();
    const payload = deferred<string>();
    listener.payloadFor = () => payload.promise;
    const peer = target();
    manager.monitorTarget('peer', peer);

    clock.advance(0);
    manager.unmonitorTarget('peer');
    payload.resolve('too late');
    await flush();

    expect(peer.requests).toEqual([]);
    manager.stop();
  });

  it('an async payload that resolves after stop sends nothing', async () => {
    const { manager, listener, target } = receiverRig();
    const payload = deferred<string>();
    listener.payloadFor = () => payload.promise;
    const peer = target();
    manager.monitorTarget('peer', peer);

    await manager.requestHeartbeat('peer', null);
    manager.stop();
    payload.resolve('too late');
    await flush();

    expect(peer.replies).toEqual([]);
  });
});

describe('construction', () => {
  it('takes its configuration as resolved, once, by the factory that makes it', () => {
    expect(() => HeartbeatServices.fromConfiguration({ interval: 0 })).toThrow(
      HeartbeatConfigurationError,
    );
    const configuration = resolveHeartbeatConfiguration({ interval: 20, timeout: 80 });
    const manager = new HeartbeatServices(configuration).createReceiverManager(
      'receiver',
      new RecordingListener(),
    );
    // The very object resolved: not re-resolved (nor copied) on the way.
    expect(manager.configuration).toBe(configuration);
  });

  it('rejects an empty own resource id', () => {
    const services = new HeartbeatServices();
    expect(() => services.createSenderManager('', new RecordingListener())).toThrow(
      /ownResourceId must be a non-empty string/,
    );
    expect(() => services.createReceiverManager('', new RecordingListener())).toThrow(
      /ownResourceId must be a non-empty string/,
    );
  });

  it('exposes its id and resolved configuration', () => {
    const { manager } = senderRig({ rpcFailureThreshold: -1 });

    expect(manager.ownResourceId).toBe('sender');
    expect(manager.configuration).toEqual({
      interval: 50,
      timeout: 200,
      rpcFailureThreshold: -1,
      stallThreshold: -1,
    });
    expect(manager.isStopped).toBe(false);
    manager.stop();
  });
});

import {
  DEFAULT_HEARTBEAT_CONFIGURATION,
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type ResolvedHeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function recordingListener() {
  const timeouts: string[] = [];
  const listener: HeartbeatListener<string, string> = {
    notifyHeartbeatTimeout: (id) => {
      timeouts.push(id);
      throw new Error(`cannot handle ${id}`);
    },
    notifyTargetUnreachable: () => undefined,
    reportPayload: () => undefined,
    retrievePayload: (id) => `payload-for-${id}`,
  };
  return { listener, timeouts };
}

function recordingTarget() {
  const calls: string[] = [];
  let disposed = 0;
  const target: HeartbeatTarget<string> = {
    requestHeartbeat: (origin, payload) => {
      calls.push(`request ${origin} ${payload}`);
      return Promise.resolve();
    },
    receiveHeartbeat: (origin, payload) => {
      calls.push(`receive ${origin} ${payload}`);
      return Promise.resolve();
    },
    dispose: () => {
      disposed += 1;
    },
  };
  return { target, calls, disposed: () => disposed };
}

function environment() {
  const clock = new ManualClock();
  const errors: string[] = [];
  const warnings: string[] = [];
  const logger: HeartbeatLogger = {
    error: (message) => errors.push(message),
    warn: (message) => warnings.push(message),
  };
  return { clock, errors, warnings, env: { clock, scheduler: clock, logger } };
}

/** A sender made by the factory, monitoring one target, not started. */
function unstartedSender(settings: Partial<HeartbeatConfiguration> = {}) {
  const { clock, env, warnings } = environment();
  const services = HeartbeatServices.fromConfiguration(
    { interval: 50, timeout: 200, ...settings },
    env,
  );
  const { listener, timeouts } = recordingListener();
  const sender = services.createSenderManager('rm', listener);
  const peer = recordingTarget();
  sender.monitorTarget('tm-1', peer.target);
  return { clock, sender, peer, timeouts, warnings, services };
}

/** What `make` throws (failing the test if it does not throw a HeartbeatConfigurationError). */
function configurationError(make: () => unknown): HeartbeatConfigurationError {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HeartbeatConfigurationError);
  return caught as HeartbeatConfigurationError;
}

describe('HeartbeatServices', () => {
  it("uses Flink's defaults when given no configuration", () => {
    expect(new HeartbeatServices().configuration).toEqual(DEFAULT_HEARTBEAT_CONFIGURATION);
    expect(HeartbeatServices.fromConfiguration().configuration).toEqual(
      DEFAULT_HEARTBEAT_CONFIGURATION,
    );
  });

  it('fromConfiguration resolves and validates the overrides, naming each problem', () => {
    let caught: unknown;
    try {
      HeartbeatServices.fromConfiguration({ interval: 60_000, rpcFailureThreshold: 0 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HeartbeatConfigurationError);
    expect((caught as HeartbeatConfigurationError).problems).toEqual([
      {
        setting: 'interval',
        rule: 'at most timeout (50000 ms)',
        value: 60_000,
        atMost: { setting: 'timeout', value: 50_000 },
      },
      { setting: 'rpcFailureThreshold', rule: 'an integer > 0, or -1 to disable', value: 0 },
    ]);
  });

  it('takes a resolved configuration as it is, and gives it to every manager it makes', () => {
    const configuration = resolveHeartbeatConfiguration({ interval: 50, timeout: 200 });
    const services = new HeartbeatServices(configuration, environment().env);
    const { listener } = recordingListener();

    expect(services.configuration).toBe(configuration);
    expect(services.createSenderManager('rm', listener).configuration).toBe(configuration);
    expect(services.createReceiverManager('tm', listener).configuration).toBe(configuration);
  });

  describe('the constructor trusts only what resolveHeartbeatConfiguration returned', () => {
    it('checks a spread of a resolved configuration (its type still says "resolved")', () => {
      const error = configurationError(
        () => new HeartbeatServices({ ...resolveHeartbeatConfiguration(), timeout: 5_000 }),
      );
      expect(error.message).toBe(
        'Invalid HeartbeatServices configuration: interval (10000 ms) must not be greater than timeout (5000 ms)',
      );
      expect(error.problems).toEqual([
        {
          setting: 'interval',
          rule: 'at most timeout (5000 ms)',
          value: 10_000,
          atMost: { setting: 'timeout', value: 5_000 },
        },
      ]);
    });

    it("fills in Flink's defaults for a partial configuration from JavaScript: no undefined timeout", () => {
      const { clock, env } = environment();
      const untyped = { interval: 1_000 } as unknown as ResolvedHeartbeatConfiguration;
      const services = new HeartbeatServices(untyped, env);
      const { listener, timeouts } = recordingListener();

      expect(services.configuration).toEqual({
        interval: 1_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
      expect(Object.isFrozen(services.configuration)).toBe(true);
      const receiver = services.createReceiverManager('tm', listener);
      receiver.monitorTarget('rm', recordingTarget().target);
      clock.advance(49_999); // with setTimeout(fn, undefined) it would have fired at once
      expect(timeouts).toEqual([]);
      clock.advance(1);
      expect(timeouts).toEqual(['rm']);
    });

    it('checks a copy that breaks no rule too, and then uses the resolved copy, not the given object', () => {
      const copy = { ...resolveHeartbeatConfiguration({ interval: 50, timeout: 200 }) };
      const services = new HeartbeatServices(copy);
      expect(services.configuration).toEqual(copy);
      expect(services.configuration).not.toBe(copy);
      expect(Object.isFrozen(services.configuration)).toBe(true);
      expect(() => new HeartbeatServices({ ...copy, rpcFailureThreshold: 0 })).toThrow(
        HeartbeatConfigurationError,
      );
    });
  });

  describe('a clock or a scheduler given alone that can be both (a ManualClock) serves as both', () => {
    it.each([
      ['clock', (clock: ManualClock) => ({ clock })],
      ['scheduler', (clock: ManualClock) => ({ scheduler: clock })],
    ])('given only as %s: timers and time are both fake', (_case, environmentOf) => {
      const clock = new ManualClock();
      const services = HeartbeatServices.fromConfiguration(
        { interval: 50, timeout: 200 },
        environmentOf(clock),
      );
      const { listener, timeouts } = recordingListener();
      const receiver = services.createReceiverManager('tm', {
        ...listener,
        notifyHeartbeatTimeout: (id) => void timeouts.push(id),
      });

      receiver.monitorTarget('rm', recordingTarget().target);
      expect(clock.pendingTasks).toBeGreaterThan(0); // the timeout (and the stall guard) on fake time
      clock.advance(100);
      void receiver.receiveHeartbeat('rm', null);
      expect(receiver.getLastHeartbeatFrom('rm')).toBe(clock.now()); // the fake time, not Date.now()
      clock.advance(199);
      expect(timeouts).toEqual([]);
      clock.advance(1);
      expect(timeouts).toEqual(['rm']);
      receiver.stop();
      expect(clock.pendingTasks).toBe(0);
    });

    it('keeps a clock and a scheduler given apart as they are', () => {
      const clock = new ManualClock(5_000);
      const scheduler = new ManualClock();
      const receiver = HeartbeatServices.fromConfiguration(
        { interval: 50, timeout: 200 },
        { clock, scheduler },
      ).createReceiverManager('tm', recordingListener().listener);

      receiver.monitorTarget('rm', recordingTarget().target);
      void receiver.receiveHeartbeat('rm', null);

      expect(receiver.getLastHeartbeatFrom('rm')).toBe(5_000);
      expect(clock.pendingTasks).toBe(0);
      expect(scheduler.pendingTasks).toBeGreaterThan(0);
      receiver.stop();
    });
  });

  it('creates sender managers with its configuration, clock, scheduler and logger', async () => {
    const { clock, errors, env } = environment();
    const services = HeartbeatServices.fromConfiguration({ interval: 50, timeout: 200 }, env);
    const { listener, timeouts } = recordingListener();
    const peer = recordingTarget();

    const sender = services.createSenderManager('rm', listener);
    sender.monitorTarget('tm-1', peer.target);
    sender.start();
    clock.advance(0);

    expect(sender).toBeInstanceOf(HeartbeatSenderManager);
    expect(sender.ownResourceId).toBe('rm');
    expect(sender.configuration).toEqual({
      interval: 50,
      timeout: 200,
      rpcFailureThreshold: 2,
      stallThreshold: 100,
    });
    expect(peer.calls).toEqual(['request rm payload-for-tm-1']);

    clock.advance(200);
    await flush();
    expect(timeouts).toEqual(['tm-1']);
    expect(errors).toEqual(['Heartbeat timeout handler for tm-1 failed: cannot handle tm-1']);
    sender.stop();
  });

  describe('a sender it creates sends nothing until start()', () => {
    it('is created not started: no request goes out, however long it waits', () => {
      const { clock, sender, peer } = unstartedSender();
      clock.advance(0);
      clock.advance(150);

      expect(sender.isStarted).toBe(false);
      expect(peer.calls).toEqual([]);
      sender.stop();
    });

    it('start() sends the first round at once, then one every interval', () => {
      const { clock, sender, peer } = unstartedSender();
      clock.advance(30);
      sender.start();
      expect(peer.calls).toEqual([]); // the first run is a timer task of its own
      clock.advance(0);
      expect(peer.calls).toEqual(['request rm payload-for-tm-1']);
      clock.advance(49);
      expect(peer.calls).toHaveLength(1);
      clock.advance(1);
      expect(peer.calls).toHaveLength(2);
      expect(sender.isStarted).toBe(true);
      sender.stop();
    });

    it('start() is idempotent: a second call starts no second loop', () => {
      const { clock, sender, peer } = unstartedSender();
      sender.start();
      sender.start();
      clock.advance(0);
      clock.advance(50);

      expect(peer.calls).toHaveLength(2);
      sender.stop();
      expect(clock.pendingTasks).toBe(0);
    });

    it('start() gives the targets monitored before it a fresh timeout window: a live one is not lost', () => {
      const { clock, sender, peer, timeouts } = unstartedSender();
      clock.advance(150); // monitored at 0; the owner starts the sender 150 ms later (timeout 200)
      sender.start();
      clock.advance(0);
      expect(peer.calls).toEqual(['request rm payload-for-tm-1']); // the first request, at 150

      clock.advance(100); // 250: past the window that began at the monitorTarget call
      expect(timeouts).toEqual([]);
      void sender.receiveHeartbeat('tm-1', null); // the answer, after a slow round trip
      expect(sender.getLastHeartbeatFrom('tm-1')).toBe(clock.now());
      sender.stop();
    });

    it('start() re-arms a timeout that fell due while the event loop was blocked before it', () => {
      const { clock, sender, timeouts } = unstartedSender({ stallThreshold: -1 });
      // Another module's initialisation blocks for 300 ms (timeout 200); the bootstrap that starts
      // the sender runs before the overdue timer does.
      clock.schedule(() => sender.start(), 0);
      clock.stall(300);
      expect(timeouts).toEqual([]);

      clock.advance(199); // no answer: the target is declared lost a full timeout after the start
      expect(timeouts).toEqual([]);
      clock.advance(1);
      expect(timeouts).toEqual(['tm-1']);
      sender.stop();
    });

    it('declares no target lost before start(): a slow start-up keeps them, and start() gives a fresh window', () => {
      const { clock, sender, timeouts } = unstartedSender();
      clock.advance(1_000); // five timeouts long, with the event loop free (an async init, say)
      expect(timeouts).toEqual([]);
      expect(sender.getMonitoredTargets()).toEqual(['tm-1']);

      sender.start();
      clock.advance(199); // no answer: declared lost a full timeout after the start, not before
      expect(timeouts).toEqual([]);
      clock.advance(1);
      expect(timeouts).toEqual(['tm-1']);
      sender.stop();
    });

    it('warns once per sender, naming it, when a timeout of a sender not started falls due', () => {
      const { clock, sender, timeouts, warnings, services } = unstartedSender();
      sender.monitorTarget('tm-2', recordingTarget().target);
      const other = services.createSenderManager('jm', recordingListener().listener);
      other.monitorTarget('tm-3', recordingTarget().target);

      clock.advance(200);
      clock.advance(200); // later windows of the same sender: no more warnings

      expect(timeouts).toEqual([]);
      expect(warnings).toEqual([
        'Heartbeat sender rm: no heartbeat from tm-1 within the timeout, but this sender has not ' +
          "been started, so it has not asked for one; its targets' timeouts wait for start() (in " +
          "Nest, the application's bootstrap starts the senders; outside Nest, call start() on the " +
          'sender HeartbeatServices.createSenderManager returns)',
        expect.stringMatching(/^Heartbeat sender jm: no heartbeat from tm-3 .* call start\(\)/),
      ]);
      sender.stop();
      other.stop();
    });

    it('does not warn when a started sender loses a target, nor for a receiver', () => {
      const { clock, sender, timeouts, warnings, services } = unstartedSender();
      const receiver = services.createReceiverManager('tm', recordingListener().listener);
      receiver.monitorTarget('rm', recordingTarget().target);
      sender.start();

      clock.advance(200);

      expect(timeouts).toEqual(['tm-1']);
      expect(warnings).toEqual([]);
      sender.stop();
      receiver.stop();
    });

    it('a sender stopped before start() never starts: no timer is left', () => {
      const { clock, sender, peer } = unstartedSender();
      sender.stop();
      sender.start();
      clock.advance(500);

      expect(sender.isStarted).toBe(false);
      expect(peer.calls).toEqual([]);
      expect(clock.pendingTasks).toBe(0);
    });
  });

  it('creates receiver managers that only answer requests', async () => {
    const { clock, env } = environment();
    const services = HeartbeatServices.fromConfiguration({ interval: 50, timeout: 200 }, env);
    const { listener, timeouts } = recordingListener();
    const peer = recordingTarget();

    const receiver = services.createReceiverManager('tm-1', listener);
    receiver.monitorTarget('rm', peer.target);
    clock.advance(0);
    expect(peer.calls).toEqual([]);

    await receiver.requestHeartbeat('rm', null);
    expect(peer.calls).toEqual(['receive tm-1 payload-for-rm']);

    expect(receiver).toBeInstanceOf(HeartbeatReceiverManager);
    expect(receiver).not.toBeInstanceOf(HeartbeatSenderManager);
    clock.advance(200);
    expect(timeouts).toEqual(['rm']);
  });

  it('creates independent managers', () => {
    const { clock, env } = environment();
    const services = HeartbeatServices.fromConfiguration({ interval: 50, timeout: 200 }, env);
    const a = services.createReceiverManager('a', recordingListener().listener);
    const b = services.createReceiverManager('b', recordingListener().listener);

    a.monitorTarget('peer', recordingTarget().target);
    b.stop();
    clock.advance(100);

    expect(a.getMonitoredTargets()).toEqual(['peer']);
    expect(a.isStopped).toBe(false);
    expect(b.getMonitoredTargets()).toEqual([]);
  });
});

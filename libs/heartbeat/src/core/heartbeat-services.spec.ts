import {
  DEFAULT_HEARTBEAT_CONFIGURATION,
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
import { HeartbeatServices, NoOpHeartbeatManager } from './heartbeat-services.js';
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
  const logger: HeartbeatLogger = {
    error: (message) => errors.push(message),
    warn: () => undefined,
  };
  return { clock, errors, env: { clock, scheduler: clock, logger } };
}

/** A sender made by the factory, monitoring one target, not started. */
function unstartedSender() {
  const { clock, env } = environment();
  const services = HeartbeatServices.fromConfiguration({ interval: 50, timeout: 200 }, env);
  const sender = services.createSenderManager('rm', recordingListener().listener);
  const peer = recordingTarget();
  sender.monitorTarget('tm-1', peer.target);
  return { clock, sender, peer };
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

describe('NoOpHeartbeatManager', () => {
  it('monitors nothing: last heartbeat -1, no targets, the given target disposed at once', () => {
    const manager: HeartbeatManager<string, string> = new NoOpHeartbeatManager();
    const peer = recordingTarget();

    manager.monitorTarget('peer', peer.target);

    expect(manager.ownResourceId).toBe('no-op');
    expect(manager.isStopped).toBe(false);
    expect(peer.disposed()).toBe(1);
    expect(manager.getMonitoredTargets()).toEqual([]);
    expect(manager.getLastHeartbeatFrom('peer')).toBe(-1);
  });

  it('answers nothing and never fails', async () => {
    const manager: HeartbeatManager<string, string> = new NoOpHeartbeatManager('idle');
    const peer = recordingTarget();
    manager.monitorTarget('peer', peer.target);

    await expect(manager.requestHeartbeat('peer', 'hello')).resolves.toBeUndefined();
    await expect(manager.receiveHeartbeat('peer', 'hello')).resolves.toBeUndefined();
    manager.unmonitorTarget('peer');
    manager.stop();

    expect(manager.ownResourceId).toBe('idle');
    expect(peer.calls).toEqual([]);
  });

  it('logs a target whose dispose throws, instead of throwing at the caller', () => {
    const errors: string[] = [];
    const logger: HeartbeatLogger = {
      warn: () => undefined,
      error: (message) => void errors.push(message),
    };
    const manager = new NoOpHeartbeatManager('idle', logger);
    const target = {
      requestHeartbeat: () => Promise.resolve(),
      receiveHeartbeat: () => Promise.resolve(),
      dispose: () => {
        throw new Error('already closed');
      },
    };

    expect(() => manager.monitorTarget('peer', target)).not.toThrow();
    expect(errors).toEqual(['Disposing the heartbeat target peer failed: already closed']);
  });
});

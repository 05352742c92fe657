import { readResourceManagerConfig } from '../resource-manager.config.js';
import {
  NotLeaderError,
  ResourceManagerLeadership,
} from './resource-manager-leadership.service.js';

const identity = { resourceManagerId: 'resource-manager-test' };

describe('ResourceManagerLeadership', () => {
  it('leads from the start without HA, with its start time in ms as the fencing token', async () => {
    const before = Date.now();
    const leadership = new ResourceManagerLeadership(
      readResourceManagerConfig({ RM_HTTP_PORT: '8181' }),
      identity,
    );
    const after = Date.now();
    try {
      const { leader, fencingToken, since } = leadership.current;
      expect(leader).toBe(true);
      expect(leadership.isLeader()).toBe(true);
      expect(fencingToken).toBe(String(since));
      expect(since).toBeGreaterThanOrEqual(before);
      expect(since).toBeLessThanOrEqual(after);
      expect(leadership.requireLeadership()).toBe(fencingToken);
      expect(leadership.leaderUrl()).toBe('http://127.0.0.1:8181');
      await leadership.start(); // nothing to join without HA
      expect(leadership.current.fencingToken).toBe(fencingToken);
    } finally {
      await leadership.beforeApplicationShutdown();
    }
  });

  it('gives a later start a larger token', async () => {
    const config = readResourceManagerConfig({});
    const first = new ResourceManagerLeadership(config, identity);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = new ResourceManagerLeadership(config, identity);
    expect(BigInt(second.requireLeadership())).toBeGreaterThan(BigInt(first.requireLeadership()));
    await first.beforeApplicationShutdown();
    await second.beforeApplicationShutdown();
  });

  it('stands by with HA until elected: no token, and a NotLeaderError for what only a leader may do', async () => {
    const leadership = new ResourceManagerLeadership(
      readResourceManagerConfig({ HA_MODE: 'etcd' }),
      identity,
    );
    try {
      expect(leadership.current).toEqual({ leader: false, fencingToken: null, since: null });
      expect(leadership.isLeader()).toBe(false);
      expect(leadership.leaderUrl()).toBeNull(); // no election joined: no leader known
      expect(() => leadership.requireLeadership()).toThrow(NotLeaderError);
      expect(() => leadership.requireLeadership()).toThrow(new NotLeaderError(null));
      expect(new NotLeaderError(null).message).toBe('not the leader');
      expect(new NotLeaderError('http://10.0.0.1:8081').message).toBe(
        'not the leader (the leader is http://10.0.0.1:8081)',
      );
    } finally {
      await leadership.beforeApplicationShutdown();
    }
  });

  it('tells its leadership in leadership$, the current one first, and completes on shutdown', async () => {
    const leadership = new ResourceManagerLeadership(readResourceManagerConfig({}), identity);
    const seen: boolean[] = [];
    let completed = false;
    leadership.leadership$.subscribe({
      next: ({ leader }) => seen.push(leader),
      complete: () => (completed = true),
    });
    expect(seen).toEqual([true]);
    await leadership.beforeApplicationShutdown();
    expect(completed).toBe(true);
  });
});

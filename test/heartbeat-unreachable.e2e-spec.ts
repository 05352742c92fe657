import { AppPool } from './fixtures/heartbeat-apps.js';
import { freePort, sleep, waitFor } from './fixtures/e2e-utils.js';
import { senderModule, SenderPeer } from './fixtures/sender-receiver.js';

const interval = 100;
const timeout = 5_000;
const rpcFailureThreshold = 3;

describe('a sender pointed at a port where nothing listens', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it(
    `fires @OnTargetUnreachable after ${rpcFailureThreshold} refused requests, long before the timeout`,
    async () => {
      const deadPort = await freePort();
      const sender = await apps.start(
        senderModule('sender-1', { interval, timeout, rpcFailureThreshold }),
      );
      const peer = sender.get(SenderPeer);

      const monitoredAt = Date.now();
      peer.monitor('ghost', deadPort);
      const [unreachable] = await waitFor(
        'the target to be reported unreachable',
        () => peer.of('unreachable').length > 0 && peer.of('unreachable'),
        { timeout: timeout / 2 },
      );

      expect(unreachable.id).toBe('ghost');
      // The first request goes out at the sender's next run (within one interval), then one per
      // interval: the third refusal comes after at least two intervals, and in a few of them.
      const elapsed = unreachable.at - monitoredAt;
      expect(elapsed).toBeGreaterThanOrEqual(2 * interval - 20);
      expect(elapsed).toBeLessThan(timeout / 2);
      // It took the threshold's worth of requests (a fourth may be on its way if a refusal was slow).
      expect(unreachable.retrievals).toBeGreaterThanOrEqual(rpcFailureThreshold);
      expect(unreachable.retrievals).toBeLessThanOrEqual(rpcFailureThreshold + 1);
      expect(peer.manager.getLastHeartbeatFrom('ghost')).toBe(0);

      // Unreachable is terminal: it does not fire again, and it cancelled the timeout timer, which
      // would have fired `timeout` after monitorTarget (no heartbeat ever arrived).
      await sleep(monitoredAt + timeout + 500 - Date.now());
      expect(peer.of('unreachable')).toEqual([unreachable]);
      expect(peer.of('timeout')).toEqual([]);
      expect(peer.of('payload')).toEqual([]);
      expect(peer.manager.getLastHeartbeatFrom('ghost')).toBe(0);
    },
    timeout + 10_000,
  );
});

import { AppPool } from './fixtures/heartbeat-apps.js';
import {
  resourcesAbove,
  resourcesLeftAbove,
  settledResourceCounts,
  waitFor,
} from './fixtures/e2e-utils.js';
import { RECEIVER_ID, SENDER_ID, startPair } from './fixtures/sender-receiver.js';

describe('shutting heartbeating apps down', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it('leaves no timer, socket or server behind, and stops the managers', async () => {
    const baseline = await settledResourceCounts();

    const { sender, receiver } = await startPair(apps);
    await waitFor(
      'payloads both ways',
      () => sender.peer.of('payload').length >= 3 && receiver.peer.of('payload').length >= 3,
    );
    // While they run, the probe does see their handles: two servers, their connections, timers.
    const whileRunning = resourcesAbove(baseline);
    expect(whileRunning.TCPServerWrap).toBe(2);
    expect(whileRunning.TCPSocketWrap ?? whileRunning.TCPWRAP).toBeGreaterThanOrEqual(2);
    expect(whileRunning.Timeout).toBeGreaterThanOrEqual(1);

    await sender.app.close();
    await receiver.app.close();

    // Sockets may take a moment to finish closing; nothing else should be left.
    const leftover = await resourcesLeftAbove(baseline);
    expect(leftover).toEqual({});

    for (const [manager, peerId] of [
      [sender.peer.manager, RECEIVER_ID],
      [receiver.peer.manager, SENDER_ID],
    ] as const) {
      expect(manager.isStopped).toBe(true);
      expect(manager.getLastHeartbeatFrom(peerId)).toBe(-1);
      expect(manager.getMonitoredTargets()).toEqual([]);
    }
  }, 10_000);
});

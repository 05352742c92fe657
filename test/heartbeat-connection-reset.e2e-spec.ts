import { FaultProxy } from './fixtures/fault-proxy.js';
import { AppPool } from './fixtures/heartbeat-apps.js';
import { sleep, waitFor } from './fixtures/e2e-utils.js';
import {
  RECEIVER_ID,
  ReceiverPeer,
  receiverModule,
  SENDER_ID,
  SenderPeer,
  senderModule,
} from './fixtures/sender-receiver.js';
import type { HeartbeatPeer } from './fixtures/heartbeat-peer.js';

// A slower beat than the other library tests, so that "between two heartbeats" is a wide window.
const interval = 300;
const settings = { interval, timeout: 3_000, requestTimeout: 250 };

const answers = (peer: HeartbeatPeer) => peer.of('payload', RECEIVER_ID).length;

/** Black-holes the connection until the sender's next request is on its way, then resets it. */
async function resetUnderRequest(peer: HeartbeatPeer, faults: FaultProxy): Promise<void> {
  faults.blackHole();
  const sent = peer.of('retrieve', RECEIVER_ID).length;
  await waitFor(
    'a request into the black hole',
    () => peer.of('retrieve', RECEIVER_ID).length > sent,
    {
      timeout: 5 * interval,
    },
  );
  await sleep(20); // the request leaves right after its payload is retrieved
  faults.reset();
}

/**
 * A sender whose target (made by HeartbeatTargetFactory.createTcpTarget) reaches the receiver
 * through a fault proxy; the receiver answers the sender directly.
 */
describe('a heartbeat target whose connection is reset', () => {
  const apps = new AppPool();
  let proxy: FaultProxy | undefined;

  afterEach(async () => {
    await apps.closeAll();
    await proxy?.close();
    proxy = undefined;
  });

  async function startBehindProxy(rpcFailureThreshold: number): Promise<HeartbeatPeer> {
    const sender = await apps.start(senderModule(SENDER_ID, { ...settings, rpcFailureThreshold }));
    const receiver = await apps.start(receiverModule(RECEIVER_ID, settings));
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: receiver.port });
    const senderPeer = sender.get(SenderPeer);
    receiver.get(ReceiverPeer).monitor(SENDER_ID, sender.port);
    senderPeer.monitor(RECEIVER_ID, proxy.port);
    await waitFor('two answers through the proxy', () => answers(senderPeer) >= 2);
    expect(proxy.accepted).toBe(1);
    return senderPeer;
  }

  it('opens a new connection at the next heartbeat after an idle reset, which succeeds (threshold 1)', async () => {
    const peer = await startBehindProxy(1);
    // Just after an answer the connection is idle until the next request, an interval later.
    const seen = answers(peer);
    await waitFor('a fresh answer', () => answers(peer) > seen, { timeout: 5 * interval });
    await sleep(interval / 3);
    proxy!.reset();

    await waitFor('answers over a new connection', () => answers(peer) >= seen + 4, {
      timeout: 10 * interval,
    });
    expect(proxy!.accepted).toBe(2);
    expect(proxy!.openConnections).toBe(1);
    // Had the client reused its dead connection, that heartbeat would have failed: with
    // threshold 1, the target would be unreachable.
    expect(peer.of('unreachable')).toEqual([]);
    expect(peer.of('timeout')).toEqual([]);
  });

  it('counts a reset under a request as one unreachable failure: threshold 1 marks the target unreachable', async () => {
    const peer = await startBehindProxy(1);
    await resetUnderRequest(peer, proxy!);

    const [unreachable] = await waitFor('the target to be unreachable', () => {
      const events = peer.of('unreachable', RECEIVER_ID);
      return events.length > 0 && events;
    });
    expect(unreachable.id).toBe(RECEIVER_ID);
    await sleep(3 * interval);
    expect(peer.of('unreachable')).toHaveLength(1);
    expect(peer.of('timeout')).toEqual([]);
  });

  it('does not mark the target unreachable for one reset below the threshold (2), and heartbeats resume over a new connection', async () => {
    const peer = await startBehindProxy(2);
    await resetUnderRequest(peer, proxy!);
    const afterReset = answers(peer);

    await waitFor('answers over a new connection', () => answers(peer) >= afterReset + 4, {
      timeout: 10 * interval,
    });
    expect(proxy!.accepted).toBe(2);
    expect(peer.of('unreachable')).toEqual([]);
    expect(peer.of('timeout')).toEqual([]);
  });
});

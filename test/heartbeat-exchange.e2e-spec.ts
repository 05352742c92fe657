import { AppPool } from './fixtures/heartbeat-apps.js';
import { sleep, waitFor } from './fixtures/e2e-utils.js';
import {
  RECEIVER_ID,
  RECEIVER_MANAGER,
  receiverModule,
  ReceiverPeer,
  SENDER_ID,
  SENDER_MANAGER,
  SETTINGS,
  startPair,
} from './fixtures/sender-receiver.js';

/** Timers may fire a millisecond or so before Date.now() says the delay has passed. */
const TIMER_SLACK_MS = 20;

describe('heartbeats between a sender app and a receiver app over TCP', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it("carries payloads both ways to the decorated handlers, with the other side's id", async () => {
    const { sender, receiver } = await startPair(apps);
    const startedAt = Date.now();

    await waitFor(
      'three payloads on each side',
      () => sender.peer.of('payload').length >= 3 && receiver.peer.of('payload').length >= 3,
    );

    // The sender's @OnHeartbeatPayload sees the receiver's payloads, retrieved for the sender...
    const atSender = sender.peer.of('payload');
    for (const event of atSender) {
      expect(event).toMatchObject({
        id: RECEIVER_ID,
        payload: { from: RECEIVER_ID, to: SENDER_ID },
      });
    }
    // ... and the receiver's sees the sender's, retrieved for the receiver.
    const atReceiver = receiver.peer.of('payload');
    for (const event of atReceiver) {
      expect(event).toMatchObject({ id: SENDER_ID, payload: { from: SENDER_ID, to: RECEIVER_ID } });
    }
    // Every heartbeat carries a fresh payload: the counters only grow.
    for (const events of [atSender, atReceiver]) {
      const seqs = events.map((event) => event.payload.seq);
      expect(seqs).toEqual(seqs.toSorted((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    // @ProvideHeartbeatPayload is asked only for the monitored peer.
    expect(new Set(sender.peer.of('retrieve').map((event) => event.id))).toEqual(
      new Set([RECEIVER_ID]),
    );
    expect(new Set(receiver.peer.of('retrieve').map((event) => event.id))).toEqual(
      new Set([SENDER_ID]),
    );

    // The target-side hook sees requests arrive at the receiver and replies arrive at the sender.
    expect(receiver.peer.of('incoming')[0]?.heartbeat).toMatchObject({
      manager: RECEIVER_MANAGER,
      kind: 'request',
      origin: SENDER_ID,
      payload: { from: SENDER_ID, to: RECEIVER_ID },
    });
    expect(sender.peer.of('incoming')[0]?.heartbeat).toMatchObject({
      manager: SENDER_MANAGER,
      kind: 'receive',
      origin: RECEIVER_ID,
      payload: { from: RECEIVER_ID, to: SENDER_ID },
    });

    // Both managers record the heartbeats.
    for (const [manager, peerId] of [
      [sender.peer.manager, RECEIVER_ID],
      [receiver.peer.manager, SENDER_ID],
    ] as const) {
      expect(manager.getLastHeartbeatFrom(peerId)).toBeGreaterThanOrEqual(startedAt);
      expect(manager.getLastHeartbeatFrom(peerId)).toBeLessThanOrEqual(Date.now());
    }
    expect([...sender.peer.of('timeout'), ...receiver.peer.of('timeout')]).toEqual([]);
    expect([...sender.peer.of('unreachable'), ...receiver.peer.of('unreachable')]).toEqual([]);
  }, 15_000);

  it("fires the sender's @OnHeartbeatTimeout exactly once, with the receiver's id, when the receiver app closes", async () => {
    const { sender, receiver } = await startPair(apps);
    await waitFor(
      'payloads from the receiver',
      () => sender.peer.of('payload', RECEIVER_ID).length >= 3,
    );

    await receiver.app.close();
    const closedAt = Date.now();
    const [timeout] = await waitFor(
      'the sender to time out the receiver',
      () => sender.peer.of('timeout').length > 0 && sender.peer.of('timeout'),
      { timeout: SETTINGS.timeout + 3_000 },
    );

    expect(timeout.id).toBe(RECEIVER_ID);
    // It fired a full timeout after the last heartbeat, which came before the receiver closed.
    const lastHeartbeat = sender.peer.manager.getLastHeartbeatFrom(RECEIVER_ID);
    expect(lastHeartbeat).toBeGreaterThan(0);
    expect(lastHeartbeat).toBeLessThanOrEqual(closedAt);
    expect(timeout.at - lastHeartbeat).toBeGreaterThanOrEqual(SETTINGS.timeout - TIMER_SLACK_MS);

    // Well beyond another timeout: the monitor stays timed out and does not fire again,
    // although the sender keeps asking the dead receiver (its target is still monitored).
    const retrievalsAtTimeout = sender.peer.of('retrieve', RECEIVER_ID).length;
    await sleep(SETTINGS.timeout * 2);
    expect(sender.peer.of('timeout')).toEqual([timeout]);
    expect(sender.peer.of('unreachable')).toEqual([]);
    expect(sender.peer.of('retrieve', RECEIVER_ID).length).toBeGreaterThan(retrievalsAtTimeout);
    expect(sender.peer.manager.getMonitoredTargets()).toEqual([RECEIVER_ID]);
  }, 15_000);

  it('stops every callback for a target once it is unmonitored', async () => {
    // The sender watches two receivers; it unmonitors A and keeps B as the control.
    const { sender, receiver: receiverA } = await startPair(apps);
    const receiverBApp = await apps.start(receiverModule('receiver-b'));
    const receiverB = receiverBApp.get(ReceiverPeer);
    receiverB.monitor(SENDER_ID, sender.app.port);
    sender.peer.monitor('receiver-b', receiverBApp.port);
    await waitFor(
      'payloads from both receivers',
      () =>
        sender.peer.of('payload', RECEIVER_ID).length >= 3 &&
        sender.peer.of('payload', 'receiver-b').length >= 3,
    );

    expect(await receiverA.app.connections()).toBe(1);
    sender.peer.manager.unmonitorTarget(RECEIVER_ID);
    expect(sender.peer.manager.getMonitoredTargets()).toEqual(['receiver-b']);
    expect(sender.peer.manager.getLastHeartbeatFrom(RECEIVER_ID)).toBe(-1);
    // The manager owns its targets: unmonitoring disposes A's target, which closes its connection.
    let connectionsToA = -1;
    await waitFor(
      'the sender to close its connection to the unmonitored receiver',
      async () => (connectionsToA = await receiverA.app.connections()) === 0,
      { timeout: 2_000 },
    ).catch(() => undefined);
    expect(connectionsToA).toBe(0);
    expect(await receiverBApp.connections()).toBe(1);
    // Let a reply already on the wire land, then stop both receivers.
    await sleep(SETTINGS.interval * 2);
    const eventsForA = sender.peer.events.filter((event) => event.id === RECEIVER_ID).length;
    await receiverA.app.close();
    await receiverBApp.close();
    const closedAt = Date.now();

    // The control times out, so the wait below is long enough for A's timeout too...
    await waitFor(
      'the control receiver to time out',
      () => sender.peer.of('timeout', 'receiver-b').length > 0,
      {
        timeout: SETTINGS.timeout + 3_000,
      },
    );
    await sleep(Math.max(0, closedAt + SETTINGS.timeout * 1.5 - Date.now()));

    // ... but nothing at all happens for A: no timeout, no payload, no request to it.
    expect(sender.peer.events.filter((event) => event.id === RECEIVER_ID)).toHaveLength(eventsForA);
    expect(sender.peer.of('timeout', RECEIVER_ID)).toEqual([]);
    expect(sender.peer.of('timeout')).toHaveLength(1);
  }, 15_000);
});

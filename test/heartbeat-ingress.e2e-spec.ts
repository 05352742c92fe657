import { HEARTBEAT_RECEIVE_PATTERN, HEARTBEAT_REQUEST_PATTERN } from 'nestjs-heartbeat';
import { AppPool } from './fixtures/heartbeat-apps.js';
import { sleep, waitFor } from './fixtures/e2e-utils.js';
import { sendRaw } from './fixtures/raw-client.js';
import {
  RECEIVER_ID,
  RECEIVER_MANAGER,
  SENDER_ID,
  SETTINGS,
  startPair,
} from './fixtures/sender-receiver.js';

describe('the heartbeat transport on the target side', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it('rejects heartbeats when an @OnIncomingHeartbeat handler returns false, so the peer times out', async () => {
    // A threshold that rejections would reach quickly if they were (wrongly) counted as unreachable.
    const { sender, receiver } = await startPair(apps, { sender: { rpcFailureThreshold: 3 } });
    await waitFor(
      'payloads both ways while the receiver accepts',
      () => sender.peer.of('payload').length >= 3 && receiver.peer.of('payload').length >= 3,
    );

    receiver.peer.accepting = false;
    const rejectingFrom = Date.now();
    const [timeout] = await waitFor(
      'the sender to time out the rejecting receiver',
      () => sender.peer.of('timeout').length > 0 && sender.peer.of('timeout'),
      { timeout: SETTINGS.timeout + 3_000 },
    );

    expect(timeout.id).toBe(RECEIVER_ID);
    // The sender's requests kept arriving and were shown to the handler, which turned them away.
    const rejected = receiver.peer.of('incoming').filter((event) => event.at > rejectingFrom);
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    for (const event of rejected) {
      expect(event.heartbeat).toMatchObject({
        manager: RECEIVER_MANAGER,
        kind: 'request',
        origin: SENDER_ID,
      });
    }
    // No heartbeat got through: no replies reached the sender (bar one already on the wire)...
    const settled = rejectingFrom + SETTINGS.interval * 2;
    expect(sender.peer.of('payload').filter((event) => event.at > settled)).toEqual([]);
    expect(sender.peer.manager.getLastHeartbeatFrom(RECEIVER_ID)).toBeLessThanOrEqual(settled);
    // ... and the receiver's manager never saw the rejected requests, so it times out the sender too.
    expect(receiver.peer.of('payload').filter((event) => event.at > rejectingFrom)).toEqual([]);
    await waitFor(
      'the receiver to time out the sender',
      () => receiver.peer.of('timeout', SENDER_ID).length === 1,
      {
        timeout: SETTINGS.timeout + 3_000,
      },
    );
    // A rejection is an answer, not an unreachable peer.
    expect(sender.peer.of('unreachable')).toEqual([]);
  }, 15_000);

  it('answers a heartbeat for an unknown manager with an error and keeps serving its peer', async () => {
    const { sender, receiver } = await startPair(apps);
    await waitFor(
      'payloads from the receiver',
      () => sender.peer.of('payload', RECEIVER_ID).length >= 3,
    );

    const forNobody = { manager: 'no-such-manager', origin: 'intruder', payload: { evil: true } };
    await expect(
      sendRaw(receiver.app.port, HEARTBEAT_REQUEST_PATTERN, forNobody),
    ).rejects.toMatchObject({
      message: expect.stringContaining('unknown heartbeat manager "no-such-manager"'),
    });
    await expect(
      sendRaw(sender.app.port, HEARTBEAT_RECEIVE_PATTERN, forNobody),
    ).rejects.toMatchObject({
      message: expect.stringContaining('unknown heartbeat manager "no-such-manager"'),
    });
    // A malformed message gets an error reply too, naming the field at fault.
    await expect(
      sendRaw(receiver.app.port, HEARTBEAT_REQUEST_PATTERN, {
        manager: RECEIVER_MANAGER,
        payload: null,
      }),
    ).rejects.toMatchObject({ message: expect.stringContaining('"origin"') });

    // The intruder reached no handler and no manager.
    for (const peer of [sender.peer, receiver.peer]) {
      expect(peer.events.filter((event) => event.id === 'intruder')).toEqual([]);
    }
    expect(receiver.peer.manager.getMonitoredTargets()).toEqual([SENDER_ID]);
    expect(sender.peer.manager.getMonitoredTargets()).toEqual([RECEIVER_ID]);

    // The legitimate heartbeats go on, both ways, past a whole timeout.
    const afterIntrusion = Date.now();
    await sleep(SETTINGS.timeout + SETTINGS.interval * 2);
    expect(
      sender.peer.of('payload', RECEIVER_ID).filter((event) => event.at > afterIntrusion).length,
    ).toBeGreaterThanOrEqual(3);
    expect(
      receiver.peer.of('payload', SENDER_ID).filter((event) => event.at > afterIntrusion).length,
    ).toBeGreaterThanOrEqual(3);
    expect([...sender.peer.of('timeout'), ...receiver.peer.of('timeout')]).toEqual([]);
    expect(sender.peer.manager.getLastHeartbeatFrom(RECEIVER_ID)).toBeGreaterThan(afterIntrusion);
  }, 15_000);
});

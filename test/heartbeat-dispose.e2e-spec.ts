import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { HeartbeatRegistry, HeartbeatTargetFactory } from 'nestjs-heartbeat';
import { AppPool } from './fixtures/heartbeat-apps.js';
import { countActiveResources, waitFor } from './fixtures/e2e-utils.js';
import { SENDER_MANAGER, senderModule } from './fixtures/sender-receiver.js';

const openSockets = () => {
  const counts = countActiveResources();
  return (counts.TCPSocketWrap ?? 0) + (counts.TCPWRAP ?? 0);
};

describe('disposing a TCP target', () => {
  const apps = new AppPool();
  const peerSockets: Socket[] = [];
  // A peer that accepts connections and then never answers nor closes its side.
  const silentPeer = createServer({ allowHalfOpen: true }, (socket) => peerSockets.push(socket));

  beforeAll(async () => {
    silentPeer.listen(0, '127.0.0.1');
    await once(silentPeer, 'listening');
  });

  afterAll(async () => {
    await apps.closeAll();
    peerSockets.forEach((socket) => socket.destroy());
    silentPeer.close();
  });

  it('releases its socket at once when the target is unmonitored, even if the peer never closes its side', async () => {
    const app = await apps.start(senderModule());
    const manager = app.get(HeartbeatRegistry).getManager(SENDER_MANAGER);
    const { port } = silentPeer.address() as AddressInfo;
    manager.monitorTarget(
      'silent',
      app
        .get(HeartbeatTargetFactory)
        .createTcpTarget({ host: '127.0.0.1', port, remoteManager: 'x' }),
    );
    await waitFor('the first request to connect', () => peerSockets.length === 1);
    const whileMonitored = openSockets();

    manager.unmonitorTarget('silent');

    // The peer's side stays open (half-open allowed); only our client's socket may go away.
    await waitFor('the client socket to be released', () => openSockets() === whileMonitored - 1, {
      timeout: 2_000,
    });
    expect(openSockets()).toBe(whileMonitored - 1);
  }, 10_000);
});

import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { FaultProxy } from './fixtures/fault-proxy.js';
import { sleep, waitFor } from './fixtures/e2e-utils.js';

/** A loopback client that records what it received and how it ended. */
class Probe {
  readonly socket = new Socket();
  received = '';
  arrivals: Array<{ text: string; at: number }> = [];
  error: NodeJS.ErrnoException | null = null;
  closed = false;

  constructor(port: number) {
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString();
      this.arrivals.push({ text: chunk.toString(), at: Date.now() });
    });
    this.socket.on('error', (error) => (this.error = error));
    this.socket.on('close', () => (this.closed = true));
    this.socket.connect(port, '127.0.0.1');
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connecting) {
        resolve();
        return;
      }
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }
}

describe('FaultProxy (in front of an echo server)', () => {
  let echo: Server;
  let proxy: FaultProxy;
  const probes: Probe[] = [];
  const probe = async () => {
    const created = new Probe(proxy.port);
    probes.push(created);
    await created.connected();
    return created;
  };

  beforeEach(async () => {
    echo = createServer((socket) => {
      socket.on('error', () => undefined); // the proxy resets it in some tests
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    proxy = await FaultProxy.start({
      host: '127.0.0.1',
      port: (echo.address() as AddressInfo).port,
    });
  });

  afterEach(async () => {
    for (const created of probes.splice(0)) {
      created.socket.destroy();
    }
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('passes bytes both ways and counts connections', async () => {
    const client = await probe();
    client.socket.write('hello');
    await waitFor('the echo', () => client.received === 'hello');
    expect(proxy.accepted).toBe(1);
    expect(proxy.openConnections).toBe(1);
  });

  it('delays every chunk by the latency plus jitter, in order', async () => {
    const client = await probe();
    proxy.delay({ latencyMs: 60, jitterMs: 60 });
    const sentAt = Date.now();
    for (const text of ['a', 'b', 'c', 'd', 'e']) {
      client.socket.write(text);
      await sleep(5);
    }
    await waitFor('the five echoes', () => client.received.length === 5, { timeout: 3_000 });
    expect(client.received).toBe('abcde');
    // Each chunk is delayed on the way there and back: at least twice the latency.
    expect(client.arrivals[0].at - sentAt).toBeGreaterThanOrEqual(2 * 60 - 5);
  });

  it('black-holes bytes while keeping the connection open, and resets it when healed', async () => {
    const client = await probe();
    proxy.blackHole();
    client.socket.write('lost');
    await sleep(300);
    expect(client.received).toBe('');
    expect(client.closed).toBe(false);
    expect(proxy.openConnections).toBe(1);

    // New connections are accepted during the partition, and silent too.
    const during = await probe();
    during.socket.write('also lost');
    await sleep(100);
    expect(during.received).toBe('');

    proxy.pass();
    // Both lost bytes: their streams have holes, so they are reset.
    await waitFor(
      'the reset of the connections that lost bytes',
      () => client.closed && during.closed,
    );
    expect(client.error?.code).toBe('ECONNRESET');
    expect(during.error?.code).toBe('ECONNRESET');

    const after = await probe();
    after.socket.write('back');
    await waitFor('the echo after healing', () => after.received === 'back');
  });

  it('keeps connections that lost bytes silent after the black hole, if asked to', async () => {
    const client = await probe();
    proxy.blackHole({ lostConnections: 'silent' });
    client.socket.write('lost');
    const untouched = await probe(); // opened in the black hole, but lost nothing
    await sleep(100);
    proxy.pass();

    client.socket.write('still lost');
    untouched.socket.write('fine');
    await waitFor(
      'the echo on the connection that lost nothing',
      () => untouched.received === 'fine',
    );
    await sleep(200);
    expect(client.received).toBe('');
    expect(client.closed).toBe(false);
  });

  it('resets open connections, and refuses new ones until the mode changes', async () => {
    const client = await probe();
    proxy.reset({ refuseNew: true });
    await waitFor('the reset', () => client.closed);
    expect(client.error?.code).toBe('ECONNRESET');

    const refused = new Probe(proxy.port);
    probes.push(refused);
    await waitFor('the refusal', () => refused.closed);
    expect(refused.error?.code).toBe('ECONNRESET');
    expect(refused.received).toBe('');

    proxy.pass();
    const after = await probe();
    after.socket.write('again');
    await waitFor('the echo after the resets', () => after.received === 'again');
    expect(proxy.accepted).toBe(3);
  });

  it('closes every socket it holds on close()', async () => {
    const client = await probe();
    proxy.blackHole();
    await proxy.close();
    await waitFor('the client to be closed', () => client.closed);
    expect(proxy.openConnections).toBe(0);
  });
});

import { jest } from '@jest/globals';
import { ClientNats, ClientRedis, Transport } from '@nestjs/microservices';
import { firstValueFrom, of } from 'rxjs';
import type { BrokerClientOptions } from './broker-client-options.js';
import { BrokerClients } from './broker-clients.js';
import { RedisHeartbeatClient } from './redis-heartbeat-client.js';

const NATS: BrokerClientOptions = {
  transport: Transport.NATS,
  options: { servers: 'nats://127.0.0.1:4222' },
};
const REDIS: BrokerClientOptions = {
  transport: Transport.REDIS,
  options: { host: '127.0.0.1', port: 6379 },
};

describe('BrokerClients', () => {
  const logger = { warn: jest.fn(), error: jest.fn() };
  let clients: BrokerClients;
  let natsClosed: ReturnType<typeof jest.spyOn>;
  let redisClosed: ReturnType<typeof jest.spyOn>;
  /** Every client a lease sent through, in order. */
  let sentBy: object[];

  beforeEach(() => {
    clients = new BrokerClients(logger);
    sentBy = [];
    natsClosed = jest.spyOn(ClientNats.prototype, 'close').mockResolvedValue(undefined);
    redisClosed = jest.spyOn(ClientRedis.prototype, 'close').mockResolvedValue(undefined);
    for (const type of [ClientNats, ClientRedis]) {
      jest.spyOn(type.prototype, 'send').mockImplementation(function (this: object) {
        sentBy.push(this);
        return of({ accepted: true });
      });
    }
  });

  afterEach(() => {
    jest.restoreAllMocks();
    logger.warn.mockReset();
  });

  it("makes Nest's ClientNats for NATS and the library's RedisHeartbeatClient for Redis", () => {
    clients.lease(NATS, 'nats').send('p', {}).subscribe();
    clients.lease(REDIS, 'redis').send('p', {}).subscribe();

    expect(sentBy[0]).toBeInstanceOf(ClientNats);
    expect(sentBy[1]).toBeInstanceOf(RedisHeartbeatClient);
  });

  it('shares one client between the leases of one options object, and closes it with the last lease', async () => {
    const first = clients.lease(NATS, 'nats');
    const second = clients.lease(NATS, 'nats');
    const other = clients.lease({ ...NATS }, 'nats'); // another object: a client of its own
    for (const lease of [first, second, other]) {
      lease.send('heartbeat.request.tm-1', {}).subscribe();
    }
    expect(sentBy[0]).toBe(sentBy[1]);
    expect(sentBy[2]).not.toBe(sentBy[0]);

    await first.close();
    await first.close(); // a lease is released once
    expect(natsClosed).not.toHaveBeenCalled();
    await second.close();
    expect(natsClosed.mock.contexts).toEqual([sentBy[0]]);

    // A lease taken afterwards gets a new client.
    clients.lease(NATS, 'nats').send('p', {}).subscribe();
    expect(sentBy[3]).not.toBe(sentBy[0]);
  });

  it('closes every client still open, and waits for those being closed', async () => {
    let finishClosing: (() => void) | undefined;
    redisClosed.mockImplementation(() => new Promise<void>((resolve) => (finishClosing = resolve)));
    const redis = clients.lease(REDIS, 'redis');
    clients.lease(NATS, 'nats');
    const released = redis.close(); // its client is closing, not closed yet

    let closedAll = false;
    const all = clients.closeAll().then(() => (closedAll = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(natsClosed).toHaveBeenCalledTimes(1);
    expect(closedAll).toBe(false);

    finishClosing?.();
    await Promise.all([all, released]);
    expect(closedAll).toBe(true);
  });

  it('opens nothing for a lease used after it, or its client, was closed, and makes no client after shutdown', async () => {
    const released = clients.lease(NATS, 'nats://127.0.0.1:4222');
    const kept = clients.lease(NATS, 'nats://127.0.0.1:4222');
    await released.close();
    await expect(firstValueFrom(released.send('heartbeat.request.tm-1', {}))).rejects.toThrow(
      'The heartbeat client of broker nats://127.0.0.1:4222 is closed',
    );
    expect(sentBy).toEqual([]);

    await clients.closeAll();
    await expect(firstValueFrom(kept.send('heartbeat.request.tm-1', {}))).rejects.toThrow(
      'The heartbeat client of broker nats://127.0.0.1:4222 is closed',
    );
    expect(sentBy).toEqual([]);
    expect(() => clients.lease(REDIS, 'redis://127.0.0.1:6379')).toThrow(
      'No heartbeat broker target can be made once the application has shut down (broker redis://127.0.0.1:6379)',
    );
  });

  it('logs a client that fails to close, naming its broker, and goes on', async () => {
    natsClosed.mockRejectedValue(new Error('boom'));
    const lease = clients.lease(NATS, 'nats://127.0.0.1:4222');

    await expect(lease.close()).resolves.toBeUndefined();
    expect(logger.warn.mock.calls).toEqual([
      ['Closing the heartbeat client of broker nats://127.0.0.1:4222 failed: Error: boom'],
    ]);
  });
});

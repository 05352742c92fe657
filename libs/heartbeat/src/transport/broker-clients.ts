import { ClientNats, Transport } from '@nestjs/microservices';
import { throwError } from 'rxjs';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import type { BrokerClientOptions } from './broker-client-options.js';
import type { HeartbeatClient } from './client-proxy-heartbeat-target.js';
import { RedisHeartbeatClient } from './redis-heartbeat-client.js';

interface Shared {
  readonly client: HeartbeatClient;
  readonly broker: string;
  users: number;
  /** Set once it is closed: Nest's clients connect again on the next send, and it must not. */
  closed: boolean;
}

/**
 * The broker clients of one application's broker targets. With a broker, one connection reaches
 * every recipient (each RPC names its recipient in its subject), so the targets made with the same
 * options object share one Nest client: a sender of a thousand TaskManagers holds one NATS
 * connection (two for Redis: Nest's publisher and subscriber), not a thousand. Each target holds a
 * lease; the client is closed when the last lease is closed (the last of its targets disposed),
 * and whatever is still open when the application shuts down.
 */
export class BrokerClients {
  private readonly shared = new Map<BrokerClientOptions, Shared>();
  private readonly closing = new Set<Promise<void>>();
  /** Set by `closeAll()` (the application shut down): no client is made after it. */
  private shutDown = false;

  constructor(private readonly logger: HeartbeatLogger) {}

  /** A lease on the client for `options` (made now if none is open): closing it releases it. */
  lease(options: BrokerClientOptions, broker: string): HeartbeatClient {
    if (this.shutDown) {
      throw new Error(
        `No heartbeat broker target can be made once the application has shut down (broker ${broker})`,
      );
    }
    let entry = this.shared.get(options);
    if (!entry) {
      entry = { client: createClient(options), broker, users: 0, closed: false };
      this.shared.set(options, entry);
    }
    entry.users += 1;
    const shared = entry;
    let released = false;
    return {
      // A target used after its lease or its client was closed fails, and opens nothing.
      send: (pattern, data) =>
        released || shared.closed
          ? throwError(() => new Error(`The heartbeat client of broker ${broker} is closed`))
          : shared.client.send(pattern, data),
      close: async () => {
        if (!released) {
          released = true;
          await this.release(options, shared);
        }
      },
    };
  }

  /** Closes every client still open, and waits for those being closed. */
  async closeAll(): Promise<void> {
    this.shutDown = true;
    for (const [options, entry] of this.shared) {
      this.shared.delete(options);
      this.close(entry);
    }
    await Promise.all(this.closing);
  }

  private async release(options: BrokerClientOptions, entry: Shared): Promise<void> {
    entry.users -= 1;
    if (entry.users === 0 && this.shared.get(options) === entry) {
      this.shared.delete(options);
      await this.close(entry);
    }
  }

  private close(entry: Shared): Promise<void> {
    const { client, broker } = entry;
    entry.closed = true;
    const closed = Promise.resolve()
      .then(() => client.close())
      .then(
        () => undefined,
        (error: unknown) =>
          this.logger.warn(
            `Closing the heartbeat client of broker ${broker} failed: ${String(error)}`,
          ),
      )
      .finally(() => this.closing.delete(closed));
    this.closing.add(closed);
    return closed;
  }
}

function createClient(options: BrokerClientOptions): HeartbeatClient {
  return options.transport === Transport.NATS
    ? // nats.js gives up after 10 reconnects by default, and a shared client would stay dead.
      new ClientNats({ maxReconnectAttempts: -1, ...options.options })
    : new RedisHeartbeatClient(options.options ?? {});
}

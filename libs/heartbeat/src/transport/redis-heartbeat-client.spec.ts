import { ClientRedis } from '@nestjs/microservices';
import { RedisHeartbeatClient } from './redis-heartbeat-client.js';

type Commands = {
  publish(channel: string, message: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  disconnect(): void;
  status: string;
};

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RedisHeartbeatClient', () => {
  it("is Nest's ClientRedis", () => {
    expect(new RedisHeartbeatClient({ port: 6379 })).toBeInstanceOf(ClientRedis);
  });

  it('makes ioredis clients whose publish, subscribe and unsubscribe failures are handled: no unhandled rejection when the connection is gone', async () => {
    // A lazy client never connects: disconnected at once, every command fails as on a lost broker.
    const redis = (await new RedisHeartbeatClient({ port: 6379 }).createClient()) as Commands;
    redis.disconnect();
    expect(redis.status).toBe('end');

    // As ClientRedis sends them: nobody looks at the promises. Jest fails a test on an unhandled
    // rejection, so this passing is the proof (Nest's own client fails it: see the broker e2e tests).
    void redis.publish('heartbeat.request.tm-1', '{}');
    void redis.unsubscribe('heartbeat.request.tm-1.reply');
    void redis.subscribe('heartbeat.request.tm-1.reply');
    await flush();

    // Whoever does look still sees the failure.
    await expect(redis.publish('heartbeat.request.tm-1', '{}')).rejects.toThrow(
      'Connection is closed.',
    );
  });
});

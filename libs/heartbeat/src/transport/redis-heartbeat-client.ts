import { ClientRedis } from '@nestjs/microservices';

/**
 * ioredis commands Nest's `ClientRedis` sends without a callback and without looking at the
 * promise they return: `publish` (every request), `unsubscribe` (when a request settles),
 * `subscribe` (in some versions).
 */
const UNWATCHED_COMMANDS = ['publish', 'subscribe', 'unsubscribe'] as const;

type Command = (...args: unknown[]) => unknown;
type CommandSender = Record<(typeof UNWATCHED_COMMANDS)[number], Command>;

const ignore = () => undefined;

/** Makes the promises of the unwatched commands of an ioredis client handled ones. */
function watchCommands<T>(client: T): T {
  const sender = client as unknown as CommandSender;
  for (const name of UNWATCHED_COMMANDS) {
    const send = sender[name];
    if (typeof send !== 'function') {
      continue;
    }
    sender[name] = function (this: unknown, ...args: unknown[]) {
      const result = send.apply(this, args);
      (result as Promise<unknown> | undefined)?.catch?.(ignore);
      return result;
    };
  }
  return client;
}

const isPromise = (value: unknown): value is Promise<unknown> =>
  typeof (value as Promise<unknown> | null)?.then === 'function';

/**
 * Nest's Redis client, made safe to lose its broker under a heartbeat: when the connection to Redis
 * closes while a request is in flight (the broker killed or restarted), ioredis rejects the
 * pending `publish` and the request's `unsubscribe`, whose promises `ClientRedis` leaves unhandled,
 * and Node ends the process on an unhandled rejection. Here those promises are handled (their
 * errors ignored: the request itself fails, with "Connection is closed.", and Nest logs the
 * connection's error). Everything else is Nest's `ClientRedis`.
 */
export class RedisHeartbeatClient extends ClientRedis {
  override createClient(): ReturnType<ClientRedis['createClient']> {
    // A promise in Nest 12, the client itself in Nest 11.
    const made: unknown = super.createClient();
    return (isPromise(made) ? made.then(watchCommands) : watchCommands(made)) as ReturnType<
      ClientRedis['createClient']
    >;
  }
}

import { Transport, type NatsOptions, type RedisOptions } from '@nestjs/microservices';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { describeValue } from '../core/values.js';

/**
 * Nest's client options of a broker the library's broker targets reach their recipients through:
 * NATS (`{ transport: Transport.NATS, options: { servers } }`, with `@nats-io/transport-node`
 * installed under Nest 12, `nats` under Nest 11) or Redis (`{ transport: Transport.REDIS,
 * options: { host, port } }`, with `ioredis`), as `ClientsModule` takes them; `transport` is
 * required.
 */
export type BrokerClientOptions =
  | (NatsOptions & { readonly transport: Transport.NATS })
  | (RedisOptions & { readonly transport: Transport.REDIS });

const RULE = 'Nest client options { transport: Transport.NATS or Transport.REDIS, options? }';

function invalid(setting: string, rule: string, value: unknown, hint = ''): never {
  throw new HeartbeatConfigurationError(
    `Invalid heartbeat broker target option ${setting}: must be ${rule}, got ${describeValue(value)}${hint}`,
    [{ setting, rule, value }],
  );
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const nonEmptyString = (value: unknown): value is string =>
  typeof value === 'string' && value.trim().length > 0;

/** Why a transport that is not NATS or Redis is refused, and what to use instead. */
function transportHint(transport: unknown): string {
  if (transport === Transport.TCP) {
    return ' (Transport.TCP): over TCP, use createTcpTarget (or fromClient with your own ClientTCP)';
  }
  const name = typeof transport === 'number' ? Transport[transport] : undefined;
  return name ? ` (Transport.${name}): broker targets support NATS and Redis only` : '';
}

/**
 * Checks the client options of a broker target, as far as they can be checked before connecting,
 * and returns how the broker is named in errors (`nats://10.0.0.5:4222`, `redis://cache:6379`).
 * Throws a `HeartbeatConfigurationError` naming the setting at fault.
 */
export function checkBrokerClientOptions(client: unknown): string {
  if (!isObject(client)) {
    return invalid('client', RULE, client);
  }
  if ('customClass' in client) {
    return invalid('client.customClass', 'absent (the target makes its own client)', '(a class)');
  }
  const { transport, options = {} } = client;
  if (transport !== Transport.NATS && transport !== Transport.REDIS) {
    return invalid(
      'client.transport',
      'Transport.NATS or Transport.REDIS',
      transport,
      transportHint(transport),
    );
  }
  if (!isObject(options)) {
    return invalid('client.options', 'an object', options);
  }
  return transport === Transport.NATS ? natsBroker(options) : redisBroker(options);
}

function natsBroker({ servers }: Record<string, unknown>): string {
  if (servers === undefined) {
    return 'nats://localhost:4222'; // Nest's default
  }
  const list = Array.isArray(servers) ? servers : [servers];
  if (list.length === 0 || !list.every(nonEmptyString)) {
    return invalid('client.options.servers', 'a server URL or a non-empty array of them', servers);
  }
  return list.join(',');
}

function redisBroker({ host, port }: Record<string, unknown>): string {
  if (host !== undefined && !nonEmptyString(host)) {
    return invalid('client.options.host', 'a non-empty string', host);
  }
  if (
    port !== undefined &&
    !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65_535)
  ) {
    return invalid('client.options.port', 'an integer from 1 to 65535', port);
  }
  return `redis://${host ?? 'localhost'}:${port ?? 6379}`; // Nest's defaults
}

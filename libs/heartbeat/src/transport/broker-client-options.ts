import { Transport, type NatsOptions, type RedisOptions } from '@nestjs/microservices';
import { createRequire } from 'node:module';
import { join } from 'node:path';
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
  requireTransportPackage(transport);
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
  return list.map(withoutCredentials).join(',');
}

/** A server URL as errors and logs name it: without `user:password@`. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

/** The packages Nest's client of each transport loads (NATS: Nest 12's, then Nest 11's). */
const TRANSPORT_PACKAGES = {
  [Transport.NATS]: ['@nats-io/transport-node', 'nats'],
  [Transport.REDIS]: ['ioredis'],
} as const;

/** Whether `name` can be loaded by the application (resolved from its entry script, or from here). */
function installed(name: string): boolean {
  const resolvers = [
    typeof require === 'function' ? require : undefined,
    createRequire(process.argv[1] || join(process.cwd(), 'index.js')),
  ];
  return resolvers.some((resolver) => {
    try {
      resolver?.resolve(name);
      return resolver !== undefined;
    } catch {
      return false;
    }
  });
}

/**
 * Throws a `HeartbeatConfigurationError` unless the package Nest's client of `transport` loads is
 * installed: Nest's loader would end the process instead (for Redis under Nest 12, at the first
 * heartbeat).
 */
export function requireTransportPackage(transport: Transport.NATS | Transport.REDIS): void {
  const packages = TRANSPORT_PACKAGES[transport];
  if (!packages.some(installed)) {
    throw new HeartbeatConfigurationError(
      `A heartbeat broker target over ${Transport[transport]} needs ${packages.join(' (Nest 12) or ')}` +
        `${packages.length > 1 ? ' (Nest 11)' : ''} installed: npm install ${packages[0]}`,
      [
        {
          setting: 'client.transport',
          rule: `${packages.join(' or ')} installed`,
          value: transport,
        },
      ],
    );
  }
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

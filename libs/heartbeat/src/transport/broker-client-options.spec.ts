import { Transport } from '@nestjs/microservices';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { checkBrokerClientOptions } from './broker-client-options.js';

/** The error `checkBrokerClientOptions` throws for `client`, with the setting it names. */
function problemOf(client: unknown) {
  let thrown: unknown;
  try {
    checkBrokerClientOptions(client);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(HeartbeatConfigurationError);
  const { message, problems } = thrown as HeartbeatConfigurationError;
  return { message, setting: problems[0].setting };
}

describe('checkBrokerClientOptions', () => {
  it.each<[unknown, string]>([
    [
      { transport: Transport.NATS, options: { servers: 'nats://10.0.0.5:4222' } },
      'nats://10.0.0.5:4222',
    ],
    [
      { transport: Transport.NATS, options: { servers: ['nats://a:4222', 'nats://b:4222'] } },
      'nats://a:4222,nats://b:4222',
    ],
    [{ transport: Transport.NATS }, 'nats://localhost:4222'],
    [{ transport: Transport.REDIS, options: { host: 'cache', port: 6380 } }, 'redis://cache:6380'],
    [{ transport: Transport.REDIS, options: {} }, 'redis://localhost:6379'],
  ])('accepts %j and names the broker %s', (client, broker) => {
    expect(checkBrokerClientOptions(client)).toBe(broker);
  });

  it('refuses TCP, pointing at the TCP targets', () => {
    expect(problemOf({ transport: Transport.TCP, options: { port: 6123 } })).toEqual({
      setting: 'client.transport',
      message:
        'Invalid heartbeat broker target option client.transport: must be Transport.NATS or ' +
        'Transport.REDIS, got 0 (Transport.TCP): over TCP, use createTcpTarget (or fromClient ' +
        'with your own ClientTCP)',
    });
  });

  it.each([Transport.MQTT, Transport.RMQ, Transport.KAFKA, Transport.GRPC])(
    'refuses transport %s, naming it',
    (transport) => {
      expect(problemOf({ transport, options: {} }).message).toContain(
        `got ${transport} (Transport.${Transport[transport]}): broker targets support NATS and Redis only`,
      );
    },
  );

  it.each<[string, unknown, string]>([
    ['no options at all', undefined, 'client'],
    [
      'options without transport (Nest would take TCP)',
      { options: { servers: 'nats://x' } },
      'client.transport',
    ],
    ['a transport name instead of the enum', { transport: 'nats' }, 'client.transport'],
    ['a custom client class', { customClass: Object, options: {} }, 'client.customClass'],
    [
      'options that are not an object',
      { transport: Transport.NATS, options: 'nats://x' },
      'client.options',
    ],
    [
      'an empty list of servers',
      { transport: Transport.NATS, options: { servers: [] } },
      'client.options.servers',
    ],
    [
      'an empty server URL',
      { transport: Transport.NATS, options: { servers: ['nats://a', ''] } },
      'client.options.servers',
    ],
    [
      'a non-string server',
      { transport: Transport.NATS, options: { servers: 4222 } },
      'client.options.servers',
    ],
    [
      'an empty host',
      { transport: Transport.REDIS, options: { host: ' ' } },
      'client.options.host',
    ],
    ['port 0', { transport: Transport.REDIS, options: { port: 0 } }, 'client.options.port'],
    [
      'port 65536',
      { transport: Transport.REDIS, options: { port: 65_536 } },
      'client.options.port',
    ],
    [
      'a port as a string',
      { transport: Transport.REDIS, options: { port: '6379' } },
      'client.options.port',
    ],
  ])('refuses %s, naming the setting', (_case, client, setting) => {
    expect(problemOf(client).setting).toBe(setting);
  });

  it('says what it got and what it needs', () => {
    expect(problemOf({ transport: Transport.REDIS, options: { port: 70_000 } }).message).toBe(
      'Invalid heartbeat broker target option client.options.port: must be an integer from 1 to 65535, got 70000',
    );
  });
});

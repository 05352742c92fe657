/** What the transports section runs: its four transports and the settings of its two processes. */
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { BrokerClientOptions } from 'nestjs-heartbeat';

/**
 * - tcp: the library's lean TCP client (`createTcpTarget`);
 * - tcp-client-proxy: Nest's `ClientTCP`, one per target (`fromClient`);
 * - nats, redis: through a broker (`createBrokerTarget`), one shared client.
 * The receivers are Nest microservices on that transport importing `HeartbeatModule`.
 */
export type BenchTransport = 'tcp' | 'tcp-client-proxy' | 'nats' | 'redis';
export const BENCH_TRANSPORTS: readonly BenchTransport[] = [
  'tcp',
  'tcp-client-proxy',
  'nats',
  'redis',
];

/** Settings of a transport peer process (`transport-peer.ts`): a sender, or the receivers. */
export interface TransportPeerConfig {
  readonly role: 'sender' | 'receivers';
  readonly transport: BenchTransport;
  /** The broker's URL (`nats://127.0.0.1:…`, `redis://127.0.0.1:…`) for nats and redis. */
  readonly brokerUrl?: string;
  /** Receivers: one Nest app per id, each with its own endpoint (or broker connection). */
  readonly ids: readonly string[];
  /** The receivers' manager, which the sender's targets name. */
  readonly receiverManager: string;
  readonly senderId: string;
  readonly senderManager: string;
  readonly interval: number;
  readonly timeout: number;
  readonly requestTimeout: number;
  readonly rpcFailureThreshold: number;
}

/** Reconnection every 100 ms on both sides (the clients' defaults are 2 to 5 s). */
const RECONNECT_MS = 100;

/** What the sender's broker targets are made with (one object: the targets share its client). */
export function brokerClientOptions(transport: BenchTransport, url: string): BrokerClientOptions {
  const { hostname, port } = new URL(url);
  return transport === 'nats'
    ? { transport: Transport.NATS, options: { servers: url, reconnectTimeWait: RECONNECT_MS } }
    : { transport: Transport.REDIS, options: { host: hostname, port: Number(port) } };
}

/** A receiver's microservice options: loopback TCP on a free port, or the broker, reconnecting for ever. */
export function receiverOptions(transport: BenchTransport, url = ''): MicroserviceOptions {
  if (transport === 'tcp' || transport === 'tcp-client-proxy') {
    return { transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 } };
  }
  if (transport === 'nats') {
    return {
      transport: Transport.NATS,
      options: { servers: url, reconnectTimeWait: RECONNECT_MS, maxReconnectAttempts: -1 },
    };
  }
  const { hostname, port } = new URL(url);
  // Without retryAttempts a ServerRedis never reconnects once its broker went away.
  return {
    transport: Transport.REDIS,
    options: {
      host: hostname,
      port: Number(port),
      retryAttempts: 1_000_000,
      retryDelay: RECONNECT_MS,
    },
  };
}

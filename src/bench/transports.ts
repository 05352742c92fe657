/**
 * Transports: what one heartbeat costs over each transport a sender can reach its receivers by,
 * the library's lean TCP client, Nest's `ClientTCP`, NATS and Redis (through real brokers, Debian's
 * nats-server and redis-server on loopback). Each run is two fresh processes, a sender and the
 * receivers (one Nest microservice per target); the four transports alternate in rounds, each
 * round in a rotated order, and medians are kept. The broker's CPU is read from /proc apart.
 */
import { startNats, startRedis, type LocalServer } from '../services/local-servers.js';
import { Child } from './child.js';
import { log, plan, sleep } from './plan.js';
import type { ProcessMetrics } from './process-metrics.js';
import { processCpuMicros } from './proc-cpu.js';
import { MONITOR_ID, MONITOR_MANAGER, TARGET_MANAGER } from './protocol.js';
import {
  BENCH_TRANSPORTS,
  type BenchTransport,
  type TransportPeerConfig,
} from './transport-config.js';

const START_TIMEOUT_MS = 60_000;
const script = new URL('./transport-peer.js', import.meta.url);

/** One run of one transport: what each process measured over the window. */
export interface TransportRun {
  readonly sender: ProcessMetrics;
  readonly receivers: ProcessMetrics;
  /** CPU µs the broker used over the window (null without a broker, or without /proc). */
  readonly brokerMicros: number | null;
  readonly heartbeats: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly client: string;
}

/** Medians over a transport's runs, per heartbeat. */
export interface TransportRow {
  readonly transport: BenchTransport;
  readonly client: string;
  readonly senderMicros: number;
  readonly receiversMicros: number;
  /** Sender and receivers together: what the two sides' processes pay. */
  readonly peersMicros: number;
  readonly brokerMicros: number | null;
  readonly perSecond: number;
  readonly errors: number;
}

export interface TransportsResult {
  readonly targets: number;
  readonly intervalMs: number;
  readonly rounds: number;
  readonly windowMs: number;
  readonly rows: TransportRow[];
}

const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

export async function measureTransports(): Promise<TransportsResult> {
  const { targets, rounds, windowMs } = plan.transports;
  const intervalMs = targets; // about 1,000 heartbeats per second, as in the overhead section
  log(`transports: starting nats-server and redis-server on loopback`);
  const brokers: Partial<Record<BenchTransport, LocalServer>> = {};
  try {
    brokers.nats = await startNats();
    brokers.redis = await startRedis();
    const runs = new Map<BenchTransport, TransportRun[]>(BENCH_TRANSPORTS.map((t) => [t, []]));
    for (let round = 0; round < rounds; round += 1) {
      for (let turn = 0; turn < BENCH_TRANSPORTS.length; turn += 1) {
        const transport = BENCH_TRANSPORTS[(round + turn) % BENCH_TRANSPORTS.length];
        log(
          `transports: ${transport}, ${targets} receivers, every ${intervalMs} ms (round ${round + 1})`,
        );
        runs.get(transport)!.push(await transportRun(transport, brokers[transport], intervalMs));
      }
    }
    return {
      targets,
      intervalMs,
      rounds,
      windowMs,
      rows: BENCH_TRANSPORTS.map((transport) => rowOf(transport, runs.get(transport)!)),
    };
  } finally {
    await Promise.all(Object.values(brokers).map((broker) => broker.stop()));
  }
}

function rowOf(transport: BenchTransport, runs: TransportRun[]): TransportRow {
  const per = (micros: (run: TransportRun) => number) =>
    median(runs.map((run) => micros(run) / Math.max(1, run.heartbeats)));
  const brokered = runs.every((run) => run.brokerMicros !== null);
  return {
    transport,
    client: runs[0].client,
    senderMicros: per((run) => run.sender.cpuMicros),
    receiversMicros: per((run) => run.receivers.cpuMicros),
    peersMicros: per((run) => run.sender.cpuMicros + run.receivers.cpuMicros),
    brokerMicros: brokered ? per((run) => run.brokerMicros ?? 0) : null,
    perSecond: median(runs.map((run) => run.perSecond)),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  };
}

async function transportRun(
  transport: BenchTransport,
  broker: LocalServer | undefined,
  intervalMs: number,
): Promise<TransportRun> {
  const { targets, windowMs } = plan.transports;
  const config: TransportPeerConfig = {
    role: 'receivers',
    transport,
    ...(broker ? { brokerUrl: broker.url } : {}),
    ids: Array.from({ length: targets }, (_, index) => `target-${index}`),
    receiverManager: TARGET_MANAGER,
    senderId: MONITOR_ID,
    senderManager: MONITOR_MANAGER,
    interval: intervalMs,
    timeout: 60_000,
    requestTimeout: 10_000,
    rpcFailureThreshold: 2,
  };
  const receivers = Child.start(`receivers (${transport})`, script, config);
  const sender = Child.start(`sender (${transport})`, script, { ...config, role: 'sender' });
  try {
    const { targets: addresses } = await receivers.next('listening', START_TIMEOUT_MS);
    await sender.next('ready', START_TIMEOUT_MS);
    sender.send({ type: 'watch', targets: addresses });
    const { client } = await sender.next('watching', START_TIMEOUT_MS);
    // Every connection made and the first rounds done (the brokers' subscriptions too).
    await sleep(Math.max(1_000, 3 * intervalMs + 500));
    const both = [sender, receivers];
    both.forEach((child) => child.send({ type: 'measure-start' }));
    const brokerAtStart = processCpuMicros(broker?.process.pid);
    await sleep(windowMs);
    both.forEach((child) => child.send({ type: 'measure-stop' }));
    const brokerAtEnd = processCpuMicros(broker?.process.pid);
    const [sent, received] = await Promise.all(
      both.map((child) => child.next('metrics', START_TIMEOUT_MS)),
    );
    return {
      sender: sent.metrics,
      receivers: received.metrics,
      brokerMicros:
        brokerAtStart === null || brokerAtEnd === null ? null : brokerAtEnd - brokerAtStart,
      heartbeats: sent.rounds,
      perSecond: sent.perSecond,
      errors: sent.errors + received.errors,
      client,
    };
  } finally {
    // The sender first: receivers that vanish under a live sender would only add failures.
    await sender.stop();
    await receivers.stop();
  }
}

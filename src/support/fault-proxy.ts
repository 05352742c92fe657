/**
 * A loopback TCP proxy that a test (or the benchmark) controls, to inject network faults between
 * two processes. `test/fixtures/fault-proxy.ts` re-exports it for the tests.
 *
 * Every connection accepted on `proxy.port` (127.0.0.1) is relayed to the target. The mode applies
 * to every relayed byte, both ways, from the moment it is set:
 * - `pass()`: bytes go through as they come.
 * - `blackHole({ lostConnections })`: a partition. Connections stay open (new ones are accepted
 *   too) and every byte, and every close, is silently dropped. A connection that lost anything has
 *   a hole in its byte stream, which TCP never delivers: when the black hole ends it is reset
 *   (`'reset'`, the default), or stays silent for good (`'silent'`: a middlebox forgot it, so its
 *   peers only learn of it from their own timeouts, and must open a new connection).
 * - `delay({ latencyMs, jitterMs })`: each chunk is delivered `latencyMs` plus a seeded random
 *   0..`jitterMs` after it arrived, never before a chunk that arrived earlier on the same
 *   connection and direction (TCP keeps order).
 * - `reset({ refuseNew })`: every open connection is reset (RST, both sides). With `refuseNew`,
 *   connections made afterwards are reset as soon as they are accepted, until another mode is set.
 *
 * `close()` stops listening and destroys every socket and timer it owns.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { seededRandom } from './seeded-random.js';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface DelaySettings {
  readonly latencyMs: number;
  readonly jitterMs?: number;
}

/** What becomes of a connection that lost data in a black hole, once the black hole ends. */
export type LostConnections = 'reset' | 'silent';

type Mode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'black-hole'; readonly lostConnections: LostConnections }
  | { readonly kind: 'delay'; readonly latencyMs: number; readonly jitterMs: number }
  | { readonly kind: 'reset' };

/** One direction of a relayed connection: chunks waiting for their delivery time, in order. */
class Lane {
  private readonly queue: Array<{ readonly at: number; readonly chunk: Buffer | null }> = [];
  private lastDeliveryAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly to: Socket) {}

  /** Delivers `chunk` (`null`: the end of the stream) at `at`, or later if earlier chunks wait. */
  push(chunk: Buffer | null, at: number): void {
    this.lastDeliveryAt = Math.max(at, this.lastDeliveryAt);
    this.queue.push({ at: this.lastDeliveryAt, chunk });
    this.flush();
  }

  stop(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.queue.length = 0;
  }

  private flush(): void {
    if (this.timer) {
      return;
    }
    while (this.queue.length > 0 && this.queue[0].at <= Date.now()) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed || this.to.writableEnded) {
        continue;
      }
      if (chunk) {
        this.to.write(chunk);
      } else {
        this.to.end();
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.queue[0].at - Date.now());
    }
  }
}

/** A client's connection and the proxy's connection to the target on its behalf. */
class Relay {
  /** Set once a byte or a close was dropped by a black hole. */
  lostData = false;
  /** Set when a black hole that left it with lost data ended with `'silent'`: it drops everything. */
  silenced = false;
  private readonly lanes: Lane[];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    private readonly proxy: FaultProxy,
    private readonly onGone: (relay: Relay) => void,
  ) {
    const toUpstream = new Lane(upstream);
    const toClient = new Lane(client);
    this.lanes = [toUpstream, toClient];
    this.wire(client, upstream, toUpstream);
    this.wire(upstream, client, toClient);
  }

  reset(): void {
    this.stop();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  private stop(): void {
    for (const lane of this.lanes) {
      lane.stop();
    }
    this.onGone(this);
  }

  private wire(from: Socket, to: Socket, lane: Lane): void {
    from.on('data', (chunk: Buffer) => this.relay(lane, chunk));
    from.on('end', () => this.relay(lane, null));
    from.on('error', () => undefined); // a reset peer: 'close' follows and handles it
    from.on('close', (hadError) => {
      if (hadError) {
        if (this.silenced || this.proxy.dropsTraffic()) {
          this.lostData = true; // a partition hides the reset too
          return;
        }
        this.stop();
        resetSocket(to);
      } else if (to.destroyed) {
        this.stop();
      }
    });
  }

  private relay(lane: Lane, chunk: Buffer | null): void {
    const delay = this.silenced ? null : this.proxy.delayForNextChunk();
    if (delay === null) {
      this.lostData = true;
      return;
    }
    lane.push(chunk, Date.now() + delay);
  }
}

/** Closes `socket` with an RST (a socket still connecting is just destroyed). */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) {
    return;
  }
  if (socket.connecting) {
    socket.destroy();
  } else {
    socket.resetAndDestroy();
  }
}

export class FaultProxy {
  /** Connections accepted since the start, whatever became of them. */
  accepted = 0;
  /** Chunks relayed in delay mode. */
  delayedChunks = 0;
  private mode: Mode = { kind: 'pass' };
  private readonly relays = new Set<Relay>();
  private readonly random: () => number;

  private constructor(
    private readonly server: Server,
    readonly target: ProxyTarget,
    seed: number,
  ) {
    this.random = seededRandom(seed);
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 (`port` 0: any free port) and relays to `target`. */
  static async start(target: ProxyTarget, { port = 0, seed = 1 } = {}): Promise<FaultProxy> {
    // Half-open streams stay open so that an end is relayed in order, after any delayed data.
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new FaultProxy(server, target, seed);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Connections open now (relayed, or held by a black hole). */
  get openConnections(): number {
    return this.relays.size;
  }

  get modeName(): Mode['kind'] {
    return this.mode.kind;
  }

  pass(): void {
    this.setMode({ kind: 'pass' });
  }

  blackHole({ lostConnections = 'reset' }: { lostConnections?: LostConnections } = {}): void {
    this.setMode({ kind: 'black-hole', lostConnections });
  }

  delay({ latencyMs, jitterMs = 0 }: DelaySettings): void {
    if (!(latencyMs >= 0 && jitterMs >= 0)) {
      throw new RangeError(`latency and jitter must be >= 0, got ${latencyMs} and ${jitterMs}`);
    }
    this.setMode({ kind: 'delay', latencyMs, jitterMs });
  }

  /** Resets every open connection; with `refuseNew`, also every later one until the mode changes. */
  reset({ refuseNew = false } = {}): void {
    this.setMode(refuseNew ? { kind: 'reset' } : { kind: 'pass' });
    for (const relay of this.relays) {
      relay.reset();
    }
  }

  /** Stops listening and destroys every connection and pending delivery. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const relay of this.relays) {
      relay.reset();
    }
    await closed;
  }

  /** @internal The delay for a chunk arriving now, or null if it is dropped. */
  delayForNextChunk(): number | null {
    switch (this.mode.kind) {
      case 'black-hole':
        return null;
      case 'delay':
        this.delayedChunks += 1;
        return this.mode.latencyMs + Math.round(this.random() * this.mode.jitterMs);
      default:
        return 0;
    }
  }

  /** @internal Whether closes are hidden from the other side too. */
  dropsTraffic(): boolean {
    return this.mode.kind === 'black-hole';
  }

  private setMode(mode: Mode): void {
    const previous = this.mode;
    this.mode = mode;
    if (previous.kind === 'black-hole' && mode.kind !== 'black-hole') {
      for (const relay of this.relays) {
        if (!relay.lostData) {
          continue;
        }
        if (previous.lostConnections === 'reset') {
          relay.reset();
        } else {
          relay.silenced = true;
        }
      }
    }
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.mode.kind === 'reset') {
      client.on('error', () => undefined);
      resetSocket(client);
      return;
    }
    const upstream = new Socket({ allowHalfOpen: true });
    const relay = new Relay(client, upstream, this, (gone) => this.relays.delete(gone));
    this.relays.add(relay);
    upstream.connect(this.target.port, this.target.host);
  }
}

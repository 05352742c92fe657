import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { monotonicNow, type Cancellable, type Clock, type Scheduler } from '../core/clock.js';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import type { HeartbeatAnswer, HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { isConnectionFailure } from './connection-failure.js';
import { FrameParser } from './frame-parser.js';
import {
  answerOf,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  HeartbeatReplyError,
  type HeartbeatClientLimits,
} from './heartbeat-wire.js';

/** Everything a {@link TcpHeartbeatTarget} is made from, checked by whoever makes it. */
export interface TcpHeartbeatTargetSettings {
  readonly host: string;
  readonly port: number;
  /** Name of the manager on the far side that takes these heartbeats. */
  readonly remoteManager: string;
  /** How long one RPC may take; a slower answer fails the RPC without counting as unreachable. */
  readonly requestTimeout: number;
  readonly limits: Required<HeartbeatClientLimits>;
  /** Node TLS options, already checked (see `resolveTargetTlsOptions`); plain TCP if absent. */
  readonly tlsOptions?: ConnectionOptions;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger: HeartbeatLogger;
}

/** A heartbeat RPC that got no reply within `requestTimeout` (not "unreachable", by Flink's rule). */
export class HeartbeatRequestTimeoutError extends Error {
  override readonly name = 'HeartbeatRequestTimeoutError';
  /** Read by the managers' `rpc-failed` events. */
  readonly heartbeatFailureKind = 'timeout';
}

/** An error reply (`{ id, err }`): the peer was reached and refused the heartbeat. */
export class HeartbeatRejectedError extends Error {
  override readonly name = 'HeartbeatRejectedError';
  /** Read by the managers' `rpc-failed` events. */
  readonly heartbeatFailureKind = 'rejected';
}

/** How long a heartbeat connection may be idle before TCP keepalive probes it. */
const KEEPALIVE_DELAY_MS = 1_000;

interface PendingRpc {
  /** Monotonic ms (a wall-clock step neither expires nor prolongs an RPC). */
  readonly deadline: number;
  readonly resolve: (answer: HeartbeatAnswer | void) => void;
  readonly reject: (error: unknown) => void;
}

/** One TCP (or TLS) connection and the RPCs waiting for their replies on it. */
interface Connection {
  readonly socket: Socket;
  readonly pending: Map<string, PendingRpc>;
  /** The socket's last error, to tell why it closed. */
  error: unknown;
}

/**
 * The library's TCP heartbeat target: Nest TCP frames written straight onto a `net`/`tls` socket,
 * and the replies read by a small bounded parser, so that a receiver is any Nest TCP microservice
 * and a heartbeat costs one write and one read, no `ClientProxy` and no timer of its own.
 *
 * It connects on first use and again on the RPC after a connection ends. A refused, reset or
 * closed connection fails its RPCs with `RecipientUnreachableError`; a reply later than
 * `requestTimeout` fails its RPC with `HeartbeatRequestTimeoutError`, which does not count
 * (Flink's rule), and ends the connection, so that one that died without a word (a vanished
 * host) is not reused for ever; TCP keepalive probes idle connections too. The request timeouts
 * run on the injected clock and scheduler: one task per target, re-armed for the oldest RPC.
 */
export class TcpHeartbeatTarget<O = unknown> implements HeartbeatTarget<O> {
  private connection: Connection | null = null;
  private nextId = 0;
  private timeoutCheck: Cancellable | null = null;
  private disposed = false;
  /** The JSON of each pattern's packet up to the origin, which is the same for every heartbeat. */
  private readonly requestPrefix: string;
  private readonly receivePrefix: string;
  private origin = '';
  private originJson = '""';
  private readonly recipient: string;

  constructor(private readonly settings: TcpHeartbeatTargetSettings) {
    const manager = JSON.stringify(settings.remoteManager);
    this.requestPrefix = `{"pattern":"${HEARTBEAT_REQUEST_PATTERN}","data":{"manager":${manager},"origin":`;
    this.receivePrefix = `{"pattern":"${HEARTBEAT_RECEIVE_PATTERN}","data":{"manager":${manager},"origin":`;
    this.recipient = `${settings.host}:${settings.port}`;
  }

  requestHeartbeat(origin: string, payload: O | null): Promise<HeartbeatAnswer | void> {
    return this.call(this.requestPrefix, origin, payload);
  }

  async receiveHeartbeat(origin: string, payload: O | null): Promise<void> {
    await this.call(this.receivePrefix, origin, payload);
  }

  /** Ends the connection; RPCs in flight fail (their manager no longer listens). */
  dispose(): void {
    this.disposed = true;
    this.cancelTimeoutCheck();
    this.drop(new Error(`heartbeat target ${this.recipient} disposed`));
  }

  private call(prefix: string, origin: string, payload: O | null): Promise<HeartbeatAnswer | void> {
    if (this.disposed) {
      return Promise.reject(new Error(`heartbeat target ${this.recipient} is disposed`));
    }
    let frame: string;
    const id = String((this.nextId = (this.nextId + 1) % Number.MAX_SAFE_INTEGER));
    try {
      const json = `${prefix}${this.jsonOf(origin)},"payload":${JSON.stringify(payload ?? null)}},"id":"${id}"}`;
      frame = `${json.length}#${json}`;
    } catch (error) {
      return Promise.reject(error); // a payload JSON cannot carry (a cycle, a BigInt)
    }
    const connection = this.connection ?? this.connect();
    return new Promise<HeartbeatAnswer | void>((resolve, reject) => {
      const deadline = monotonicNow(this.settings.clock) + this.settings.requestTimeout;
      connection.pending.set(id, { deadline, resolve, reject });
      connection.socket.write(frame);
      if (connection.socket.writableLength > this.settings.limits.maxSendBufferSize) {
        // The peer reads nothing: stop buffering for it (slow, not unreachable).
        this.drop(
          new Error(
            `heartbeat target ${this.recipient}: over ${this.settings.limits.maxSendBufferSize} bytes unsent (maxSendBufferSize)`,
          ),
        );
      } else {
        this.timeoutCheck ??= this.settings.scheduler.schedule(
          this.expireRpcs,
          this.settings.requestTimeout,
        );
      }
    });
  }

  private jsonOf(origin: string): string {
    if (origin !== this.origin) {
      this.origin = origin;
      this.originJson = JSON.stringify(origin);
    }
    return this.originJson;
  }

  private connect(): Connection {
    const { host, port, tlsOptions, limits } = this.settings;
    const socket = tlsOptions
      ? connectTls({ ...tlsOptions, host, port })
      : connectTcp({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    const connection: Connection = { socket, pending: new Map(), error: undefined };
    const parser = new FrameParser(limits.maxBufferSize, (json) =>
      this.takeReply(connection, json),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        this.refuse(connection, error);
      }
    });
    socket.on('error', (error) => {
      connection.error = error;
    });
    socket.on('close', () => this.closed(connection));
    this.connection = connection;
    return connection;
  }

  /** One reply frame: settles the RPC of its id (a late reply, after its timeout, is dropped). */
  private takeReply(connection: Connection, json: string): void {
    const packet = JSON.parse(json) as unknown;
    if (typeof packet !== 'object' || packet === null) {
      throw new HeartbeatReplyError('a reply must be an object { id, response | err }');
    }
    const { id, response, err } = packet as { id?: unknown; response?: unknown; err?: unknown };
    if (typeof id !== 'string') {
      throw new HeartbeatReplyError('a reply must carry the string id of its request');
    }
    const rpc = connection.pending.get(id);
    if (!rpc) {
      return;
    }
    connection.pending.delete(id);
    if (err !== undefined && err !== null) {
      rpc.reject(new HeartbeatRejectedError(describeRejection(err)));
      return;
    }
    let answer: HeartbeatAnswer | undefined;
    try {
      answer = answerOf(response);
    } catch (error) {
      // A malformed answer fails its RPC, then ends the connection, as a malformed frame does.
      rpc.reject(error);
      throw error;
    }
    rpc.resolve(answer);
  }

  /** A reply that is not the wire format: the connection is ended, and said so once. */
  private refuse(connection: Connection, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.settings.logger.warn(
      // The reason may quote the peer: cut short, control characters escaped.
      `Closed the heartbeat connection to ${this.recipient}: ${JSON.stringify(reason.slice(0, 200)).slice(1, -1)}`,
    );
    if (connection === this.connection) {
      this.drop(new HeartbeatReplyError(`heartbeat target ${this.recipient}: ${reason}`));
    }
  }

  private closed(connection: Connection): void {
    if (connection !== this.connection) {
      return; // dropped earlier: its RPCs were settled then
    }
    this.connection = null;
    this.cancelTimeoutCheck();
    const cause = connection.error;
    const error = isConnectionFailure(cause)
      ? new RecipientUnreachableError(this.recipient, describe(cause), { cause })
      : (cause ?? new RecipientUnreachableError(this.recipient, 'Connection closed'));
    failAll(connection, error);
  }

  /** Ends the connection now; its RPCs fail with `error`, which does not count as unreachable. */
  private drop(error: Error): void {
    const connection = this.connection;
    if (!connection) {
      return;
    }
    this.connection = null;
    this.cancelTimeoutCheck();
    connection.socket.destroy();
    failAll(connection, error);
  }

  /** No connection, no RPC in flight: nothing to time out until the next one. */
  private cancelTimeoutCheck(): void {
    this.timeoutCheck?.cancel();
    this.timeoutCheck = null;
  }

  /** Fails the RPCs past their deadline, then waits for the oldest one left. */
  private readonly expireRpcs = (): void => {
    this.timeoutCheck = null;
    const connection = this.connection;
    if (!connection) {
      return;
    }
    const now = monotonicNow(this.settings.clock);
    for (const rpc of connection.pending.values()) {
      // RPCs are kept in the order they were sent, all with the same timeout.
      if (rpc.deadline > now) {
        this.timeoutCheck = this.settings.scheduler.schedule(this.expireRpcs, rpc.deadline - now);
        return;
      }
      // A connection that leaves a request unanswered may be dead without a word: start afresh
      // (the requests after it on this connection fail with it, uncounted too).
      this.drop(
        new HeartbeatRequestTimeoutError(
          `heartbeat target ${this.recipient}: a request got no reply within ` +
            `${this.settings.requestTimeout} ms; its connection was ended`,
        ),
      );
      return;
    }
  };
}

function failAll(connection: Connection, error: unknown): void {
  const rpcs = [...connection.pending.values()];
  connection.pending.clear();
  for (const rpc of rpcs) {
    rpc.reject(error);
  }
}

function describeRejection(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string'
    ? message
    : typeof err === 'string'
      ? err
      : JSON.stringify(err);
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message ?? error);
}

import { Logger, type Type } from '@nestjs/common';
import { JsonSocket, type TcpSocket } from '@nestjs/microservices';
import type { Socket } from 'node:net';
import { z } from 'zod';
import { isConnectionFailure } from './connection-failure.js';
import {
  HEARTBEAT_FRAME_LIMITS,
  HEARTBEAT_LOGGER_CONTEXT,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  MAX_PACKET_ID_LENGTH,
  MAX_PATTERN_LENGTH,
  type HeartbeatClientLimits,
} from './heartbeat-wire.js';

/** Options of {@link createCheckedJsonSocket}: frame limits and the patterns the server handles. */
export interface CheckedJsonSocketOptions {
  /** Frame limits; `HEARTBEAT_FRAME_LIMITS` where not given. */
  readonly limits?: HeartbeatClientLimits;
  /** The patterns the server handles, besides the heartbeat patterns; any pattern if omitted. */
  readonly patterns?: readonly string[];
}

/** A frame the peer got wrong; the connection is closed. */
class FrameRejected extends Error {}

function packetSchema(patterns: readonly string[] | undefined) {
  const allowed =
    patterns && new Set([HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN, ...patterns]);
  return z.strictObject(
    {
      pattern: z
        .string({ error: `pattern must be a string of 1 to ${MAX_PATTERN_LENGTH} characters` })
        .min(1)
        .max(MAX_PATTERN_LENGTH)
        .refine((pattern) => !allowed || allowed.has(pattern), {
          error: (issue) => `unknown pattern ${JSON.stringify(issue.input)}`,
        }),
      data: z.unknown().optional(),
      id: z
        .string({ error: `id must be a string of 1 to ${MAX_PACKET_ID_LENGTH} characters` })
        .min(1)
        .max(MAX_PACKET_ID_LENGTH)
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field(s) ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
          : 'a message must be an object { pattern, data, id }',
    },
  );
}

const MAX_LOGGED_REASON = 200;
/** How long a rejected connection stays open for its error reply to leave. */
const MAX_LINGER_MS = 1_000;

/** A reason fit for one log line: it may quote what the peer sent, so it is cut short and control characters escaped. */
function printable(reason: string): string {
  const short =
    reason.length > MAX_LOGGED_REASON ? `${reason.slice(0, MAX_LOGGED_REASON)}…` : reason;
  return JSON.stringify(short).slice(1, -1);
}

/** The id of a rejected packet, if it has a usable one, so that the peer can be told why. */
function replyId(packet: unknown): string | undefined {
  const id = (packet as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_PACKET_ID_LENGTH
    ? id
    : undefined;
}

/**
 * A `socketClass` for a heartbeat endpoint's `ServerTCP` (Nest hands a custom socket class no
 * frame options, so the limits are baked in). Besides Nest's framing checks (length prefix, frame
 * size, incomplete-frame timeout, valid JSON), it checks every packet against a declared shape and
 * the known patterns. A bad packet gets an error reply when its id is readable, and its connection
 * is closed; every closed connection is logged with the peer's address and the reason.
 */
export function createCheckedJsonSocket(options: CheckedJsonSocketOptions = {}): Type<TcpSocket> {
  const limits = { ...HEARTBEAT_FRAME_LIMITS, ...options.limits };
  const schema = packetSchema(options.patterns);
  const logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  const lingerMs = Math.min(MAX_LINGER_MS, limits.incompleteMessageTimeout);

  return class CheckedJsonSocket extends JsonSocket {
    private readonly peer: string;
    private rejected = false;

    constructor(socket: Socket) {
      super(socket, limits);
      this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    }

    protected override emitMessage(data: string): void {
      let packet: unknown;
      try {
        packet = JSON.parse(data);
      } catch {
        throw new FrameRejected(`invalid JSON in a frame of ${data.length} characters`);
      }
      const parsed = schema.safeParse(packet);
      if (!parsed.success) {
        const reason = `bad message: ${parsed.error.issues[0].message}`;
        const id = replyId(packet);
        if (id) {
          this.sendMessage({ id, err: { status: 'error', message: reason }, isDisposed: true });
        }
        throw new FrameRejected(reason);
      }
      this.socket.emit('message', parsed.data);
    }

    protected override handleDataError(error: unknown, how?: { destroy?: boolean }): void {
      // Nest keeps reading after a framing error and fails again every maxBufferSize characters:
      // reject a connection once, read nothing more from it, and destroy it after a short linger
      // (time for an error reply to leave).
      if (this.rejected) {
        return;
      }
      this.rejected = true;
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn(`Closed the connection from ${this.peer}: ${printable(reason)}`);
      super.handleDataError(error, how);
      this.socket.pause();
      const linger = setTimeout(() => this.socket.destroy(), lingerMs);
      this.socket.once('close', () => clearTimeout(linger));
    }

    /**
     * `ServerTCP` logs every error of a connection as an `InvalidTcpDataReceptionException` with a
     * stack. For a heartbeat endpoint a peer that dies and resets its connection is routine (the
     * heartbeat manager reports what matters), and framing errors are logged once above: only
     * other errors reach Nest's handler.
     */
    override on(event: string, callback: (...args: unknown[]) => void): this {
      if (event !== 'error') {
        return super.on(event, callback);
      }
      return super.on(event, (error: unknown) => {
        if (isConnectionFailure(error)) {
          logger.debug(`Connection from ${this.peer} failed: ${(error as { code?: string }).code}`);
        } else if (!this.rejected) {
          callback(error);
        }
      });
    }

    protected override handleData(data: Buffer | string): void {
      if (!this.rejected) {
        super.handleData(data);
      }
    }
  };
}

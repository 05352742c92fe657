import { merge, Subject, type Observable } from 'rxjs';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';

/** What every heartbeat event carries: the manager's name, and when it happened (epoch ms). */
interface HeartbeatEventBase {
  /** The manager's name (in Nest, the name it is declared under; else its own resource id). */
  readonly manager: string;
  /** Epoch ms, from the manager's clock. */
  readonly at: number;
}

/** A target is monitored from now on. */
export interface TargetMonitoredEvent extends HeartbeatEventBase {
  readonly type: 'monitored';
  readonly target: string;
}

/** A heartbeat from a monitored target was taken (an answer to our request, or its request). */
export interface HeartbeatReceivedEvent extends HeartbeatEventBase {
  readonly type: 'heartbeat';
  readonly target: string;
  /**
   * Ms from our request to the answer it brought (a sender's); `null` where no request of ours
   * preceded it (a receiver's, or an answer that came as a separate message).
   */
  readonly roundTripMs: number | null;
  /**
   * Bytes of the payload's JSON (UTF-8); 0 without payload. Computed when read (an enumerable
   * getter, so `JSON.stringify` of the event has it), not for subscribers that never look.
   */
  readonly payloadBytes: number;
}

/** A target was silent for the whole timeout and is declared lost. */
export interface TargetTimedOutEvent extends HeartbeatEventBase {
  readonly type: 'timeout';
  readonly target: string;
  /** Epoch ms of its last heartbeat, 0 if it never sent one. */
  readonly lastHeartbeat: number;
}

/** A target's RPCs failed as unreachable `rpcFailureThreshold` times in a row: declared lost. */
export interface TargetUnreachableEvent extends HeartbeatEventBase {
  readonly type: 'unreachable';
  readonly target: string;
  /** The message of the failure that crossed the threshold. */
  readonly failure: string;
}

/** How a heartbeat RPC failed; only `unreachable` counts towards the threshold (Flink's rule). */
export type HeartbeatRpcFailureKind = 'unreachable' | 'timeout' | 'rejected' | 'other';

/** A heartbeat RPC to a target failed (each failure, whether or not it counts). */
export interface HeartbeatRpcFailedEvent extends HeartbeatEventBase {
  readonly type: 'rpc-failed';
  readonly target: string;
  readonly kind: HeartbeatRpcFailureKind;
  readonly failure: string;
}

/** A target is no longer monitored (unmonitored by its owner). */
export interface TargetUnmonitoredEvent extends HeartbeatEventBase {
  readonly type: 'unmonitored';
  readonly target: string;
}

/** The stall guard saw this process stall: no timer ran for `stallMs`. */
export interface ProcessStalledEvent extends HeartbeatEventBase {
  readonly type: 'stalled';
  readonly stallMs: number;
}

/**
 * Why a heartbeat message was turned down: `malformed` (not a heartbeat message),
 * `unknown-manager` (no manager by that name), `vetoed` (an `@OnIncomingHeartbeat` handler or the
 * admission of an answer refused it), `unknown-origin` (a request from an origin not monitored:
 * counted but not logged, since Flink ignores such requests and one can precede a registration).
 * A bounded set, so that a metric label built from it stays bounded too.
 */
export type HeartbeatRejectionReason =
  'malformed' | 'unknown-manager' | 'vetoed' | 'unknown-origin';

/**
 * A heartbeat message was turned down: counted always, and logged at most once per peer, reason
 * and interval (`unknown-origin` is not logged).
 */
export interface HeartbeatRejectedEvent extends HeartbeatEventBase {
  readonly type: 'rejected';
  /** Who sent it, as it claimed (its origin), or `unknown` for a message without one. */
  readonly peer: string;
  readonly reason: HeartbeatRejectionReason;
  /** What was wrong, for people (bounded: the names in it are at most 256 characters). */
  readonly detail: string;
}

/** Every event a heartbeat manager reports; narrow it on `type`. */
export type HeartbeatEvent =
  | TargetMonitoredEvent
  | HeartbeatReceivedEvent
  | TargetTimedOutEvent
  | TargetUnreachableEvent
  | HeartbeatRpcFailedEvent
  | TargetUnmonitoredEvent
  | ProcessStalledEvent
  | HeartbeatRejectedEvent;

/** The event types, for code that handles each (metrics, dashboards). */
export type HeartbeatEventType = HeartbeatEvent['type'];

/** Every event but `heartbeat`: losses, stalls, rejections, (un)monitoring, failed RPCs. */
export type HeartbeatChangeEvent = Exclude<HeartbeatEvent, HeartbeatReceivedEvent>;

/**
 * One manager's event stream, in two parts: heartbeats, and everything else. Emitting is guarded
 * by `heartbeatsWatched` / `changesWatched`, so that with nobody subscribed the managers build no
 * event and measure nothing for one, and a watcher of losses only costs nothing per heartbeat.
 * @internal
 */
export class HeartbeatEventStream {
  private readonly heartbeatSubject = new Subject<HeartbeatReceivedEvent>();
  private readonly changeSubject = new Subject<HeartbeatChangeEvent>();
  readonly changes: Observable<HeartbeatChangeEvent> = this.changeSubject.asObservable();
  readonly events: Observable<HeartbeatEvent> = merge(this.changeSubject, this.heartbeatSubject);

  constructor(readonly manager: string) {}

  /** Whether anyone watches heartbeats: check it before building a `heartbeat` event. */
  get heartbeatsWatched(): boolean {
    return this.heartbeatSubject.observed;
  }

  /** Whether anyone watches the other events: check it before building one. */
  get changesWatched(): boolean {
    return this.changeSubject.observed;
  }

  emit(event: HeartbeatEvent): void {
    if (event.type === 'heartbeat') {
      this.heartbeatSubject.next(event);
    } else {
      this.changeSubject.next(event);
    }
  }

  complete(): void {
    this.changeSubject.complete();
    this.heartbeatSubject.complete();
  }
}

/** The kind of a failed RPC's error: the library's transports name theirs through `heartbeatFailureKind`. */
export function rpcFailureKindOf(error: unknown): HeartbeatRpcFailureKind {
  if (RecipientUnreachableError.matches(error)) {
    return 'unreachable';
  }
  const declared = (error as { heartbeatFailureKind?: unknown } | null)?.heartbeatFailureKind;
  if (declared === 'timeout' || declared === 'rejected') {
    return declared;
  }
  if (error instanceof Error) {
    // rxjs's `timeout()` operator, as a `ClientProxy` target uses it.
    return error.name === 'TimeoutError' ? 'timeout' : 'other';
  }
  // A Nest `ClientProxy` rejects with the error reply's payload itself, a plain object.
  return typeof error === 'object' && error !== null ? 'rejected' : 'other';
}

/** The failure's message, for an event; never throws, whatever was thrown. */
export function failureMessage(error: unknown): string {
  try {
    if (error instanceof Error) {
      return error.message;
    }
    const message = (error as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : String(error);
  } catch {
    return 'an error that cannot be described';
  }
}

/** Bytes of a payload's JSON, 0 for none (or one JSON cannot write). Only computed for subscribers. */
export function payloadBytesOf(payload: unknown): number {
  if (payload === null || payload === undefined) {
    return 0;
  }
  try {
    const json = JSON.stringify(payload);
    return json === undefined ? 0 : Buffer.byteLength(json);
  } catch {
    return 0;
  }
}

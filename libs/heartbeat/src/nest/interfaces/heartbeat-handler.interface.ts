import type { AcceptedHeartbeat } from '../accepted-heartbeat.js';

/** What a decorated method handles for one manager. */
export enum HeartbeatHandlerKind {
  Timeout = 'timeout',
  TargetUnreachable = 'target-unreachable',
  TargetLost = 'target-lost',
  PayloadReceived = 'payload-received',
  PayloadToSend = 'payload-to-send',
  IncomingHeartbeat = 'incoming-heartbeat',
}

export interface HeartbeatHandlerMetadata {
  readonly kind: HeartbeatHandlerKind;
  readonly manager: string;
}

/**
 * Why a monitored target was lost, as `@OnTargetLost` hears it: `timeout`, no heartbeat within
 * the timeout (Flink's `notifyHeartbeatTimeout`); `unreachable`, `rpcFailureThreshold` consecutive
 * RPCs could not reach it (Flink's `notifyTargetUnreachable`).
 */
export type TargetLossReason = 'timeout' | 'unreachable';

/** A heartbeat RPC that arrived over the transport, before it reaches its manager. */
export interface IncomingHeartbeat<I = unknown> {
  readonly manager: string;
  /**
   * `request`: the origin asks for a heartbeat; `receive`: the origin answers one of ours (as a
   * separate RPC, or in the reply to our request).
   */
  readonly kind: 'request' | 'receive';
  readonly origin: string;
  /** The payload as it arrived, or as an earlier `@OnIncomingHeartbeat` handler replaced it. */
  readonly payload: I | null;
}

/**
 * What an `@OnIncomingHeartbeat` handler returns (or resolves to):
 * - `undefined` (nothing) or `true`: accepted, payload unchanged;
 * - `false`: rejected (the peer gets an error reply "rejected by Class.method");
 * - `acceptHeartbeat(payload)`: accepted, and the payload replaced, e.g. by its parsed, validated
 *   form: the later handlers, the manager and `@OnHeartbeatPayload` get this one (`null` means none).
 *
 * Anything else (a plain `{ payload }`, the parsed payload itself) rejects the heartbeat, naming the
 * handler; throwing (or rejecting) rejects it with the error's message as the reason.
 */
export type IncomingHeartbeatVerdict<P = unknown> = boolean | void | AcceptedHeartbeat<P | null>;

/** What a decorated method handles for one manager. */
export enum HeartbeatHandlerKind {
  Timeout = 'timeout',
  TargetUnreachable = 'target-unreachable',
  PayloadReceived = 'payload-received',
  PayloadToSend = 'payload-to-send',
  IncomingHeartbeat = 'incoming-heartbeat',
}

export interface HeartbeatHandlerMetadata {
  readonly kind: HeartbeatHandlerKind;
  readonly manager: string;
}

/** A heartbeat RPC that arrived over the transport, before it reaches its manager. */
export interface IncomingHeartbeat<I = unknown> {
  readonly manager: string;
  /** `request`: the origin asks for a heartbeat; `receive`: the origin answers one of ours. */
  readonly kind: 'request' | 'receive';
  readonly origin: string;
  readonly payload: I | null;
}

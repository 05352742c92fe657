/**
 * What the dashboard's event stream (`GET /events`, server-sent events) pushes. Each message goes
 * out as one SSE event whose event name is the message's `type` and whose `data` is the message as
 * JSON. Every message carries the server's clock (`now`, epoch ms), so that the page can tell the
 * time since a heartbeat without trusting the browser's clock to match the server's.
 */

/** One slot of a TaskManager, as the ResourceManager last knew it. */
export interface DashboardSlot {
  readonly index: number;
  readonly free: boolean;
  readonly jobId: string | null;
}

/** One registered TaskManager, as a row of the dashboard. */
export interface DashboardTaskManager {
  readonly id: string;
  /** `host:port` of its endpoint. */
  readonly address: string;
  readonly slotsNumber: number;
  readonly freeSlots: number;
  readonly slots: readonly DashboardSlot[];
  /** Epoch ms of its last heartbeat (of its registration until it sent one). */
  readonly lastHeartbeat: number;
  /** Ms from a heartbeat request to its answer, the latest seen; null until one was seen. */
  readonly roundTripMs: number | null;
}

/** A registration or release, as the timeline lists it. */
export type TimelineEntry =
  | {
      readonly kind: 'registered';
      readonly at: number;
      readonly taskManagerId: string;
      readonly address: string;
      readonly slotsNumber: number;
    }
  | {
      readonly kind: 'released';
      readonly at: number;
      readonly taskManagerId: string;
      /** `timeout`, `unreachable`, `goodbye` or `replaced` (see the ResourceManager's registrations). */
      readonly reason: string;
    };

/** The first message of every connection: the whole picture. A reconnected page starts over from it. */
export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly now: number;
  readonly resourceManagerId: string;
  readonly heartbeat: { readonly interval: number; readonly timeout: number };
  /** Heartbeats are pushed at most this often (see `HeartbeatsMessage`). */
  readonly pushIntervalMs: number;
  readonly taskManagers: readonly DashboardTaskManager[];
  /** The most recent registrations and releases, oldest first (bounded). */
  readonly timeline: readonly TimelineEntry[];
}

/** A TaskManager registered (possibly again, right after a `released` of the same id). */
export interface RegisteredMessage {
  readonly type: 'registered';
  readonly now: number;
  readonly taskManager: DashboardTaskManager;
  readonly entry: TimelineEntry & { readonly kind: 'registered' };
}

/** A TaskManager's registration ended: its row goes, the timeline says why. */
export interface ReleasedMessage {
  readonly type: 'released';
  readonly now: number;
  readonly taskManagerId: string;
  readonly reason: string;
  readonly entry: TimelineEntry & { readonly kind: 'released' };
}

/** What changed in a heartbeat: always the heartbeat's time and round trip, slots only when they changed. */
export interface HeartbeatUpdate {
  readonly id: string;
  readonly lastHeartbeat: number;
  readonly roundTripMs: number | null;
  readonly freeSlots: number;
  /** Present when the slots differ from what this stream sent last. */
  readonly slots?: readonly DashboardSlot[];
}

/**
 * The heartbeats since the last such message, coalesced: at most one per push interval, with at
 * most one entry per TaskManager (its latest heartbeat). So a big cluster sends a few messages a
 * second, not one per heartbeat.
 */
export interface HeartbeatsMessage {
  readonly type: 'heartbeats';
  readonly now: number;
  readonly taskManagers: readonly HeartbeatUpdate[];
}

export type DashboardMessage =
  SnapshotMessage | RegisteredMessage | ReleasedMessage | HeartbeatsMessage;

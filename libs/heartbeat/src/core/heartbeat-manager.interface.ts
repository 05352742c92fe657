import type { Observable } from 'rxjs';
import type { HeartbeatChangeEvent, HeartbeatEvent } from './heartbeat-events.js';
import type { HeartbeatAnswer, HeartbeatTarget } from './heartbeat-target.interface.js';

/**
 * Flink's `HeartbeatManager`: a heartbeat target itself (it answers requests and takes replies)
 * that monitors other targets. `I` is the payload type received, `O` the payload type sent.
 */
export interface HeartbeatManager<I = unknown, O = unknown> extends HeartbeatTarget<I> {
  /** This manager's own id, sent as the origin of its heartbeats. */
  readonly ownResourceId: string;
  /**
   * Starts monitoring a target; a no-op when stopped or when the id is already monitored. A
   * receiver may leave out `target`: it then answers the target's requests in their replies, and
   * needs no way to reach it. A sender needs one, to send its requests (it throws a `TypeError`).
   */
  monitorTarget(resourceId: string, target?: HeartbeatTarget<O>): void;
  /** Stops monitoring a target; no callback fires for it afterwards. */
  unmonitorTarget(resourceId: string): void;
  /** Epoch ms of the last heartbeat from the target; 0 if none yet, -1 if it is not monitored. */
  getLastHeartbeatFrom(resourceId: string): number;
  /** Ids of the targets monitored now. */
  getMonitoredTargets(): string[];
  /** Cancels every monitor; every later call is a no-op. */
  stop(): void;
  readonly isStopped: boolean;
  /**
   * What happens to its targets, as it happens (see `HeartbeatEvent`): hot, completes at `stop()`.
   * Nobody subscribed costs nothing: no event is built.
   */
  readonly events: Observable<HeartbeatEvent>;
  /** Its events but `heartbeat` (losses, stalls, rejections, …): no work per heartbeat for them. */
  readonly changes: Observable<HeartbeatChangeEvent>;
  /**
   * A target asks for a heartbeat. For an origin monitored without a target, resolves with the
   * answer, which the transport carries back in the request's reply.
   */
  requestHeartbeat(origin: string, payload: I | null): Promise<HeartbeatAnswer | void>;
}

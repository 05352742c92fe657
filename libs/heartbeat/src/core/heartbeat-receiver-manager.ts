import { monotonicNow, systemClock, timerScheduler, type Clock, type Scheduler } from './clock.js';
import {
  effectiveStallThreshold,
  type ResolvedHeartbeatConfiguration,
} from './heartbeat-configuration.js';
import { consoleHeartbeatLogger } from './console-heartbeat-logger.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import { HeartbeatMonitor, HeartbeatMonitorState } from './heartbeat-monitor.js';
import type { HeartbeatAnswer, HeartbeatTarget } from './heartbeat-target.interface.js';
import type { Observable } from 'rxjs';
import {
  failureMessage,
  HeartbeatEventStream,
  payloadBytesOf,
  rpcFailureKindOf,
  type HeartbeatChangeEvent,
  type HeartbeatEvent,
  type HeartbeatRejectionReason,
} from './heartbeat-events.js';
import { RejectionLog } from './rejection-log.js';
import { PhiAccrualDetection, type SilenceDetection } from './silence-detection.js';
import { StallGuard } from './stall-guard.js';
import { disposeTarget, isPromiseLike, logFailure, logRejection, safely } from './safely.js';

/**
 * What a manager is built from. `HeartbeatServices` builds managers: it is the one place that
 * passes these, with the configuration it resolved once.
 * @internal
 */
export interface HeartbeatManagerOptions<I, O> {
  /** This side's id, sent as the origin of every heartbeat. */
  readonly ownResourceId: string;
  /** The name its events carry; its own resource id if absent. */
  readonly name?: string;
  readonly listener: HeartbeatListener<I, O>;
  /** Validated by `resolveHeartbeatConfiguration`; the manager does not check it again. */
  readonly configuration: ResolvedHeartbeatConfiguration;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: HeartbeatLogger;
  /** Vets the answers that come back in replies (a sender's); all are taken if absent. */
  readonly admitAnswer?: AnswerAdmission;
}

/** What vetting an answer decided: take it (with this payload), or not (and why). */
export type AnswerAdmissionOutcome =
  | { readonly accepted: true; readonly payload: unknown }
  | { readonly accepted: false; readonly reason: string };

/**
 * Vets a heartbeat that came back in the reply to a request, before the manager takes it, as a
 * transport vets the heartbeats it delivers (in Nest: the manager's `@OnIncomingHeartbeat` handlers).
 */
export type AnswerAdmission = (
  answer: HeartbeatAnswer,
) => AnswerAdmissionOutcome | Promise<AnswerAdmissionOutcome>;

/** A change event as the manager reports it: `emitChange` adds its name and the time. */
type HeartbeatChangeFields = HeartbeatChangeEvent extends infer E
  ? E extends HeartbeatChangeEvent
    ? Omit<E, 'manager' | 'at'>
    : never
  : never;

type HeartbeatRpc<O> = (
  target: HeartbeatTarget<O>,
  payload: O | null,
) => Promise<HeartbeatAnswer | void>;

const NO_ANSWER: Promise<void> = Promise.resolve();

/**
 * The receiving side (Flink's `HeartbeatManagerImpl`): answers heartbeat requests from the
 * targets it monitors and watches each for silence and for unreachable RPCs. Made by
 * `HeartbeatServices.createReceiverManager`.
 */
export class HeartbeatReceiverManager<I = unknown, O = unknown> implements HeartbeatManager<I, O> {
  readonly ownResourceId: string;
  readonly configuration: ResolvedHeartbeatConfiguration;
  /** @internal */
  protected readonly clock: Clock;
  /** @internal */
  protected readonly scheduler: Scheduler;
  /** @internal */
  protected readonly logger: HeartbeatLogger;
  /** @internal */
  protected readonly listener: HeartbeatListener<I, O>;
  /** @internal */
  protected readonly monitors = new Map<string, HeartbeatMonitor<O>>();
  /** @internal */
  protected readonly eventStream: HeartbeatEventStream;
  private readonly stallGuard: StallGuard;
  /** The phi-accrual detector's sweep; absent for Flink's fixed timeout (a timer per monitor). */
  private readonly detection: SilenceDetection | undefined;
  private readonly admitAnswer: AnswerAdmission | undefined;
  private readonly rejectionLog: RejectionLog;
  private stopped = false;

  /**
   * Managers are made by `HeartbeatServices`, the one door: this is not public API.
   * @internal
   */
  constructor(options: HeartbeatManagerOptions<I, O>) {
    assertResourceId(options.ownResourceId, 'ownResourceId');
    this.ownResourceId = options.ownResourceId;
    this.configuration = options.configuration;
    this.listener = options.listener;
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? timerScheduler;
    this.logger = options.logger ?? consoleHeartbeatLogger;
    this.admitAnswer = options.admitAnswer;
    this.eventStream = new HeartbeatEventStream(options.name ?? options.ownResourceId);
    this.rejectionLog = new RejectionLog(this.logger, this.clock, this.configuration.interval);
    const { detector, interval, timeout } = this.configuration;
    const stallThreshold = effectiveStallThreshold(this.configuration);
    const excusedVerdicts = detector
      ? `phi verdicts on targets silent since before the stall, and timeouts falling due in or ` +
        `just after it, get a fresh window instead of being declared`
      : `heartbeat timeouts falling due in or just after the stall get a fresh ${timeout} ms ` +
        `window instead of being declared`;
    this.stallGuard = new StallGuard({
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
      threshold: stallThreshold,
      describeStall: (gap) =>
        `Heartbeat manager ${this.ownResourceId}: this process stalled, no timer ran for ${gap} ms ` +
        `(stall threshold ${stallThreshold} ms); ${excusedVerdicts}`,
      onStall: (stallMs) => {
        this.emitChange({ type: 'stalled', stallMs });
      },
    });
    this.detection = detector
      ? new PhiAccrualDetection({
          settings: detector,
          interval,
          timeout,
          clock: this.clock,
          scheduler: this.scheduler,
          stalledAfter: (time) => this.stallGuard.stalledAfter(time),
          silenceExcused: (resourceId, since) => this.silenceExcused(resourceId, since),
        })
      : undefined;
  }

  /** The name its events carry (in Nest, the name the manager is declared under). */
  get name(): string {
    return this.eventStream.manager;
  }

  /**
   * This manager's events (see `HeartbeatEvent`), hot: a subscriber sees what happens from then
   * on; it completes when the manager stops. With nobody subscribed, the manager builds no event.
   */
  get events(): Observable<HeartbeatEvent> {
    return this.eventStream.events;
  }

  /**
   * Its events but `heartbeat`: what a watcher of losses, stalls and rejections subscribes to, so
   * that the manager does no work per heartbeat for it.
   */
  get changes(): Observable<HeartbeatChangeEvent> {
    return this.eventStream.changes;
  }

  /**
   * Turns down a heartbeat message from `peer`: reported as a `rejected` event (which the metrics
   * count), and `message` logged at most once per peer and `detail` per interval.
   * @internal
   */
  rejectMessage(
    peer: string,
    reason: HeartbeatRejectionReason,
    detail: string,
    message = `Heartbeat manager ${this.name}: ${detail}`,
  ): void {
    this.emitRejected(peer, reason, detail);
    this.rejectionLog.record(peer, `${reason}: ${detail}`, message);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Starts monitoring a target. Without `target`, this manager answers the target's requests in
   * their replies and needs no way to reach it (a receiver whose sender's transport carries
   * answers back, as the library's TCP and `ClientProxy` targets do).
   */
  monitorTarget(resourceId: string, target?: HeartbeatTarget<O>): void {
    assertResourceId(resourceId, 'resourceId');
    const existing = this.monitors.get(resourceId);
    if (this.stopped || existing) {
      // The manager owns what it is given: a target it will not use is released at once.
      if (target && existing?.target !== target) {
        disposeTarget(this.logger, resourceId, target);
      }
      return;
    }
    const monitor = new HeartbeatMonitor<O>(resourceId, target ?? null, {
      clock: this.clock,
      scheduler: this.scheduler,
      timeout: this.configuration.timeout,
      rpcFailureThreshold: this.configuration.rpcFailureThreshold,
      detection: this.detection,
      // A stall that ended less than an interval before the deadline still counts: a sender asks
      // again only when it resumes, and the answers take a round trip.
      silenceExcused: (deadline) =>
        this.silenceExcused(resourceId, deadline - this.configuration.interval),
      onTimeout: (id) => {
        this.emitChange({ type: 'timeout', target: id, lastHeartbeat: monitor.getLastHeartbeat() });
        safely(
          this.logger,
          `Heartbeat timeout handler for ${id}`,
          () => this.listener.notifyHeartbeatTimeout(id),
          undefined,
        );
      },
      onUnreachable: (id, failure) => {
        this.emitChange({ type: 'unreachable', target: id, failure: failureMessage(failure) });
        safely(
          this.logger,
          `Target unreachable handler for ${id}`,
          () => this.listener.notifyTargetUnreachable(id),
          undefined,
        );
      },
      onAnswer: this.takeAnswer,
      onRpcFailed: this.rpcFailed,
    });
    this.monitors.set(resourceId, monitor);
    this.stallGuard.start();
    this.emitChange({ type: 'monitored', target: resourceId });
  }

  unmonitorTarget(resourceId: string): void {
    if (this.stopped) {
      return;
    }
    const monitor = this.monitors.get(resourceId);
    if (monitor) {
      this.monitors.delete(resourceId);
      monitor.cancel();
      disposeMonitored(this.logger, monitor);
      this.emitChange({ type: 'unmonitored', target: resourceId });
    }
    if (this.monitors.size === 0) {
      this.stallGuard.stop();
    }
  }

  getLastHeartbeatFrom(resourceId: string): number {
    return this.monitors.get(resourceId)?.getLastHeartbeat() ?? -1;
  }

  /**
   * Monotonic ms since the last heartbeat from the target: -1 if it is not monitored or not heard
   * from yet. For durations (health, metrics), which `now() - getLastHeartbeatFrom(id)` would get
   * wrong across a step of the wall clock.
   * @internal
   */
  millisSinceLastHeartbeat(resourceId: string): number {
    return this.monitors.get(resourceId)?.millisSinceLastHeartbeat(monotonicNow(this.clock)) ?? -1;
  }

  /**
   * Whether the target is monitored and not declared lost yet (its monitor still RUNNING): a lost
   * target stays monitored until unmonitored, and with phi-accrual it may be lost well within the
   * timeout. For health.
   * @internal
   */
  isTargetRunning(resourceId: string): boolean {
    return this.monitors.get(resourceId)?.getState() === HeartbeatMonitorState.Running;
  }

  getMonitoredTargets(): string[] {
    return [...this.monitors.keys()];
  }

  stop(): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    this.stallGuard.stop();
    for (const monitor of this.monitors.values()) {
      monitor.cancel();
      disposeMonitored(this.logger, monitor);
    }
    this.monitors.clear();
    this.eventStream.complete();
  }

  /** A heartbeat (the answer to one of our requests) arrived. */
  receiveHeartbeat(origin: string, payload: I | null): Promise<void> {
    this.takeHeartbeat(origin, payload, null);
    return NO_ANSWER;
  }

  /**
   * A target asks for a heartbeat: answer only origins we monitor. The answer goes to the
   * origin's target as `receiveHeartbeat`, or, for an origin monitored without a target, comes
   * back as this promise's value, for the transport to put in the request's reply.
   */
  requestHeartbeat(origin: string, payload: I | null): Promise<HeartbeatAnswer<O> | void> {
    const monitor = this.stopped ? undefined : this.monitors.get(origin);
    if (!monitor) {
      // Counted, not logged: Flink ignores such requests, and one can precede a registration.
      if (!this.stopped && this.eventStream.changesWatched) {
        this.emitRejected(
          origin,
          'unknown-origin',
          `ignored a heartbeat request from ${origin}, which it does not monitor`,
        );
      }
      return NO_ANSWER;
    }
    monitor.reportHeartbeat();
    if (this.eventStream.heartbeatsWatched) {
      this.emitHeartbeat(origin, payload, null);
    }
    this.reportPayload(origin, payload);
    if (monitor.target === null) {
      return this.answerInReply(monitor);
    }
    this.sendHeartbeat(monitor, this.deliverAnswer);
    return NO_ANSWER;
  }

  /**
   * Whether the silence of a target proves nothing: this process stalled after `since` (monotonic
   * ms), so heartbeats may still be unread, or were never asked for. A timeout (with either
   * detector) asks about stalls near its deadline; a phi verdict about any since the silence
   * began, since phi is sensitive to a few hundred ms.
   * @internal
   */
  protected silenceExcused(_resourceId: string, since: number): boolean {
    return this.stallGuard.stalledAfter(since);
  }

  /**
   * Retrieves the payload for the monitor's target, sends it with `rpc`, and tracks the RPC's
   * outcome (and the answer its reply carries, if any).
   * @internal
   */
  protected sendHeartbeat(monitor: HeartbeatMonitor<O>, rpc: HeartbeatRpc<O>): void {
    const payload = this.retrievePayload(monitor);
    if (isPromiseLike(payload)) {
      payload.then((resolved) => this.deliver(monitor, rpc, resolved));
    } else {
      this.deliver(monitor, rpc, payload);
    }
  }

  /** The answer itself, for an origin that can only be answered in the reply to its request. */
  private answerInReply(monitor: HeartbeatMonitor<O>): Promise<HeartbeatAnswer<O> | void> {
    const payload = this.retrievePayload(monitor);
    return isPromiseLike(payload)
      ? payload.then((resolved) => this.answerOf(monitor, resolved))
      : Promise.resolve(this.answerOf(monitor, payload));
  }

  private answerOf(
    monitor: HeartbeatMonitor<O>,
    payload: O | null | undefined,
  ): HeartbeatAnswer<O> | void {
    // Nothing if unmonitored (or stopped) while the payload was being retrieved.
    return this.isCurrent(monitor)
      ? { origin: this.ownResourceId, payload: payload ?? null }
      : undefined;
  }

  /**
   * The listener's payload for the monitor's target. A provider that fails is logged and the
   * heartbeat goes without payload: it still proves liveness, so it is sent rather than nothing.
   */
  private retrievePayload(
    monitor: HeartbeatMonitor<O>,
  ): O | null | undefined | Promise<O | null | undefined> {
    try {
      const payload = this.listener.retrievePayload(monitor.resourceId);
      return isPromiseLike(payload)
        ? Promise.resolve(payload).then(undefined, (error: unknown) => {
            this.payloadFailed(monitor, error);
            return null;
          })
        : payload;
    } catch (error) {
      this.payloadFailed(monitor, error);
      return null;
    }
  }

  private payloadFailed(monitor: HeartbeatMonitor<O>, error: unknown): void {
    logFailure(this.logger, `Retrieving the heartbeat payload for ${monitor.resourceId}`, error);
  }

  private deliver(
    monitor: HeartbeatMonitor<O>,
    rpc: HeartbeatRpc<O>,
    payload: O | null | undefined,
  ): void {
    const { target } = monitor;
    if (target === null || this.monitors.get(monitor.resourceId) !== monitor) {
      return; // unmonitored (or stopped) while the payload was being retrieved
    }
    // Measured only for subscribers to heartbeats: a closure per heartbeat, for its round trip.
    const sentAt =
      this.eventStream.heartbeatsWatched && rpc !== this.deliverAnswer
        ? monotonicNow(this.clock)
        : -1;
    let outcome: Promise<HeartbeatAnswer | void>;
    try {
      // Promise.resolve: a plain-JS target might return a non-promise.
      outcome = Promise.resolve(rpc(target, payload ?? null));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    if (sentAt >= 0) {
      outcome.then(
        // Never below 0: a clock without a monotonic reading may step back in between.
        (reply) =>
          monitor.rpcSucceededAfter(
            reply,
            // Whole ms, as the events always reported them.
            Math.max(0, Math.round(monotonicNow(this.clock) - sentAt)),
          ),
        monitor.rpcFailed,
      );
    } else {
      outcome.then(monitor.rpcSucceeded, monitor.rpcFailed);
    }
  }

  private readonly rpcFailed = (error: unknown, monitor: HeartbeatMonitor): void => {
    // Guarded here too: classifying and describing the failure is for watchers only.
    if (this.eventStream.changesWatched && this.isCurrent(monitor)) {
      this.emitChange({
        type: 'rpc-failed',
        target: monitor.resourceId,
        kind: rpcFailureKindOf(error),
        failure: failureMessage(error),
      });
    }
  };

  /** An answer to a request (a receiver's, in reply to ours) goes to the origin's target. */
  private readonly deliverAnswer: HeartbeatRpc<O> = (target, payload) =>
    target.receiveHeartbeat(this.ownResourceId, payload);

  /**
   * An answer that came back in a reply is taken as an arriving `receiveHeartbeat` is, once
   * admitted (a rejected one is logged, and neither refreshes the origin nor reports its payload).
   */
  private readonly takeAnswer = (
    answer: HeartbeatAnswer,
    monitor: HeartbeatMonitor,
    roundTripMs: number | null,
  ): void => {
    if (!this.isCurrent(monitor)) {
      return;
    }
    const admit = this.admitAnswer;
    if (!admit) {
      this.takeHeartbeat(answer.origin, answer.payload as I | null, roundTripMs);
      return;
    }
    let outcome: AnswerAdmissionOutcome | Promise<AnswerAdmissionOutcome>;
    try {
      outcome = admit(answer);
    } catch (error) {
      logFailure(this.logger, `Vetting the answer of ${answer.origin}`, error);
      return;
    }
    if (isPromiseLike(outcome)) {
      outcome.then(
        (settled) => this.takeAdmitted(answer, monitor, settled, roundTripMs),
        (error: unknown) =>
          logFailure(this.logger, `Vetting the answer of ${answer.origin}`, error),
      );
    } else {
      this.takeAdmitted(answer, monitor, outcome, roundTripMs);
    }
  };

  private takeAdmitted(
    answer: HeartbeatAnswer,
    monitor: HeartbeatMonitor,
    outcome: AnswerAdmissionOutcome,
    roundTripMs: number | null,
  ): void {
    if (!this.isCurrent(monitor)) {
      return; // unmonitored while it was being vetted
    }
    if (outcome.accepted) {
      this.takeHeartbeat(answer.origin, outcome.payload as I | null, roundTripMs);
    } else {
      this.rejectMessage(
        answer.origin,
        'vetoed',
        `rejected the answer of ${answer.origin}: ${outcome.reason}`,
      );
    }
  }

  /**
   * Whether the monitor an RPC went out for is still the one for its id: an answer that comes back
   * after its target was unmonitored (even monitored again since) or its manager stopped is
   * dropped, since nothing fires for a target once it is unmonitored.
   */
  private isCurrent(monitor: HeartbeatMonitor): boolean {
    return !this.stopped && this.monitors.get(monitor.resourceId) === monitor;
  }

  /** Flink's `receiveHeartbeat`, however the heartbeat arrived. */
  private takeHeartbeat(origin: string, payload: I | null, roundTripMs: number | null): void {
    if (!this.stopped) {
      const monitor = this.monitors.get(origin);
      if (monitor) {
        monitor.reportHeartbeat();
        if (this.eventStream.heartbeatsWatched) {
          this.emitHeartbeat(origin, payload, roundTripMs);
        }
      }
      // As in Flink, a payload is reported even from an origin that is not monitored.
      this.reportPayload(origin, payload);
    }
  }

  private emitHeartbeat(target: string, payload: unknown, roundTripMs: number | null): void {
    this.eventStream.emit({
      type: 'heartbeat',
      manager: this.name,
      at: this.clock.now(),
      target,
      roundTripMs,
      // Serialised only if read: most subscribers (the metrics) never do.
      get payloadBytes() {
        return payloadBytesOf(payload);
      },
    });
  }

  private emitRejected(peer: string, reason: HeartbeatRejectionReason, detail: string): void {
    this.emitChange({ type: 'rejected', peer, reason, detail });
  }

  /**
   * Reports a change (any event but `heartbeat`) to its watchers, if any, with this manager's name
   * and the time. A subscriber's throw is rxjs's to report (it rethrows it asynchronously, as an
   * uncaught exception): subscribers guard themselves, as the README says.
   */
  private emitChange(change: HeartbeatChangeFields): void {
    if (this.eventStream.changesWatched) {
      this.eventStream.emit({
        manager: this.name,
        at: this.clock.now(),
        ...change,
      } as HeartbeatChangeEvent);
    }
  }

  private reportPayload(origin: string, payload: I | null): void {
    if (payload === null || payload === undefined) {
      return;
    }
    // Written out rather than with `safely`: this runs on every heartbeat.
    try {
      const result = this.listener.reportPayload(origin, payload);
      if (isPromiseLike(result)) {
        logRejection(this.logger, `Heartbeat payload handler for ${origin}`, result);
      }
    } catch (error) {
      logFailure(this.logger, `Heartbeat payload handler for ${origin}`, error);
    }
  }
}

function disposeMonitored(logger: HeartbeatLogger, monitor: HeartbeatMonitor<unknown>): void {
  if (monitor.target) {
    disposeTarget(logger, monitor.resourceId, monitor.target);
  }
}

function assertResourceId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(
      `${name} must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
}

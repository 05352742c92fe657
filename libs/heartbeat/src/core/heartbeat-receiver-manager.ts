import { systemClock, timerScheduler, type Clock, type Scheduler } from './clock.js';
import type { ResolvedHeartbeatConfiguration } from './heartbeat-configuration.js';
import { consoleHeartbeatLogger } from './console-heartbeat-logger.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import { HeartbeatMonitor } from './heartbeat-monitor.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';
import { StallGuard } from './stall-guard.js';
import { disposeTarget, isPromiseLike, logFailure, safely } from './safely.js';

/**
 * What a manager is built from. `HeartbeatServices` builds managers: it is the one place that
 * passes these, with the configuration it resolved once.
 * @internal
 */
export interface HeartbeatManagerOptions<I, O> {
  /** This side's id, sent as the origin of every heartbeat. */
  readonly ownResourceId: string;
  readonly listener: HeartbeatListener<I, O>;
  /** Validated by `resolveHeartbeatConfiguration`; the manager does not check it again. */
  readonly configuration: ResolvedHeartbeatConfiguration;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: HeartbeatLogger;
}

type HeartbeatRpc<O> = (target: HeartbeatTarget<O>, payload: O | null) => Promise<void>;

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
  private readonly stallGuard: StallGuard;
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
    const { stallThreshold, timeout } = this.configuration;
    this.stallGuard = new StallGuard({
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
      threshold: stallThreshold,
      describeStall: (gap) =>
        `Heartbeat manager ${this.ownResourceId}: this process stalled, no timer ran for ${gap} ms ` +
        `(stall threshold ${stallThreshold} ms); heartbeat timeouts falling due in or just after ` +
        `the stall get a fresh ${timeout} ms window instead of being declared`,
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  monitorTarget(resourceId: string, target: HeartbeatTarget<O>): void {
    assertResourceId(resourceId, 'resourceId');
    const existing = this.monitors.get(resourceId);
    if (this.stopped || existing) {
      // The manager owns what it is given: a target it will not use is released at once.
      if (existing?.target !== target) {
        disposeTarget(this.logger, resourceId, target);
      }
      return;
    }
    const monitor = new HeartbeatMonitor<O>(resourceId, target, {
      clock: this.clock,
      scheduler: this.scheduler,
      timeout: this.configuration.timeout,
      rpcFailureThreshold: this.configuration.rpcFailureThreshold,
      silenceExcused: (deadline) => this.silenceExcused(resourceId, deadline),
      onTimeout: (id) =>
        safely(
          this.logger,
          `Heartbeat timeout handler for ${id}`,
          () => this.listener.notifyHeartbeatTimeout(id),
          undefined,
        ),
      onUnreachable: (id) =>
        safely(
          this.logger,
          `Target unreachable handler for ${id}`,
          () => this.listener.notifyTargetUnreachable(id),
          undefined,
        ),
    });
    this.monitors.set(resourceId, monitor);
    this.stallGuard.start();
  }

  unmonitorTarget(resourceId: string): void {
    if (this.stopped) {
      return;
    }
    const monitor = this.monitors.get(resourceId);
    if (monitor) {
      this.monitors.delete(resourceId);
      monitor.cancel();
      disposeTarget(this.logger, resourceId, monitor.target);
    }
    if (this.monitors.size === 0) {
      this.stallGuard.stop();
    }
  }

  getLastHeartbeatFrom(resourceId: string): number {
    return this.monitors.get(resourceId)?.getLastHeartbeat() ?? -1;
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
    for (const [resourceId, monitor] of this.monitors) {
      monitor.cancel();
      disposeTarget(this.logger, resourceId, monitor.target);
    }
    this.monitors.clear();
  }

  /** A heartbeat (the answer to one of our requests) arrived. */
  receiveHeartbeat(origin: string, payload: I | null): Promise<void> {
    if (!this.stopped) {
      this.monitors.get(origin)?.reportHeartbeat();
      // As in Flink, a payload is reported even from an origin that is not monitored.
      this.reportPayload(origin, payload);
    }
    return Promise.resolve();
  }

  /** A target asks for a heartbeat: answer only origins we monitor. */
  requestHeartbeat(origin: string, payload: I | null): Promise<void> {
    const monitor = this.stopped ? undefined : this.monitors.get(origin);
    if (monitor) {
      monitor.reportHeartbeat();
      this.reportPayload(origin, payload);
      this.sendHeartbeat(monitor, (target, outgoing) =>
        target.receiveHeartbeat(this.ownResourceId, outgoing),
      );
    }
    return Promise.resolve();
  }

  /**
   * Whether the silence of a target until `deadline` proves nothing: this process stalled so near
   * it that heartbeats due before it may still be unread. A stall that ended less than an interval
   * before the deadline still counts: a sender asks again only when it resumes, and the answers
   * take a round trip.
   * @internal
   */
  protected silenceExcused(_resourceId: string, deadline: number): boolean {
    return this.stallGuard.stalledAfter(deadline - this.configuration.interval);
  }

  /**
   * Retrieves the payload for the monitor's target, sends it with `rpc`, and tracks the RPC's outcome.
   * @internal
   */
  protected sendHeartbeat(monitor: HeartbeatMonitor<O>, rpc: HeartbeatRpc<O>): void {
    const what = `Retrieving the heartbeat payload for ${monitor.resourceId}`;
    let payload: O | null | undefined | Promise<O | null | undefined>;
    try {
      payload = this.listener.retrievePayload(monitor.resourceId);
    } catch (error) {
      // A heartbeat without payload still proves liveness: send it rather than nothing.
      logFailure(this.logger, what, error);
      payload = null;
    }
    if (isPromiseLike(payload)) {
      payload.then(
        (resolved) => this.deliver(monitor, rpc, resolved),
        (error: unknown) => {
          logFailure(this.logger, what, error);
          this.deliver(monitor, rpc, null);
        },
      );
    } else {
      this.deliver(monitor, rpc, payload);
    }
  }

  private deliver(
    monitor: HeartbeatMonitor<O>,
    rpc: HeartbeatRpc<O>,
    payload: O | null | undefined,
  ): void {
    if (this.monitors.get(monitor.resourceId) !== monitor) {
      return; // unmonitored (or stopped) while the payload was being retrieved
    }
    let outcome: Promise<void>;
    try {
      // Promise.resolve: a plain-JS target might return a non-promise.
      outcome = Promise.resolve(rpc(monitor.target, payload ?? null));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome.then(
      () => monitor.reportHeartbeatRpcSuccess(),
      (error: unknown) => {
        if (RecipientUnreachableError.matches(error)) {
          monitor.reportHeartbeatRpcFailure();
        }
      },
    );
  }

  private reportPayload(origin: string, payload: I | null): void {
    if (payload !== null && payload !== undefined) {
      safely(
        this.logger,
        `Heartbeat payload handler for ${origin}`,
        () => this.listener.reportPayload(origin, payload),
        undefined,
      );
    }
  }
}

function assertResourceId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(
      `${name} must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
}

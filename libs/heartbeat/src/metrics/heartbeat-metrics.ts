import type * as PromClient from 'prom-client';
import { merge, type Subscription } from 'rxjs';
import { monotonicNow, systemClock, type Clock } from '../core/clock.js';
import { consoleHeartbeatLogger } from '../core/console-heartbeat-logger.js';
import {
  HeartbeatConfigurationError,
  type HeartbeatConfigurationProblem,
} from '../core/heartbeat-configuration.js';
import type {
  HeartbeatEvent,
  HeartbeatRejectionReason,
  HeartbeatRpcFailureKind,
} from '../core/heartbeat-events.js';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { HEARTBEAT_MESSAGES } from '../nest/heartbeat.messages.js';
import { checkHeartbeatMetricsOptions } from './heartbeat-metrics-options.js';
import type {
  HeartbeatMetricsOptions,
  HeartbeatMetricsRegistry,
  HeartbeatMetricsSources,
  PromClientModule,
} from './interfaces/heartbeat-metrics-options.interface.js';

// Both lists are the whole bounded sets (the Record makes the compiler check that), so that every
// series of a manager exists from the start at 0, as Prometheus advises for counters.
const RPC_FAILURE_KINDS = Object.keys({
  unreachable: true,
  timeout: true,
  rejected: true,
  other: true,
} satisfies Record<HeartbeatRpcFailureKind, true>) as HeartbeatRpcFailureKind[];
const REJECTION_REASONS = Object.keys({
  malformed: true,
  'unknown-manager': true,
  vetoed: true,
  'unknown-origin': true,
} satisfies Record<HeartbeatRejectionReason, true>) as HeartbeatRejectionReason[];

/**
 * Marks a metric as made by a `HeartbeatMetrics`, with whether that instance was closed. A global
 * symbol: a second copy of the library (its ESM and CJS builds in one process) recognises it too.
 */
const OWNER: unique symbol = Symbol.for('nestjs-heartbeat.metrics-owner');

interface Ownership {
  closed: boolean;
}

type OwnedMetric = PromClient.Metric & { [OWNER]?: Ownership };

type ManagerLabels = { readonly manager: string };

/** The label sets of one manager's series, made once: an event then allocates none. */
interface ManagerSeries {
  readonly labels: ManagerLabels;
  readonly byKind: Readonly<Record<HeartbeatRpcFailureKind, ManagerLabels & { kind: string }>>;
  readonly byReason: Readonly<Record<HeartbeatRejectionReason, ManagerLabels & { reason: string }>>;
  /**
   * When each target not heard from yet was monitored (monotonic ms, when the event came): its
   * silence is counted from then.
   */
  readonly monitoredAt: Map<string, number>;
}

/**
 * The Prometheus metrics of heartbeat managers, with prom-client: counters and histograms fed by
 * the managers' events, gauges and the time since each target's last heartbeat read from the
 * managers at each scrape. Every series is labelled `manager`; none is per target unless
 * `perTarget` asks for it. In Nest, `HeartbeatModule.forRoot({ ..., metrics: true })` makes one;
 * outside Nest (or to measure it), make it yourself and `close()` it when done.
 */
export class HeartbeatMetrics {
  private readonly registry: HeartbeatMetricsRegistry;
  private readonly managers: ReadonlyMap<string, HeartbeatManager>;
  private readonly clock: Clock;
  /**
   * When this instance began watching (monotonic ms): the silence of a target monitored before is
   * counted from then.
   */
  private readonly startedAt: number;
  private readonly ownership: Ownership = { closed: false };
  private readonly owned: { readonly name: string; readonly metric: OwnedMetric }[] = [];
  private readonly series = new Map<string, ManagerSeries>();
  private readonly subscription: Subscription;

  private readonly targetsMonitored: PromClient.Gauge<'manager'>;
  private readonly heartbeatsReceived: PromClient.Counter<'manager'>;
  private readonly roundTrip: PromClient.Histogram<'manager'>;
  private readonly timeSinceLastHeartbeat: PromClient.Histogram<'manager'>;
  private readonly targetTimeSinceLastHeartbeat: PromClient.Gauge<'manager' | 'target'> | null;
  private readonly timeouts: PromClient.Counter<'manager'>;
  private readonly unreachable: PromClient.Counter<'manager'>;
  private readonly rejectedMessages: PromClient.Counter<'manager' | 'reason'>;
  private readonly stalls: PromClient.Counter<'manager'>;
  private readonly stallSeconds: PromClient.Histogram<'manager'>;
  private readonly rpcFailures: PromClient.Counter<'manager' | 'kind'>;

  /**
   * Registers the metrics and starts counting `sources.events` at once.
   *
   * A metric of the same name already in the registry that an earlier `HeartbeatMetrics` made is
   * replaced (a module made again on one registry: tests, hot reload), with a warning if that
   * instance was not closed; one made by anything else is an error (choose another `prefix`).
   *
   * @param promClient the prom-client module: `import * as promClient from 'prom-client'`.
   * @param sources the managers and their events (`HeartbeatMetricsSources`).
   * @param options the registry (default prom-client's global `register`), the names' `prefix`
   *   (default `heartbeat_`), `perTarget` and the histograms' `buckets`, checked as the module's
   *   `metrics` option is; a bad one throws a `HeartbeatConfigurationError` that names it.
   */
  constructor(
    promClient: PromClientModule,
    sources: HeartbeatMetricsSources,
    options: HeartbeatMetricsOptions = {},
  ) {
    const client = promClient as unknown as typeof PromClient;
    const checked = checkHeartbeatMetricsOptions(options);
    if (!checked.ok) {
      throw metricsOptionError(checked.problem);
    }
    if (typeof sources?.managers?.entries !== 'function') {
      throw new TypeError(HEARTBEAT_MESSAGES.metricsNeedManagers(sources?.managers));
    }
    const { prefix, perTarget, buckets } = checked.options;
    this.registry = checked.options.registry ?? client.register;
    this.managers = sources.managers;
    this.clock = sources.clock ?? systemClock;
    this.startedAt = monotonicNow(this.clock);
    const logger = sources.logger ?? consoleHeartbeatLogger;
    const registers = [this.registry as PromClient.Registry];
    const names = {
      targetsMonitored: `${prefix}targets_monitored`,
      heartbeatsReceived: `${prefix}heartbeats_received_total`,
      roundTrip: `${prefix}round_trip_seconds`,
      timeSinceLastHeartbeat: `${prefix}time_since_last_heartbeat_seconds`,
      targetTimeSinceLastHeartbeat: `${prefix}target_time_since_last_heartbeat_seconds`,
      timeouts: `${prefix}timeouts_total`,
      unreachable: `${prefix}unreachable_total`,
      rejectedMessages: `${prefix}rejected_messages_total`,
      stalls: `${prefix}stalls_total`,
      stallSeconds: `${prefix}stall_seconds`,
      rpcFailures: `${prefix}rpc_failures_total`,
    };
    const ownNames = Object.values(names).filter(
      (name) => perTarget || name !== names.targetTimeSinceLastHeartbeat,
    );
    this.makeRoomFor(ownNames, logger);

    this.targetsMonitored = this.own(
      new client.Gauge({
        name: names.targetsMonitored,
        help: 'Targets each heartbeat manager monitors now (read at scrape).',
        labelNames: ['manager'],
        registers,
        collect: () => this.collectTargetsMonitored(),
      }),
    );
    this.heartbeatsReceived = this.own(
      new client.Counter({
        name: names.heartbeatsReceived,
        help: 'Heartbeats taken from monitored targets (answers to requests, and requests).',
        labelNames: ['manager'],
        registers,
      }),
    );
    this.roundTrip = this.own(
      new client.Histogram({
        name: names.roundTrip,
        help: "Seconds from a sender's heartbeat request to the answer its reply brought.",
        labelNames: ['manager'],
        buckets: [...buckets.roundTripSeconds],
        registers,
      }),
    );
    this.timeSinceLastHeartbeat = this.own(
      new client.Histogram({
        name: names.timeSinceLastHeartbeat,
        help:
          'Seconds since the last heartbeat of each monitored target (since it was monitored if none ' +
          'yet), all targets observed afresh at each scrape.',
        labelNames: ['manager'],
        buckets: [...buckets.timeSinceLastHeartbeatSeconds],
        registers,
        collect: () => this.collectTimeSinceLastHeartbeat(),
      }),
    );
    this.targetTimeSinceLastHeartbeat = perTarget
      ? this.own(
          new client.Gauge({
            name: names.targetTimeSinceLastHeartbeat,
            help: 'Seconds since the last heartbeat of one monitored target (since it was monitored if none yet).',
            labelNames: ['manager', 'target'],
            registers,
            collect: () => this.collectTargetTimeSinceLastHeartbeat(),
          }),
        )
      : null;
    this.timeouts = this.own(
      new client.Counter({
        name: names.timeouts,
        help:
          'Targets declared lost for their silence: no heartbeat within the timeout or, with the ' +
          'phi-accrual detector, a silence improbable under their heartbeats so far.',
        labelNames: ['manager'],
        registers,
      }),
    );
    this.unreachable = this.own(
      new client.Counter({
        name: names.unreachable,
        help: 'Targets declared lost: rpcFailureThreshold heartbeat RPCs in a row could not reach them.',
        labelNames: ['manager'],
        registers,
      }),
    );
    this.rejectedMessages = this.own(
      new client.Counter({
        name: names.rejectedMessages,
        help:
          'Heartbeat messages turned down, by reason (malformed, unknown-manager, vetoed, ' +
          'unknown-origin); manager "" for those that named no manager of this process.',
        labelNames: ['manager', 'reason'],
        registers,
      }),
    );
    this.stalls = this.own(
      new client.Counter({
        name: names.stalls,
        help: "Stalls of this process (no timer ran for the stall threshold) seen by a manager's stall guard.",
        labelNames: ['manager'],
        registers,
      }),
    );
    this.stallSeconds = this.own(
      new client.Histogram({
        name: names.stallSeconds,
        help: 'Seconds each stall of this process lasted.',
        labelNames: ['manager'],
        buckets: [...buckets.stallSeconds],
        registers,
      }),
    );
    this.rpcFailures = this.own(
      new client.Counter({
        name: names.rpcFailures,
        help: 'Heartbeat RPCs that failed, by kind (only unreachable counts towards the threshold).',
        labelNames: ['manager', 'kind'],
        registers,
      }),
    );

    for (const name of this.managers.keys()) {
      this.initialise(this.seriesOf(name));
    }
    const events =
      sources.events ?? merge(...[...this.managers.values()].map((manager) => manager.events));
    this.subscription = events.subscribe(this.record);
  }

  /**
   * Stops counting and removes its metrics from the registry (those still its own: not replaced
   * since by a newer instance). Idempotent. In Nest, the module does it at shutdown.
   */
  close(): void {
    if (this.ownership.closed) {
      return;
    }
    this.ownership.closed = true;
    this.subscription.unsubscribe();
    for (const { name, metric } of this.owned) {
      if (this.registry.getSingleMetric(name) === metric) {
        this.registry.removeSingleMetric(name);
      }
    }
    this.series.clear();
  }

  /** Counts one event: bound once, it allocates nothing per heartbeat. */
  private readonly record = (event: HeartbeatEvent): void => {
    const series = this.seriesOf(event.manager);
    switch (event.type) {
      case 'heartbeat':
        this.heartbeatsReceived.inc(series.labels);
        if (event.roundTripMs !== null) {
          this.roundTrip.observe(series.labels, event.roundTripMs / 1_000);
        }
        break;
      case 'timeout':
        this.timeouts.inc(series.labels);
        break;
      case 'unreachable':
        this.unreachable.inc(series.labels);
        break;
      case 'rpc-failed':
        this.rpcFailures.inc(series.byKind[event.kind]);
        break;
      case 'rejected':
        this.rejectedMessages.inc(series.byReason[event.reason]);
        break;
      case 'stalled':
        this.stalls.inc(series.labels);
        this.stallSeconds.observe(series.labels, event.stallMs / 1_000);
        break;
      case 'monitored':
        // Heard as it happens (the managers emit synchronously), on the clock durations use.
        series.monitoredAt.set(event.target, monotonicNow(this.clock));
        break;
      case 'unmonitored':
        series.monitoredAt.delete(event.target);
        break;
    }
  };

  private collectTargetsMonitored(): void {
    this.targetsMonitored.reset();
    for (const [name, manager] of this.managers) {
      this.targetsMonitored.set(this.seriesOf(name).labels, manager.getMonitoredTargets().length);
    }
  }

  /** Every target's age in a histogram per manager: bounded, however many targets there are. */
  private collectTimeSinceLastHeartbeat(): void {
    this.timeSinceLastHeartbeat.reset();
    for (const name of this.managers.keys()) {
      this.timeSinceLastHeartbeat.zero(this.seriesOf(name).labels);
    }
    this.forEachSilence((series, _target, seconds) =>
      this.timeSinceLastHeartbeat.observe(series.labels, seconds),
    );
  }

  private collectTargetTimeSinceLastHeartbeat(): void {
    const gauge = this.targetTimeSinceLastHeartbeat!;
    gauge.reset(); // unmonitored targets leave no series behind
    this.forEachSilence((series, target, seconds) =>
      gauge.set({ manager: series.labels.manager, target }, seconds),
    );
  }

  /** Each monitored target with the seconds since its last heartbeat (or since it was monitored). */
  private forEachSilence(
    visit: (series: ManagerSeries, target: string, seconds: number) => void,
  ): void {
    const now = monotonicNow(this.clock);
    for (const [name, manager] of this.managers) {
      const series = this.seriesOf(name);
      if (manager.isStopped) {
        series.monitoredAt.clear(); // a stopped manager unmonitors all without an event
        continue;
      }
      for (const target of manager.getMonitoredTargets()) {
        const last = manager.getLastHeartbeatFrom(target);
        if (last < 0) {
          continue; // unmonitored meanwhile
        }
        let silence: number;
        if (last === 0) {
          silence = now - (series.monitoredAt.get(target) ?? this.startedAt);
        } else {
          series.monitoredAt.delete(target); // heard from: its own time counts from now on
          silence = millisSinceLastHeartbeat(manager, target, last, this.clock);
        }
        visit(series, target, Math.max(0, silence) / 1_000);
      }
    }
  }

  private seriesOf(manager: string): ManagerSeries {
    let series = this.series.get(manager);
    if (!series) {
      series = {
        labels: { manager },
        byKind: Object.fromEntries(
          RPC_FAILURE_KINDS.map((kind) => [kind, { manager, kind }]),
        ) as ManagerSeries['byKind'],
        byReason: Object.fromEntries(
          REJECTION_REASONS.map((reason) => [reason, { manager, reason }]),
        ) as ManagerSeries['byReason'],
        monitoredAt: new Map(),
      };
      this.series.set(manager, series);
    }
    return series;
  }

  /** Every series of a manager at 0, so that a rate over it exists before its first event. */
  private initialise(series: ManagerSeries): void {
    for (const counter of [this.heartbeatsReceived, this.timeouts, this.unreachable, this.stalls]) {
      counter.inc(series.labels, 0);
    }
    for (const labels of Object.values(series.byKind)) {
      this.rpcFailures.inc(labels, 0);
    }
    for (const labels of Object.values(series.byReason)) {
      this.rejectedMessages.inc(labels, 0);
    }
    this.roundTrip.zero(series.labels);
    this.stallSeconds.zero(series.labels);
  }

  /**
   * Frees the names for this instance's metrics: those an earlier instance made are removed (it
   * may still run, unclosed: say so); one made by anything else stops everything, before any
   * metric was touched.
   */
  private makeRoomFor(names: readonly string[], logger: HeartbeatLogger): void {
    const existing = names
      .map((name) => ({ name, metric: this.registry.getSingleMetric(name) as OwnedMetric }))
      .filter(({ metric }) => metric !== undefined);
    const foreign = existing.find(({ metric }) => metric[OWNER] === undefined);
    if (foreign) {
      throw new Error(HEARTBEAT_MESSAGES.metricNameTaken(foreign.name));
    }
    if (existing.some(({ metric }) => metric[OWNER]?.closed === false)) {
      logger.warn(HEARTBEAT_MESSAGES.metricsReplaced(existing.map(({ name }) => name)));
    }
    for (const { name } of existing) {
      this.registry.removeSingleMetric(name);
    }
  }

  private own<M extends PromClient.Metric>(metric: M): M {
    Object.defineProperty(metric, OWNER, { value: this.ownership });
    this.owned.push({ name: (metric as unknown as { name: string }).name, metric });
    return metric;
  }
}

/** A `HeartbeatMetrics` option that breaks its rule, named as its options name it. */
function metricsOptionError(problem: HeartbeatConfigurationProblem): HeartbeatConfigurationError {
  const setting = problem.setting || 'options';
  return new HeartbeatConfigurationError(
    HEARTBEAT_MESSAGES.invalidMetricsOption(setting, problem.rule, problem.value),
    [{ ...problem, setting }],
  );
}

/**
 * The silence of a target heard from (its last heartbeat at `last`, epoch ms): on the monotonic
 * clock for the library's own managers, so that a step of the wall clock does not change it; from
 * the epoch time for another implementation of `HeartbeatManager`, which has nothing else.
 */
function millisSinceLastHeartbeat(
  manager: HeartbeatManager,
  target: string,
  last: number,
  clock: Clock,
): number {
  // Duck-typed, not `instanceof`: the package's CJS and ESM builds each have their own classes.
  const own = manager as HeartbeatManager & Partial<MonotonicSilence>;
  return typeof own.millisSinceLastHeartbeat === 'function'
    ? own.millisSinceLastHeartbeat(target)
    : clock.now() - last;
}

/** What the library's own managers add (internally) to `HeartbeatManager`. */
interface MonotonicSilence {
  millisSinceLastHeartbeat(target: string): number;
}

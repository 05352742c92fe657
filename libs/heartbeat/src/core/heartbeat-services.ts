import { systemClock, timerScheduler, type Clock, type Scheduler } from './clock.js';
import {
  DEFAULT_HEARTBEAT_CONFIGURATION,
  isResolvedHeartbeatConfiguration,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type ResolvedHeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import { HeartbeatReceiverManager, type AnswerAdmission } from './heartbeat-receiver-manager.js';
import { HeartbeatSenderManager } from './heartbeat-sender-manager.js';

/**
 * Time, timers and logging for the managers; the system's own (and the console) by default. One
 * object that is both a clock and a scheduler (a `ManualClock`) serves as both when given as only
 * one of them, so that fake time never mixes with real timers.
 */
export interface HeartbeatEnvironment {
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: HeartbeatLogger;
}

/** What a receiver may be given besides its id and listener. */
export interface HeartbeatReceiverOptions {
  /**
   * The name its events carry (`HeartbeatEvent.manager`), to tell managers apart; its own
   * resource id if absent. Nest's registry gives each manager the name it is declared under.
   */
  readonly name?: string;
}

/** What a sender may be given besides its id and listener. */
export interface HeartbeatSenderOptions extends HeartbeatReceiverOptions {
  /**
   * Vets each answer that comes back in the reply to a request before the sender takes it (in
   * Nest, the manager's `@OnIncomingHeartbeat` handlers do): rejected, it neither refreshes the
   * target nor reaches the listener. Every answer is taken if absent.
   */
  readonly admitAnswer?: AnswerAdmission;
}

/**
 * Flink's `HeartbeatServices`: the one factory of heartbeat managers, from one resolved
 * configuration and one environment. Nest's `HeartbeatRegistry` builds its managers here too.
 *
 * ```ts
 * const services = HeartbeatServices.fromConfiguration({ interval: 1_000, timeout: 5_000 });
 * const sender = services.createSenderManager('rm', listener);
 * sender.monitorTarget('tm-1', target);
 * sender.start(); // the request loop begins: now, then every interval
 * ```
 */
export class HeartbeatServices {
  /**
   * Resolves and validates `overrides` of Flink's defaults (a `HeartbeatConfigurationError` names
   * each bad setting), then makes the factory.
   */
  static fromConfiguration(
    overrides: Partial<HeartbeatConfiguration> = {},
    environment: HeartbeatEnvironment = {},
  ): HeartbeatServices {
    return new HeartbeatServices(resolveHeartbeatConfiguration(overrides), environment);
  }

  /** The configuration every manager it makes gets: one `resolveHeartbeatConfiguration` returned. */
  readonly configuration: ResolvedHeartbeatConfiguration;
  private readonly environment: HeartbeatEnvironment;

  /**
   * Takes a configuration `resolveHeartbeatConfiguration` returned as it is (Flink's defaults if
   * none). Anything else, such as a spread or copy of one (whose type still says "resolved") or a
   * plain object from JavaScript, is resolved here: defaults filled in and every rule checked, so
   * that no manager ever runs on an unchecked configuration (a `HeartbeatConfigurationError`
   * names each bad setting).
   */
  constructor(
    configuration: ResolvedHeartbeatConfiguration = DEFAULT_HEARTBEAT_CONFIGURATION,
    environment: HeartbeatEnvironment = {},
  ) {
    this.configuration = isResolvedHeartbeatConfiguration(configuration)
      ? configuration
      : resolveHeartbeatConfiguration(configuration, 'HeartbeatServices');
    this.environment = completeEnvironment(environment);
  }

  /**
   * A sender: it requests heartbeats from every target it monitors, every `interval`, once
   * started. It is returned not started: call its idempotent `start()` when the owner is ready
   * (Nest's registry does so at application bootstrap).
   */
  createSenderManager<I, O>(
    ownResourceId: string,
    listener: HeartbeatListener<I, O>,
    options: HeartbeatSenderOptions = {},
  ): HeartbeatSenderManager<I, O> {
    return new HeartbeatSenderManager({
      ...this.environment,
      ownResourceId,
      listener,
      configuration: this.configuration,
      name: options.name,
      admitAnswer: options.admitAnswer,
    });
  }

  /** A receiver: it answers the requests of the targets it monitors and times out silent ones. */
  createReceiverManager<I, O>(
    ownResourceId: string,
    listener: HeartbeatListener<I, O>,
    options: HeartbeatReceiverOptions = {},
  ): HeartbeatReceiverManager<I, O> {
    return new HeartbeatReceiverManager({
      ...this.environment,
      ownResourceId,
      listener,
      configuration: this.configuration,
      name: options.name,
    });
  }
}

/**
 * The clock and scheduler an environment means, the system's where it gives none: what the
 * managers use, for other parts that must keep the same time (the TCP target's request timeouts).
 * @internal
 */
export function timeSourcesOf(environment: HeartbeatEnvironment): {
  clock: Clock;
  scheduler: Scheduler;
} {
  const { clock, scheduler } = completeEnvironment(environment);
  return { clock: clock ?? systemClock, scheduler: scheduler ?? timerScheduler };
}

/** A clock given without a scheduler schedules too if it can (and the other way round). */
function completeEnvironment({
  clock,
  scheduler,
  logger,
}: HeartbeatEnvironment): HeartbeatEnvironment {
  return {
    clock: clock ?? (isClock(scheduler) ? scheduler : undefined),
    scheduler: scheduler ?? (isScheduler(clock) ? clock : undefined),
    logger,
  };
}

function isClock(value: unknown): value is Clock {
  return typeof (value as Clock | undefined)?.now === 'function';
}

function isScheduler(value: unknown): value is Scheduler {
  return typeof (value as Scheduler | undefined)?.schedule === 'function';
}

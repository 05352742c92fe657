import type { Clock, Scheduler } from './clock.js';
import {
  DEFAULT_HEARTBEAT_CONFIGURATION,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type ResolvedHeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import { consoleHeartbeatLogger } from './console-heartbeat-logger.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { disposeTarget } from './safely.js';
import { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';

/** Time, timers and logging for the managers; the system's own (and the console) by default. */
export interface HeartbeatEnvironment {
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: HeartbeatLogger;
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

  /** Takes a configuration `resolveHeartbeatConfiguration` made; Flink's defaults if none. */
  constructor(
    readonly configuration: ResolvedHeartbeatConfiguration = DEFAULT_HEARTBEAT_CONFIGURATION,
    private readonly environment: HeartbeatEnvironment = {},
  ) {}

  /**
   * A sender: it requests heartbeats from every target it monitors, every `interval`, once
   * started. It is returned not started: call its idempotent `start()` when the owner is ready
   * (Nest's registry does so at application bootstrap).
   */
  createSenderManager<I, O>(
    ownResourceId: string,
    listener: HeartbeatListener<I, O>,
  ): HeartbeatSenderManager<I, O> {
    return new HeartbeatSenderManager({
      ...this.environment,
      ownResourceId,
      listener,
      configuration: this.configuration,
    });
  }

  /** A receiver: it answers the requests of the targets it monitors and times out silent ones. */
  createReceiverManager<I, O>(
    ownResourceId: string,
    listener: HeartbeatListener<I, O>,
  ): HeartbeatReceiverManager<I, O> {
    return new HeartbeatReceiverManager({
      ...this.environment,
      ownResourceId,
      listener,
      configuration: this.configuration,
    });
  }
}

/** A manager that does nothing, for a component that has not started heartbeating yet. */
export class NoOpHeartbeatManager<I = unknown, O = unknown> implements HeartbeatManager<I, O> {
  readonly isStopped = false;

  constructor(
    readonly ownResourceId = 'no-op',
    private readonly logger: HeartbeatLogger = consoleHeartbeatLogger,
  ) {}

  /** Disposes the target at once: nothing will use it. */
  monitorTarget(resourceId: string, target: HeartbeatTarget<O>): void {
    disposeTarget(this.logger, resourceId, target);
  }

  unmonitorTarget(): void {}
  getLastHeartbeatFrom(): number {
    return -1;
  }
  getMonitoredTargets(): string[] {
    return [];
  }
  stop(): void {}
  receiveHeartbeat(): Promise<void> {
    return Promise.resolve();
  }
  requestHeartbeat(): Promise<void> {
    return Promise.resolve();
  }
}

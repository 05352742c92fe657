import type { Clock, Scheduler } from './clock.js';
import {
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
} from './heartbeat-configuration.js';
import type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
import type { HeartbeatManager } from './heartbeat-manager.interface.js';
import { consoleHeartbeatLogger } from './console-heartbeat-logger.js';
import { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { disposeTarget } from './safely.js';
import { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';

export interface HeartbeatEnvironment {
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: HeartbeatLogger;
}

/**
 * Flink's `HeartbeatServices`: one validated configuration and environment from which sender
 * and receiver managers are made.
 */
export class HeartbeatServices {
  readonly configuration: HeartbeatConfiguration;

  constructor(
    configuration: Partial<HeartbeatConfiguration> = {},
    private readonly environment: HeartbeatEnvironment = {},
  ) {
    this.configuration = resolveHeartbeatConfiguration(configuration);
  }

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

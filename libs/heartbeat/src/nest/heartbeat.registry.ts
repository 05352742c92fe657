import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { HeartbeatReceiverManager } from '../core/heartbeat-receiver-manager.js';
import { HeartbeatSenderManager } from '../core/heartbeat-sender-manager.js';
import { BoundHeartbeatListener } from './bound-heartbeat-listener.js';
import { HEARTBEAT_LOGGER_CONTEXT, HEARTBEAT_RESOLVED_OPTIONS } from './heartbeat.constants.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type { ResolvedHeartbeatOptions } from './heartbeat-options.validation.js';
import type { HeartbeatRole } from './interfaces/heartbeat-module-options.interface.js';

/** What the registry knows of one named manager. */
export interface HeartbeatManagerEntry {
  readonly name: string;
  readonly role: HeartbeatRole;
  readonly manager: HeartbeatManager<unknown, unknown>;
  readonly listener: BoundHeartbeatListener;
}

/** Creates the declared managers, holds them by name, and stops them all when the app shuts down. */
@Injectable()
export class HeartbeatRegistry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  private readonly entries = new Map<string, HeartbeatManagerEntry>();

  constructor(@Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions) {
    for (const { name, role, resourceId, configuration } of options.managers) {
      const listener = new BoundHeartbeatListener(name, this.logger);
      const managerOptions = {
        ownResourceId: resourceId,
        listener,
        configuration,
        clock: options.clock,
        scheduler: options.scheduler,
        logger: this.logger,
      };
      // Senders start at bootstrap: a start that fails earlier then leaves no timer running.
      const manager =
        role === 'sender'
          ? new HeartbeatSenderManager({ ...managerOptions, deferStart: true })
          : new HeartbeatReceiverManager(managerOptions);
      this.entries.set(name, { name, role, manager, listener });
    }
  }

  /** The manager declared under `name`; throws if there is none. */
  getManager<I = unknown, O = unknown>(name: string): HeartbeatManager<I, O> {
    return this.getEntry(name).manager as HeartbeatManager<I, O>;
  }

  getManagerNames(): string[] {
    return [...this.entries.keys()];
  }

  /** The entry behind a name, or undefined (used by the explorer and the transport). */
  findEntry(name: string): HeartbeatManagerEntry | undefined {
    return this.entries.get(name);
  }

  private getEntry(name: string): HeartbeatManagerEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new Error(HEARTBEAT_MESSAGES.noSuchManager(name, this.getManagerNames()));
    }
    return entry;
  }

  onApplicationBootstrap(): void {
    for (const { manager } of this.entries.values()) {
      if (manager instanceof HeartbeatSenderManager) {
        manager.start();
      }
    }
  }

  beforeApplicationShutdown(): void {
    for (const { manager } of this.entries.values()) {
      manager.stop();
    }
  }
}

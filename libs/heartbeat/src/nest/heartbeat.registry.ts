import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { HeartbeatReceiverManager } from '../core/heartbeat-receiver-manager.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatSenderManager } from '../core/heartbeat-sender-manager.js';
import type { AnswerAdmissionOutcome } from '../core/heartbeat-receiver-manager.js';
import { HeartbeatServices } from '../core/heartbeat-services.js';
import type {
  HeartbeatMessageKind,
  HeartbeatRoute,
  HeartbeatRoutes,
} from '../transport/heartbeat-ingress.js';
import { BoundHeartbeatListener } from './bound-heartbeat-listener.js';
import { IncomingHeartbeatVetter } from './incoming-heartbeat-vetter.js';
import { HEARTBEAT_LOGGER_CONTEXT, HEARTBEAT_RESOLVED_OPTIONS } from './heartbeat.constants.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type { ResolvedHeartbeatOptions } from './heartbeat-options.validation.js';

/**
 * What the registry knows of one named manager: internals (its listener, the concrete manager).
 * @internal
 */
export type HeartbeatManagerEntry = {
  readonly name: string;
  readonly listener: BoundHeartbeatListener;
  /** Its `@OnIncomingHeartbeat` handlers, bound by the explorer. */
  readonly vetter: IncomingHeartbeatVetter;
} & HeartbeatRoute &
  (
    | { readonly role: 'sender'; readonly manager: HeartbeatSenderManager<unknown, unknown> }
    | { readonly role: 'receiver'; readonly manager: HeartbeatReceiverManager<unknown, unknown> }
  );

/**
 * Creates the declared managers (through `HeartbeatServices`, from the options resolved once),
 * holds them by name, starts the senders when the application bootstraps, and stops them all when
 * it shuts down. It is also the transport's routing table: each manager with its vetter.
 */
@Injectable()
export class HeartbeatRegistry
  implements OnApplicationBootstrap, BeforeApplicationShutdown, HeartbeatRoutes
{
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  private readonly entries = new Map<string, HeartbeatManagerEntry>();

  /**
   * Nest makes the registry, from the module's resolved options.
   * @internal
   */
  constructor(@Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions) {
    const environment = { clock: options.clock, scheduler: options.scheduler, logger: this.logger };
    for (const { name, role, resourceId, configuration } of options.managers) {
      const services = new HeartbeatServices(configuration, environment);
      const listener = new BoundHeartbeatListener(name, this.logger);
      const vetter = new IncomingHeartbeatVetter(name);
      // Without handlers (the common case) at once, with no object or promise per heartbeat.
      const vet = (
        kind: HeartbeatMessageKind,
        origin: string,
        payload: unknown,
      ): AnswerAdmissionOutcome | Promise<AnswerAdmissionOutcome> =>
        vetter.isEmpty
          ? { accepted: true, payload }
          : vetter.vet({ manager: name, kind, origin, payload });
      const common = { name, listener, vetter, vet };
      this.entries.set(
        name,
        role === 'sender'
          ? {
              ...common,
              role,
              manager: services.createSenderManager(resourceId, listener, {
                // An answer in a reply is vetted as a separate `heartbeat.receive` would be.
                admitAnswer: ({ origin, payload }) => vet('receive', origin, payload),
              }),
            }
          : { ...common, role, manager: services.createReceiverManager(resourceId, listener) },
      );
    }
  }

  /**
   * Where the transport delivers a heartbeat for the manager declared under `name`.
   * @internal
   */
  routeTo(name: string): HeartbeatRoute | undefined {
    return this.entries.get(name);
  }

  /** The manager declared under `name`; throws if there is none. */
  getManager<I = unknown, O = unknown>(name: string): HeartbeatManager<I, O> {
    return this.getEntry(name).manager as HeartbeatManager<I, O>;
  }

  getManagerNames(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The entry behind a name, or undefined (used by the explorer and the transport).
   * @internal
   */
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

  /** Senders start here, once every module is initialised: a start-up that fails earlier leaves no timer. */
  onApplicationBootstrap(): void {
    for (const entry of this.entries.values()) {
      if (entry.role === 'sender') {
        entry.manager.start();
      }
    }
  }

  beforeApplicationShutdown(): void {
    for (const { manager } of this.entries.values()) {
      manager.stop();
    }
  }
}

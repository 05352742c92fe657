import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { merge, type Observable } from 'rxjs';
import type { Clock } from '../core/clock.js';
import {
  HeartbeatEventStream,
  type HeartbeatChangeEvent,
  type HeartbeatEvent,
  type HeartbeatRejectionReason,
} from '../core/heartbeat-events.js';
import type { HeartbeatReceiverManager } from '../core/heartbeat-receiver-manager.js';
import { RejectionLog } from '../core/rejection-log.js';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatSenderManager } from '../core/heartbeat-sender-manager.js';
import type { AnswerAdmissionOutcome } from '../core/heartbeat-receiver-manager.js';
import { HeartbeatServices, timeSourcesOf } from '../core/heartbeat-services.js';
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
  /** Rejections of messages that named no manager of this application. */
  private readonly unroutedEvents = new HeartbeatEventStream('');
  private readonly unroutedLog: RejectionLog;
  private readonly clock: Clock;

  /**
   * Nest makes the registry, from the module's resolved options.
   * @internal
   */
  constructor(@Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions) {
    const environment = { clock: options.clock, scheduler: options.scheduler, logger: this.logger };
    this.clock = timeSourcesOf(environment).clock;
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
                name,
                // An answer in a reply is vetted as a separate `heartbeat.receive` would be.
                admitAnswer: ({ origin, payload }) => vet('receive', origin, payload),
              }),
            }
          : {
              ...common,
              role,
              manager: services.createReceiverManager(resourceId, listener, { name }),
            },
      );
    }
    const longestInterval = Math.max(
      10_000,
      ...options.managers.map(({ configuration }) => configuration.interval),
    );
    this.unroutedLog = new RejectionLog(this.logger, this.clock, longestInterval);
  }

  /**
   * The events of the manager declared under `name` (throws if there is none), or, without a
   * name, of every manager, with the rejections of messages that named none of them (their
   * `manager` is `''`). Hot: a subscriber sees what happens from then on. Nobody subscribed costs
   * nothing: no event is built.
   */
  events(name?: string): Observable<HeartbeatEvent> {
    return this.streams(name, (manager) => manager.events);
  }

  /**
   * As {@link events}, without the `heartbeat` events: for watchers of losses, stalls and
   * rejections (alerts, health checks), which then cost the managers nothing per heartbeat.
   */
  changes(name?: string): Observable<HeartbeatChangeEvent> {
    return this.streams(name, (manager) => manager.changes);
  }

  private streams<E extends HeartbeatEvent>(
    name: string | undefined,
    of: (manager: HeartbeatManager) => Observable<E>,
  ): Observable<E> {
    if (name !== undefined) {
      return of(this.getEntry(name).manager);
    }
    return merge(
      this.unroutedEvents.changes as Observable<E>,
      ...[...this.entries.values()].map(({ manager }) => of(manager)),
    );
  }

  /**
   * Counts a message turned down, and logs `message` at most once per peer and `detail` per interval.
   * @internal
   */
  rejectMessage(
    manager: string | null,
    peer: string,
    reason: HeartbeatRejectionReason,
    detail: string,
    message: string,
  ): void {
    const entry = manager === null ? undefined : this.entries.get(manager);
    if (entry) {
      entry.manager.rejectMessage(peer, reason, detail, message);
      return;
    }
    if (this.unroutedEvents.changesWatched) {
      this.unroutedEvents.emit({
        type: 'rejected',
        manager: '',
        at: this.clock.now(),
        peer,
        reason,
        detail,
      });
    }
    this.unroutedLog.record(peer, `${reason}: ${detail}`, message);
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
    this.unroutedEvents.complete();
  }
}

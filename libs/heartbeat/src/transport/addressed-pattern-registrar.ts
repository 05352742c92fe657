import { Transport } from '@nestjs/microservices';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { throwError, type Subscription } from 'rxjs';
import { addressedHeartbeatPattern, HEARTBEAT_PATTERNS } from './addressed-patterns.js';

/** Injection token of the resource ids this application's managers answer to (deduplicated). */
export const HEARTBEAT_OWN_IDS = Symbol('HEARTBEAT_OWN_IDS');

type Handler = (data: unknown, context?: unknown) => unknown;

/** What the registrar needs of a Nest transport server (`Server`, and every custom strategy). */
interface PatternServer {
  addHandler(pattern: string, handler: Handler, isEventHandler?: boolean): void;
  getHandlerByPattern(pattern: string): Handler | null;
}

const isPatternServer = (server: unknown): server is PatternServer =>
  typeof (server as PatternServer | null)?.addHandler === 'function' &&
  typeof (server as PatternServer | null)?.getHandlerByPattern === 'function';

/**
 * The servers that broker targets reach: NATS and Redis ones. Others (TCP is reached point to
 * point; Kafka would make a topic of every pattern, and refuses the encoded ids) are left as
 * they are.
 */
const BROKERED = new Set<unknown>([Transport.NATS, Transport.REDIS]);
const isBrokered = (server: unknown) =>
  BROKERED.has((server as { transportId?: unknown } | null)?.transportId);

/** Nest's own error reply for a pattern nothing handles, should the plain handler be missing. */
const NO_HANDLER = { status: 'error', message: 'There is no matching message handler defined.' };

/**
 * Makes every NATS and Redis server of the application (each microservice of a hybrid app) answer the heartbeat patterns addressed to this application's managers' ids, as it
 * answers the plain ones: a sender reaching it through a broker publishes to those (see
 * `addressed-patterns.ts`). Each addressed pattern hands its message, at the time it arrives, to
 * the handler the server has for the plain pattern (the library's controller method, with the
 * app's pipes, filters and interceptors), so both go the same way and reply alike.
 *
 * It hears of the servers through Nest's RPC target registry, which replays every server made in
 * this application: a `NestMicroservice` adds its server when it is made, before it listens (and
 * subscribes to its patterns). So the subscription is made in the constructor: a hybrid app may
 * start its microservices before its own `onModuleInit` runs.
 */
@Injectable()
export class AddressedPatternRegistrar implements OnApplicationShutdown {
  private readonly served = new WeakSet<object>();
  private readonly subscription: Subscription | undefined;

  /**
   * Nest makes it, with the module's ids and the application's modules.
   * @internal
   */
  constructor(
    @Inject(HEARTBEAT_OWN_IDS) private readonly ownIds: readonly string[],
    modules: ModulesContainer,
  ) {
    // Optional call, as other libraries make it: without the registry, only the plain patterns work.
    this.subscription = modules
      .getRpcTargetRegistry?.<unknown>()
      .subscribe((server) => this.serve(server));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  private serve(server: unknown): void {
    if (!isPatternServer(server) || !isBrokered(server) || this.served.has(server)) {
      return;
    }
    this.served.add(server);
    for (const id of this.ownIds) {
      for (const pattern of HEARTBEAT_PATTERNS) {
        server.addHandler(addressedHeartbeatPattern(pattern, id), (data, context) => {
          const plain = server.getHandlerByPattern(pattern);
          return plain ? plain(data, context) : throwError(() => NO_HANDLER);
        });
      }
    }
  }
}

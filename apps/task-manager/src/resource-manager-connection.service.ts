import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { ClientTCP } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import {
  clientTlsOptions,
  compareFencingTokens,
  resourceManagerProofRefusal,
  describeError,
  parseMessage,
  ProtocolError,
  registrationResponseSchema,
  resourceManagerHeartbeatSchema,
  sendRequest,
  RESOURCE_MANAGER_HEARTBEATS,
  ResourceManagerPatterns,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
  type TaskManagerHeartbeat,
  ResourceManagerLocator,
  type ResourceManagerLocation,
} from '#cluster';
import {
  acceptHeartbeat,
  InjectHeartbeatManager,
  OnIncomingHeartbeat,
  OnTargetLost,
  ProvideHeartbeatPayload,
  type AcceptedHeartbeat,
  type HeartbeatManager,
  type IncomingHeartbeat,
  type TargetLossReason,
  closeTcpClient,
} from 'nestjs-heartbeat';
import { SlotTable } from './slot-table.service.js';
import { TASK_MANAGER_CONFIG, type TaskManagerConfig } from './task-manager.config.js';

const FIRST_RETRY_DELAY_MS = 100;
/** The pending registration retry's name in the `SchedulerRegistry`: at most one is pending. */
export const REGISTRATION_RETRY = 'resource-manager-registration-retry';
const GOODBYE_TIMEOUT_MS = 1_000;

/**
 * The TaskManager's link to the ResourceManager: registration with capped backoff, a receiver
 * heartbeat manager that watches the ResourceManager, and reconnection when it is lost or (with HA)
 * when etcd names another leader. Allocated slots survive the loss of a ResourceManager: the
 * registration with the next one reports them, so that it learns them (Flink's soft state).
 */
@Injectable()
export class ResourceManagerConnection implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('TaskManager');
  /** The client of the ResourceManager at `location`; a new one for each new location. */
  private client: ClientTCP | null = null;
  private location: ResourceManagerLocation | null = null;
  private following: Subscription | null = null;
  private registration: RegistrationResponse | null = null;
  /**
   * The credential of our last registration, presented when registering again: while the
   * ResourceManager still holds that registration, only its credential may replace it.
   */
  private lastCredential: string | undefined;
  private advertisedPort = 0;
  private closing = false;

  constructor(
    @Inject(TASK_MANAGER_CONFIG) private readonly config: TaskManagerConfig,
    @InjectHeartbeatManager(RESOURCE_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<ResourceManagerHeartbeat, TaskManagerHeartbeat>,
    private readonly slots: SlotTable,
    // Retries go through Nest's scheduler, which also clears them when the application shuts down.
    private readonly scheduler: SchedulerRegistry,
    private readonly locator: ResourceManagerLocator,
  ) {}

  /**
   * Starts registering, advertising the configured port, or else the one its endpoint is bound
   * to; and follows the ResourceManager's location from now on.
   */
  start(boundPort: number): void {
    this.advertisedPort = this.config.advertised.port || boundPort;
    this.following = this.locator.location$.subscribe((location) => this.follow(location));
  }

  /** A new location (with HA: a new leader) means registering there at once, slots kept. */
  private follow(location: ResourceManagerLocation | null): void {
    if (this.closing) {
      return;
    }
    const previous = this.location;
    this.location = location;
    if (!location) {
      if (!previous) {
        return; // none known yet: the first leader etcd names starts the registration
      }
      this.logger.warn(
        `No ResourceManager leader is known${this.registration ? `; still registered with ${this.registration.resourceManagerId} until its heartbeats stop` : ''}; ` +
          `keeping ${this.slots.allocatedCount()} allocated slots`,
      );
      return;
    }
    if (location.fencingToken !== null) {
      this.logger.log(
        `The ResourceManager leader is ${location.resourceManagerId} at ${location.host}:${location.port} (fencing token ${location.fencingToken})`,
      );
    }
    if (this.registration && this.registration.fencingToken === location.fencingToken) {
      return; // the leader we are registered with
    }
    if (previous && this.registration) {
      this.logger.warn(
        `Leaving ResourceManager ${this.registration.resourceManagerId} for the new leader; keeping ${this.slots.allocatedCount()} allocated slots`,
      );
    }
    this.reconnect({ keepSlots: true });
  }

  private get rmAddress(): string {
    return this.location ? `${this.location.host}:${this.location.port}` : '(no leader known)';
  }

  /** The client of the current location's ResourceManager, made on first use. */
  private clientOf(location: ResourceManagerLocation): ClientTCP {
    this.client ??= new ClientTCP({
      host: location.host,
      port: location.port,
      ...this.config.frameLimits,
      tlsOptions: clientTlsOptions(this.config.tls),
    });
    return this.client;
  }

  /** Every heartbeat carries the slot report, with the fencing token and credential of our registration. */
  @ProvideHeartbeatPayload(RESOURCE_MANAGER_HEARTBEATS)
  heartbeatPayload(): TaskManagerHeartbeat | null {
    if (!this.registration) {
      return null;
    }
    const { fencingToken, credential } = this.registration;
    return { fencingToken, credential, slotReport: this.slots.report() };
  }

  /**
   * Only the ResourceManager we are registered with, proving it with our credential, may ask for
   * heartbeats. The payload, parsed here once, goes on in its parsed form.
   */
  @OnIncomingHeartbeat<unknown, ResourceManagerHeartbeat>(RESOURCE_MANAGER_HEARTBEATS)
  vetHeartbeat({
    origin,
    payload,
  }: IncomingHeartbeat): AcceptedHeartbeat<ResourceManagerHeartbeat> {
    const proof = parseMessage(resourceManagerHeartbeatSchema, payload, 'heartbeat payload');
    if (!this.registration || origin !== this.registration.resourceManagerId) {
      throw new ProtocolError(
        `${origin} is not the ResourceManager this TaskManager is registered with`,
      );
    }
    const refusal = this.refusal(proof);
    if (refusal) {
      throw new ProtocolError(refusal);
    }
    return acceptHeartbeat(proof);
  }

  /**
   * The ResourceManager's requests stopped coming (this side only answers, in the replies, so it
   * has no RPC of its own that could find it unreachable): register again, unless it is stale.
   */
  @OnTargetLost(RESOURCE_MANAGER_HEARTBEATS)
  onResourceManagerLost(resourceManagerId: string, reason: TargetLossReason): void {
    // A loss of a ResourceManager we have already left is stale: ignore it.
    if (this.registration?.resourceManagerId !== resourceManagerId) {
      return;
    }
    const why = reason === 'timeout' ? 'heartbeat timeout' : reason;
    this.logger.warn(
      `ResourceManager ${resourceManagerId} lost: ${why}; registering again, keeping ${this.slots.allocatedCount()} allocated slots`,
    );
    this.reconnect({ keepSlots: true });
  }

  /** The ResourceManager dropped us (it thought us dead): register again if the order is from our ResourceManager. */
  onDisconnectRequest(proof: ResourceManagerHeartbeat, reason: string): boolean {
    const refusal = this.refusal(proof);
    if (refusal) {
      this.logger.warn(`Ignored a disconnect order (${reason}): ${refusal}`);
      return false;
    }
    this.logger.warn(
      `ResourceManager ${this.registration?.resourceManagerId} disconnected us (${reason}); registering again`,
    );
    // The ResourceManager has dropped that registration, its slots too: the credential is of no
    // more use, and the allocations are void.
    this.lastCredential = undefined;
    this.reconnect({ keepSlots: false });
    return true;
  }

  /**
   * Why a message claiming to be from our ResourceManager is refused, or undefined if it is: it must
   * carry the fencing token of the leadership we registered with (an older one is a deposed
   * leader's, a newer one a leader we have not registered with yet) and our registration's
   * credential (anyone may register and learn the fencing token; only it knows our credential).
   */
  refusal(proof: ResourceManagerHeartbeat): string | undefined {
    return resourceManagerProofRefusal(this.registration, proof, 'TaskManager');
  }

  /** On SIGTERM/SIGINT: tell the ResourceManager we leave, so it releases us at once. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.closing = true;
    this.following?.unsubscribe();
    this.cancelRetry();
    const registration = this.registration;
    if (!signal || !registration || !this.client) {
      return;
    }
    try {
      await sendRequest(
        this.client,
        ResourceManagerPatterns.unregister,
        {
          taskManagerId: this.config.id,
          fencingToken: registration.fencingToken,
          credential: registration.credential,
        },
        GOODBYE_TIMEOUT_MS,
      );
      this.logger.log(
        `Said goodbye to ResourceManager ${registration.resourceManagerId} (${signal})`,
      );
    } catch (error) {
      this.logger.warn(`Could not say goodbye to the ResourceManager: ${describeError(error)}`);
    }
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.following?.unsubscribe();
    this.cancelRetry();
    this.dropConnection();
  }

  /**
   * Leaves the current registration and registers afresh where the locator points. The slots stay
   * allocated unless the ResourceManager voided them (`keepSlots: false`): the registration
   * reports them, and the ResourceManager takes them as they are.
   */
  private reconnect({ keepSlots }: { keepSlots: boolean }): void {
    if (this.registration) {
      this.heartbeats.unmonitorTarget(this.registration.resourceManagerId);
      this.registration = null;
    }
    if (!keepSlots) {
      this.slots.releaseAll();
    }
    this.cancelRetry();
    this.dropConnection();
    void this.register(FIRST_RETRY_DELAY_MS);
  }

  private async register(nextDelay: number): Promise<void> {
    const location = this.location;
    if (this.closing || !location) {
      return; // with no leader known, the next one etcd names starts it again
    }
    try {
      const answer = await sendRequest(
        this.clientOf(location),
        ResourceManagerPatterns.register,
        {
          taskManagerId: this.config.id,
          host: this.config.advertised.host,
          port: this.advertisedPort,
          slots: this.config.slots,
          credential: this.lastCredential,
          slotReport: this.slots.report(),
        },
        this.config.heartbeat.interval,
      );
      if (this.closing || this.location !== location) {
        return; // shutting down (a registration now would never get its goodbye), or moved on
      }
      const response = parseMessage(registrationResponseSchema, answer, 'registration response');
      // A leader etcd has already replaced may still answer (its lease lapsing): not that one.
      if (
        location.fencingToken !== null &&
        compareFencingTokens(response.fencingToken, location.fencingToken) < 0
      ) {
        throw new Error(
          `its fencing token ${response.fencingToken} is older than the leader's (${location.fencingToken})`,
        );
      }
      this.onRegistered(response);
    } catch (error) {
      if (this.location !== location) {
        return; // a new location started its own registration
      }
      if (this.closing) {
        return;
      }
      this.dropConnection();
      const cap = Math.max(FIRST_RETRY_DELAY_MS, this.config.heartbeat.interval);
      this.logger.warn(
        `Registration with the ResourceManager at ${this.rmAddress} failed (${describeError(error)}); retrying in ${nextDelay} ms`,
      );
      this.scheduleRetry(nextDelay, Math.min(nextDelay * 2, cap));
    }
  }

  private onRegistered(response: RegistrationResponse): void {
    this.registration = response;
    this.lastCredential = response.credential;
    // The ResourceManager asks; this side answers in the replies, so it needs no heartbeat client.
    this.heartbeats.monitorTarget(response.resourceManagerId);
    this.logger.log(
      `TaskManager ${this.config.id} registered with ResourceManager ${response.resourceManagerId} ` +
        `(fencing token ${response.fencingToken})`,
    );
  }

  /**
   * After a lost ResourceManager or an unanswered registration, the connection may be dead without
   * a word (half-open after a partition): the next request opens a new one instead of waiting on it.
   */
  private dropConnection(): void {
    if (this.client) {
      closeTcpClient(this.client);
      this.client = null;
    }
  }

  /** Registers again in `delay` ms; should that fail too, the retry after it waits `nextDelay`. */
  private scheduleRetry(delay: number, nextDelay: number): void {
    this.cancelRetry(); // one retry at a time: the registry refuses a second under the same name
    const timer = setTimeout(() => {
      this.cancelRetry(); // it fired: the name is free again
      void this.register(nextDelay);
    }, delay);
    this.scheduler.addTimeout(REGISTRATION_RETRY, timer);
  }

  private cancelRetry(): void {
    // The scheduler may have cleared it already, at shutdown.
    if (this.scheduler.doesExist('timeout', REGISTRATION_RETRY)) {
      this.scheduler.deleteTimeout(REGISTRATION_RETRY);
    }
  }
}

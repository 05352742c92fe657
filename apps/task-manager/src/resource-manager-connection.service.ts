import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import {
  clientTlsOptions,
  describeError,
  parseMessage,
  ProtocolError,
  registrationResponseSchema,
  resourceManagerHeartbeatSchema,
  sameSecret,
  sendRequest,
  RESOURCE_MANAGER_HEARTBEATS,
  ResourceManagerPatterns,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
  type TaskManagerHeartbeat,
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
 * heartbeat manager that watches the ResourceManager, and reconnection when it is lost.
 */
@Injectable()
export class ResourceManagerConnection implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('TaskManager');
  private readonly client: ClientTCP;
  private readonly rmAddress: string;
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
  ) {
    const { host, port } = config.resourceManager;
    this.rmAddress = `${host}:${port}`;
    this.client = new ClientTCP({
      host,
      port,
      ...config.frameLimits,
      tlsOptions: clientTlsOptions(config.tls),
    });
  }

  /** Starts registering, advertising the configured port, or else the one its endpoint is bound to. */
  start(boundPort: number): void {
    this.advertisedPort = this.config.advertised.port || boundPort;
    void this.register(FIRST_RETRY_DELAY_MS);
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
    this.logger.warn(`ResourceManager ${resourceManagerId} lost: ${why}; registering again`);
    this.reconnect();
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
    // The ResourceManager has dropped that registration: its credential is of no more use.
    this.lastCredential = undefined;
    this.reconnect();
    return true;
  }

  /**
   * Why a message claiming to be from our ResourceManager is refused, or undefined if it is: it must
   * carry its current fencing token and our registration's credential (anyone may register with the
   * ResourceManager and learn its fencing token; only it knows our credential).
   */
  refusal({ fencingToken, credential }: ResourceManagerHeartbeat): string | undefined {
    if (!this.registration || !sameSecret(fencingToken, this.registration.fencingToken)) {
      return 'stale fencing token (not the ResourceManager this TaskManager is registered with)';
    }
    if (!sameSecret(credential, this.registration.credential)) {
      return 'wrong credential (not the ResourceManager this TaskManager is registered with)';
    }
    return undefined;
  }

  /** On SIGTERM/SIGINT: tell the ResourceManager we leave, so it releases us at once. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.closing = true;
    this.cancelRetry();
    const registration = this.registration;
    if (!signal || !registration) {
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
    this.cancelRetry();
    closeTcpClient(this.client);
  }

  private reconnect(): void {
    if (this.registration) {
      this.heartbeats.unmonitorTarget(this.registration.resourceManagerId);
      this.registration = null;
    }
    // Slots were allocated by the lost ResourceManager; a new one starts from a clean table.
    this.slots.releaseAll();
    this.cancelRetry();
    this.dropConnection();
    void this.register(FIRST_RETRY_DELAY_MS);
  }

  private async register(nextDelay: number): Promise<void> {
    if (this.closing) {
      return;
    }
    try {
      const answer = await sendRequest(
        this.client,
        ResourceManagerPatterns.register,
        {
          taskManagerId: this.config.id,
          host: this.config.advertised.host,
          port: this.advertisedPort,
          slots: this.config.slots,
          credential: this.lastCredential,
        },
        this.config.heartbeat.interval,
      );
      if (this.closing) {
        return; // shutting down: a registration now would never get its goodbye
      }
      this.onRegistered(parseMessage(registrationResponseSchema, answer, 'registration response'));
    } catch (error) {
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
    closeTcpClient(this.client);
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

import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BehaviorSubject, type Observable, type Subscription } from 'rxjs';
import {
  clientTlsOptions,
  compareFencingTokens,
  describeError,
  JobMasterToResourceManagerPatterns,
  parseMessage,
  ProtocolError,
  registrationResponseSchema,
  RESOURCE_MANAGER_HEARTBEATS,
  ResourceManagerLocator,
  resourceManagerHeartbeatSchema,
  resourceManagerProofRefusal,
  sendRequest,
  type JobMasterHeartbeat,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
  type ResourceManagerLocation,
} from '#cluster';
import {
  acceptHeartbeat,
  closeTcpClient,
  InjectHeartbeatManager,
  OnIncomingHeartbeat,
  OnTargetLost,
  ProvideHeartbeatPayload,
  type AcceptedHeartbeat,
  type HeartbeatManager,
  type IncomingHeartbeat,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import type { z } from 'zod';
import { JOB_MASTER_CONFIG, type JobMasterConfig } from './job-master.config.js';
import { JobTable } from './job-table.service.js';

const FIRST_RETRY_DELAY_MS = 100;
/** The pending registration retry's name in the `SchedulerRegistry`. */
export const REGISTRATION_RETRY = 'job-master-registration-retry';
const GOODBYE_TIMEOUT_MS = 1_000;

/** A request to the ResourceManager that needs a registration this JobMaster does not have (yet). */
export class NotRegisteredError extends Error {
  override readonly name = 'NotRegisteredError';
}

/**
 * The JobMaster's link to the ResourceManager (Flink's JobMaster ↔ ResourceManager connection):
 * registration with capped backoff, the `resourceManager` receiver that answers the
 * ResourceManager's `jobMasters` heartbeats with its jobs, and registering again when the
 * ResourceManager is lost or (with HA) another leader is named. Its jobs and their slots survive
 * the loss: the next registration lists the jobs, and the TaskManagers keep the slots.
 */
@Injectable()
export class ResourceManagerLink implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('JobMaster');
  private client: ClientTCP | null = null;
  private location: ResourceManagerLocation | null = null;
  private following: Subscription | null = null;
  private readonly registrations = new BehaviorSubject<RegistrationResponse | null>(null);
  /** Presented when registering again: only it may replace a registration still live. */
  private lastCredential: string | undefined;
  private advertisedPort = 0;
  private closing = false;

  /** The current registration (null while there is none), as it changes. */
  readonly registration$: Observable<RegistrationResponse | null> =
    this.registrations.asObservable();

  constructor(
    @Inject(JOB_MASTER_CONFIG) private readonly config: JobMasterConfig,
    @InjectHeartbeatManager(RESOURCE_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<ResourceManagerHeartbeat, JobMasterHeartbeat>,
    private readonly scheduler: SchedulerRegistry,
    private readonly locator: ResourceManagerLocator,
    private readonly jobs: JobTable,
  ) {}

  private get registration(): RegistrationResponse | null {
    return this.registrations.value;
  }

  /** Starts registering (advertising `boundPort`) and follows the ResourceManager's location. */
  start(boundPort: number): void {
    this.advertisedPort = boundPort;
    this.following = this.locator.location$.subscribe((location) => this.follow(location));
  }

  /**
   * Sends a request of this registration to the ResourceManager: the JobMaster's id and the
   * registration's proof are added to `data`, the answer checked against `schema`.
   */
  async request<S extends z.ZodType>(
    pattern: string,
    data: object,
    schema: S,
    what: string,
  ): Promise<z.output<S>> {
    const registration = this.registration;
    if (!registration || !this.client) {
      throw new NotRegisteredError('this JobMaster is not registered with a ResourceManager');
    }
    const answer = await sendRequest(
      this.client,
      pattern,
      {
        jobMasterId: this.config.id,
        fencingToken: registration.fencingToken,
        credential: registration.credential,
        ...data,
      },
      this.config.heartbeat.timeout,
    );
    return parseMessage(schema, answer, what);
  }

  /** Its answer to every heartbeat request: whose registration, and the jobs it runs. */
  @ProvideHeartbeatPayload(RESOURCE_MANAGER_HEARTBEATS)
  heartbeatPayload(): JobMasterHeartbeat | null {
    const registration = this.registration;
    if (!registration) {
      return null;
    }
    const { fencingToken, credential } = registration;
    return { fencingToken, credential, jobs: this.jobs.jobIds() };
  }

  /** Only the ResourceManager it is registered with, proving it, may ask for heartbeats. */
  @OnIncomingHeartbeat<unknown, ResourceManagerHeartbeat>(RESOURCE_MANAGER_HEARTBEATS)
  vetHeartbeat({
    origin,
    payload,
  }: IncomingHeartbeat): AcceptedHeartbeat<ResourceManagerHeartbeat> {
    const proof = parseMessage(resourceManagerHeartbeatSchema, payload, 'heartbeat payload');
    if (!this.registration || origin !== this.registration.resourceManagerId) {
      throw new ProtocolError(
        `${origin} is not the ResourceManager this JobMaster is registered with`,
      );
    }
    const refusal = resourceManagerProofRefusal(this.registration, proof, 'JobMaster');
    if (refusal) {
      throw new ProtocolError(refusal);
    }
    return acceptHeartbeat(proof);
  }

  /** The ResourceManager's requests stopped: register again (a stale loss is ignored). */
  @OnTargetLost(RESOURCE_MANAGER_HEARTBEATS)
  onResourceManagerLost(resourceManagerId: string, reason: TargetLossReason): void {
    if (this.registration?.resourceManagerId !== resourceManagerId) {
      return;
    }
    this.logger.warn(
      `ResourceManager ${resourceManagerId} lost: ${reason === 'timeout' ? 'heartbeat timeout' : reason}; ` +
        `registering again, keeping ${this.jobs.size} jobs`,
    );
    this.reconnect();
  }

  /** On SIGTERM/SIGINT: say goodbye, so the ResourceManager releases this JobMaster's slots at once. */
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
        JobMasterToResourceManagerPatterns.unregister,
        {
          jobMasterId: this.config.id,
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
    this.registrations.complete();
  }

  private follow(location: ResourceManagerLocation | null): void {
    if (this.closing) {
      return;
    }
    const previous = this.location;
    this.location = location;
    if (!location) {
      if (previous) {
        this.logger.warn(`No ResourceManager leader is known; keeping ${this.jobs.size} jobs`);
      }
      return;
    }
    if (this.registration && this.registration.fencingToken === location.fencingToken) {
      return; // the leader we are registered with
    }
    this.reconnect();
  }

  private reconnect(): void {
    if (this.registration) {
      this.heartbeats.unmonitorTarget(this.registration.resourceManagerId);
      this.registrations.next(null);
    }
    this.cancelRetry();
    this.dropConnection();
    void this.register(FIRST_RETRY_DELAY_MS);
  }

  private async register(nextDelay: number): Promise<void> {
    const location = this.location;
    if (this.closing || !location) {
      return;
    }
    try {
      this.client ??= new ClientTCP({
        host: location.host,
        port: location.port,
        ...this.config.frameLimits,
        tlsOptions: clientTlsOptions(this.config.tls),
      });
      const answer = await sendRequest(
        this.client,
        JobMasterToResourceManagerPatterns.register,
        {
          jobMasterId: this.config.id,
          host: this.config.host,
          port: this.advertisedPort,
          credential: this.lastCredential,
          jobs: this.jobs.jobIds(),
        },
        this.config.heartbeat.interval,
      );
      if (this.closing || this.location !== location) {
        return;
      }
      const response = parseMessage(registrationResponseSchema, answer, 'registration response');
      if (
        location.fencingToken !== null &&
        compareFencingTokens(response.fencingToken, location.fencingToken) < 0
      ) {
        throw new Error(
          `its fencing token ${response.fencingToken} is older than the leader's (${location.fencingToken})`,
        );
      }
      this.lastCredential = response.credential;
      // The ResourceManager asks; this side answers in the replies.
      this.heartbeats.monitorTarget(response.resourceManagerId);
      this.logger.log(
        `JobMaster ${this.config.id} registered with ResourceManager ${response.resourceManagerId} ` +
          `(fencing token ${response.fencingToken})`,
      );
      this.registrations.next(response);
    } catch (error) {
      if (this.closing || this.location !== location) {
        return;
      }
      this.dropConnection();
      const cap = Math.max(FIRST_RETRY_DELAY_MS, this.config.heartbeat.interval);
      this.logger.warn(
        `Registration with the ResourceManager at ${location.host}:${location.port} failed (${describeError(error)}); retrying in ${nextDelay} ms`,
      );
      this.scheduleRetry(nextDelay, Math.min(nextDelay * 2, cap));
    }
  }

  /** After a loss or a failed registration the connection may be half-open: start afresh. */
  private dropConnection(): void {
    if (this.client) {
      closeTcpClient(this.client);
      this.client = null;
    }
  }

  private scheduleRetry(delay: number, nextDelay: number): void {
    this.cancelRetry();
    const timer = setTimeout(() => {
      this.cancelRetry();
      void this.register(nextDelay);
    }, delay);
    this.scheduler.addTimeout(REGISTRATION_RETRY, timer);
  }

  private cancelRetry(): void {
    if (this.scheduler.doesExist('timeout', REGISTRATION_RETRY)) {
      this.scheduler.deleteTimeout(REGISTRATION_RETRY);
    }
  }
}

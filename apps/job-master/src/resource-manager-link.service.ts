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
  RetryBackoff,
  sendRequest,
  type JobMasterHeartbeat,
  type JobMasterRegistrationRequest,
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
import { countOf, JobTable } from './job-table.service.js';

/** The pending registration retry's name in the `SchedulerRegistry`: at most one is pending. */
export const REGISTRATION_RETRY = 'job-master-registration-retry';
/** The ResourceManager's refusal of a job another JobMaster runs (`JobMasterRegistrations`). */
const JOB_RUN_BY_ANOTHER = /\bjob (\S+) is run by JobMaster /;
const GOODBYE_TIMEOUT_MS = 1_000;
/**
 * How long a slot request or release may take: the ResourceManager runs them one at a time, each
 * waiting up to 2 s for every TaskManager it commands.
 */
export const RESOURCE_MANAGER_REQUEST_TIMEOUT_MS = 10_000;

/** A request to the ResourceManager that needs a registration this JobMaster does not have (yet). */
export class NotRegisteredError extends Error {
  override readonly name = 'NotRegisteredError';
}

/**
 * The reason of an error reply (the ResourceManager answered, and refused), or undefined for any
 * other failure (no answer in time, no connection). Nest's TCP transport delivers an
 * `RpcException` as `{ status: 'error', message }`.
 */
export function errorReplyOf(error: unknown): string | undefined {
  const { status, message } = (error ?? {}) as { status?: unknown; message?: unknown };
  return status === 'error' && typeof message === 'string' ? message : undefined;
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
  /** The client of the ResourceManager at `location`; a new one for each new location. */
  private client: ClientTCP | null = null;
  private location: ResourceManagerLocation | null = null;
  private following: Subscription | null = null;
  private readonly registrations = new BehaviorSubject<RegistrationResponse | null>(null);
  /** Presented when registering again: while the ResourceManager holds it, only it may replace it. */
  private lastCredential: string | undefined;
  private readonly retries: RetryBackoff;
  private advertisedPort = 0;
  private closing = false;

  /** The current registration (null while there is none), as it changes; the current one first. */
  readonly registration$: Observable<RegistrationResponse | null> =
    this.registrations.asObservable();

  constructor(
    @Inject(JOB_MASTER_CONFIG) private readonly config: JobMasterConfig,
    @InjectHeartbeatManager(RESOURCE_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<ResourceManagerHeartbeat, JobMasterHeartbeat>,
    // Retries go through Nest's scheduler, which also clears them when the application shuts down.
    scheduler: SchedulerRegistry,
    private readonly locator: ResourceManagerLocator,
    private readonly jobs: JobTable,
  ) {
    this.retries = new RetryBackoff(scheduler, REGISTRATION_RETRY, config.heartbeat.interval);
  }

  get registration(): RegistrationResponse | null {
    return this.registrations.value;
  }

  /** Starts registering (advertising `boundPort`) and follows the ResourceManager's location. */
  start(boundPort: number): void {
    this.advertisedPort = boundPort;
    this.following = this.locator.location$.subscribe((location) => this.follow(location));
  }

  /**
   * Sends a request of this registration to the ResourceManager: the JobMaster's id and the
   * registration's proof are added to `data`, the answer checked against `schema`. Throws a
   * `NotRegisteredError` without a registration; rejects with the error reply, or the failure.
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
      RESOURCE_MANAGER_REQUEST_TIMEOUT_MS,
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

  /**
   * Only the ResourceManager it is registered with, proving it with the fencing token and our
   * registration's credential, may ask for heartbeats (anyone else could keep a dead
   * ResourceManager alive). The payload, parsed here once, goes on in its parsed form.
   */
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

  /**
   * The ResourceManager's requests stopped coming: register again, keeping the jobs (unless the
   * loss is of a ResourceManager already left: stale).
   */
  @OnTargetLost(RESOURCE_MANAGER_HEARTBEATS)
  onResourceManagerLost(resourceManagerId: string, reason: TargetLossReason): void {
    if (this.registration?.resourceManagerId !== resourceManagerId) {
      return;
    }
    this.logger.warn(
      `ResourceManager ${resourceManagerId} lost: ${reason === 'timeout' ? 'heartbeat timeout' : reason}; ` +
        `registering again, keeping ${countOf(this.jobs.size, 'job')}`,
    );
    this.reconnect();
  }

  /** On SIGTERM/SIGINT: say goodbye, so the ResourceManager releases this JobMaster's slots at once. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.closing = true;
    this.following?.unsubscribe();
    this.retries.cancel();
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
        `Said goodbye to ResourceManager ${registration.resourceManagerId} (${signal}); it releases the slots of ${countOf(this.jobs.size, 'job')}`,
      );
    } catch (error) {
      this.logger.warn(`Could not say goodbye to the ResourceManager: ${describeError(error)}`);
    }
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.following?.unsubscribe();
    this.retries.cancel();
    this.dropConnection();
    this.registrations.complete();
  }

  /** A new location (with HA: a new leader) means registering there at once, jobs kept. */
  private follow(location: ResourceManagerLocation | null): void {
    if (this.closing) {
      return;
    }
    const previous = this.location;
    this.location = location;
    if (!location) {
      if (previous) {
        this.logger.warn(
          `No ResourceManager leader is known${this.registration ? `; still registered with ${this.registration.resourceManagerId} until its heartbeats stop` : ''}; ` +
            `keeping ${countOf(this.jobs.size, 'job')}`,
        );
      }
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
        `Leaving ResourceManager ${this.registration.resourceManagerId} for the new leader; keeping ${countOf(this.jobs.size, 'job')}`,
      );
    }
    this.reconnect();
  }

  /** Leaves the current registration and registers afresh where the locator points. */
  private reconnect(): void {
    if (this.registration) {
      this.heartbeats.unmonitorTarget(this.registration.resourceManagerId);
      this.registrations.next(null);
    }
    this.retries.cancel();
    this.retries.reset();
    this.dropConnection();
    void this.register();
  }

  private async register(): Promise<void> {
    const location = this.location;
    if (this.closing || !location) {
      return; // with no leader known, the next one etcd names starts it again
    }
    try {
      this.client ??= new ClientTCP({
        host: location.host,
        port: location.port,
        ...this.config.answerLimits,
        tlsOptions: clientTlsOptions(this.config.tls),
      });
      const request: JobMasterRegistrationRequest = {
        jobMasterId: this.config.id,
        host: this.config.host,
        port: this.advertisedPort,
        credential: this.lastCredential,
        jobs: this.jobs.jobIds(),
      };
      const answer = await sendRequest(
        this.client,
        JobMasterToResourceManagerPatterns.register,
        request,
        // Not the interval: an answer given but late would leave a registration we cannot
        // replace (we never learnt its credential) and that times out, releasing our jobs' slots.
        this.config.heartbeat.timeout,
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
      this.lastCredential = response.credential;
      this.retries.reset();
      // The ResourceManager asks; this side answers in the replies, so it needs no heartbeat client.
      this.heartbeats.monitorTarget(response.resourceManagerId);
      this.logger.log(
        `JobMaster ${this.config.id} registered with ResourceManager ${response.resourceManagerId} ` +
          `(fencing token ${response.fencingToken}) with ${countOf(request.jobs.length, 'job')}`,
      );
      this.registrations.next(response);
    } catch (error) {
      if (this.closing || this.location !== location) {
        return; // a new location started its own registration
      }
      this.dropConnection();
      this.dropJobRunByAnother(describeError(error));
      const delay = this.retries.schedule(() => void this.register());
      this.logger.warn(
        `Registration with the ResourceManager at ${location.host}:${location.port} failed (${describeError(error)}); retrying in ${delay} ms`,
      );
    }
  }

  /**
   * A registration refused because a job it lists is another JobMaster's now (the ResourceManager
   * gave it to that one while it had lost us): that job is not ours any more, and listing it again
   * would be refused forever.
   */
  private dropJobRunByAnother(refusal: string): void {
    const jobId = JOB_RUN_BY_ANOTHER.exec(refusal)?.[1];
    if (jobId !== undefined && this.jobs.remove(jobId)) {
      this.logger.warn(`Dropped job ${jobId}: ${refusal}`);
    }
  }

  /**
   * After a loss or an unanswered registration the connection may be dead without a word
   * (half-open after a partition): the next request opens a new one instead of waiting on it.
   */
  private dropConnection(): void {
    if (this.client) {
      closeTcpClient(this.client);
      this.client = null;
    }
  }
}

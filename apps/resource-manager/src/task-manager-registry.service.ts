import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import {
  clientTlsOptions,
  describeError,
  largestHeartbeatFrame,
  parseMessage,
  ProtocolError,
  sameSecret,
  sendRequest,
  slotReportSchema,
  RESOURCE_MANAGER_HEARTBEATS,
  TASK_MANAGER_HEARTBEATS,
  taskManagerHeartbeatSchema,
  TaskManagerPatterns,
  type RegistrationRequest,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
  type SlotAllocation,
  type SlotReport,
  type SlotStatus,
  type TaskManagerHeartbeat,
  type UnregistrationRequest,
} from '#cluster';
import {
  acceptHeartbeat,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnIncomingHeartbeat,
  OnTargetLost,
  ProvideHeartbeatPayload,
  type AcceptedHeartbeat,
  type HeartbeatManager,
  type IncomingHeartbeat,
  type TargetLossReason,
  closeTcpClient,
} from 'nestjs-heartbeat';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from './resource-manager-identity.js';

/** What the ResourceManager knows of one registered TaskManager. */
interface Registration {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly slotsNumber: number;
  readonly registeredAt: number;
  /** Issued at registration: only the TaskManager that registered knows it, so others cannot speak for it. */
  readonly credential: string;
  /**
   * The credential presented to replace the registration before this one, if any. It stays good
   * for this registration: if our answer (with the new credential) was lost, the TaskManager
   * retries with the old one and must not be locked out until this registration times out.
   */
  readonly replacedWith: string | null;
  readonly client: ClientTCP;
  slots: SlotStatus[];
  /** Version of the newest slot report or command answer applied; older reports are ignored. */
  reportVersion: number;
}

export interface TaskManagerView {
  readonly id: string;
  readonly address: string;
  readonly slotsNumber: number;
  readonly freeSlots: number;
  readonly lastHeartbeat: number;
  readonly timeSinceLastHeartbeat: number;
}

export class SlotRequestError extends Error {}

/** A registration the ResourceManager turns down; the TaskManager gets the message as its error reply. */
export class RegistrationRefused extends Error {
  override readonly name = 'RegistrationRefused';
}

const COMMAND_TIMEOUT_MS = 2_000;

/**
 * The ResourceManager's side of the cluster: registrations, slot bookkeeping reconciled from every
 * heartbeat's slot report, and the release of TaskManagers that die, leave or stop answering.
 */
@Injectable()
export class TaskManagerRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger('ResourceManager');
  private readonly registrations = new Map<string, Registration>();
  /** Clients of released TaskManagers still delivering a last "disconnect"; closed on shutdown at the latest. */
  private readonly closingClients = new Set<ClientTCP>();
  private slotOperations: Promise<void> = Promise.resolve();

  constructor(
    @Inject(RESOURCE_MANAGER_IDENTITY) readonly identity: ResourceManagerIdentity,
    @Inject(RESOURCE_MANAGER_CONFIG) private readonly config: ResourceManagerConfig,
    @InjectHeartbeatManager(TASK_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<TaskManagerHeartbeat, ResourceManagerHeartbeat>,
    private readonly targets: HeartbeatTargetFactory,
  ) {}

  /**
   * Registers a TaskManager; throws a `RegistrationRefused` naming the reason if it may not. A live
   * registration is replaced only by a request presenting its credential: anyone else (a restarted
   * TaskManager too) waits until the old one is dropped for its silence.
   */
  register(request: RegistrationRequest): RegistrationResponse {
    const address = `${request.host}:${request.port}`;
    const refusal = this.registrationRefusal(request);
    if (refusal) {
      this.logger.warn(
        `Refused the registration of TaskManager ${request.taskManagerId} from ${address}: ${refusal}`,
      );
      throw new RegistrationRefused(refusal);
    }
    const replacing = this.registrations.has(request.taskManagerId);
    if (replacing) {
      this.closeConnection(request.taskManagerId, 'registered again', { notify: false });
    }
    const client = new ClientTCP({
      host: request.host,
      port: request.port,
      ...this.config.frameLimits,
      tlsOptions: clientTlsOptions(this.config.tls),
    });
    const credential = randomUUID();
    this.registrations.set(request.taskManagerId, {
      id: request.taskManagerId,
      host: request.host,
      port: request.port,
      slotsNumber: request.slots,
      registeredAt: Date.now(),
      credential,
      replacedWith: replacing ? (request.credential ?? null) : null,
      client,
      slots: Array.from({ length: request.slots }, (_, index) => ({
        index,
        free: true,
        allocationId: null,
        jobId: null,
      })),
      reportVersion: -1,
    });
    // Heartbeats go over a lean connection of their own, and the answers come back in the replies.
    this.heartbeats.monitorTarget(
      request.taskManagerId,
      this.targets.createTcpTarget({
        host: request.host,
        port: request.port,
        remoteManager: RESOURCE_MANAGER_HEARTBEATS,
        tlsOptions: clientTlsOptions(this.config.tls),
      }),
    );
    this.logger.log(
      `TaskManager ${request.taskManagerId} registered from ${address} with ${request.slots} slots`,
    );
    return { ...this.identity, credential };
  }

  /** A TaskManager says goodbye: release it now instead of waiting for the timeout. */
  unregister({ taskManagerId, fencingToken, credential }: UnregistrationRequest): boolean {
    const refusal = this.refusal(taskManagerId, fencingToken, credential);
    if (refusal) {
      this.logger.warn(`Ignored a goodbye from ${taskManagerId}: ${refusal}`);
      return false;
    }
    this.closeConnection(taskManagerId, 'left (goodbye)', { notify: false });
    return true;
  }

  /** Every heartbeat request to a TaskManager says which ResourceManager start asks, and proves it. */
  @ProvideHeartbeatPayload(TASK_MANAGER_HEARTBEATS)
  heartbeatPayload(taskManagerId: string): ResourceManagerHeartbeat | null {
    const registration = this.registrations.get(taskManagerId);
    return registration ? this.proofFor(registration) : null;
  }

  /**
   * Vets every heartbeat before the manager sees it: it must come from a registered TaskManager,
   * carry this ResourceManager's fencing token and that registration's credential. So a stranger
   * cannot keep a dead TaskManager alive by sending heartbeats in its name. The payload is parsed
   * here, once: the parsed form is what `onSlotReport` gets.
   */
  @OnIncomingHeartbeat<unknown, TaskManagerHeartbeat>(TASK_MANAGER_HEARTBEATS)
  vetHeartbeat({ origin, payload }: IncomingHeartbeat): AcceptedHeartbeat<TaskManagerHeartbeat> {
    const heartbeat = parseMessage(taskManagerHeartbeatSchema, payload, 'heartbeat payload');
    const refusal = this.refusal(origin, heartbeat.fencingToken, heartbeat.credential);
    if (refusal) {
      throw new ProtocolError(refusal);
    }
    return acceptHeartbeat(heartbeat);
  }

  /** The payload as `vetHeartbeat` parsed it. */
  @OnHeartbeatPayload<TaskManagerHeartbeat>(TASK_MANAGER_HEARTBEATS)
  onSlotReport(taskManagerId: string, payload: TaskManagerHeartbeat): void {
    const registration = this.registrations.get(taskManagerId);
    if (registration) {
      this.applyReport(registration, payload.slotReport);
    }
  }

  @OnTargetLost(TASK_MANAGER_HEARTBEATS)
  onTaskManagerLost(taskManagerId: string, reason: TargetLossReason): void {
    this.closeConnection(taskManagerId, reason === 'timeout' ? 'heartbeat timeout' : reason, {
      notify: true,
    });
  }

  list(): TaskManagerView[] {
    return [...this.registrations.values()].map((registration) => this.view(registration));
  }

  find(taskManagerId: string): (TaskManagerView & { slots: SlotStatus[] }) | undefined {
    const registration = this.registrations.get(taskManagerId);
    return registration && { ...this.view(registration), slots: registration.slots };
  }

  overview() {
    const slots = [...this.registrations.values()].flatMap((registration) => registration.slots);
    return {
      taskmanagers: this.registrations.size,
      slotsTotal: slots.length,
      slotsAvailable: slots.filter((slot) => slot.free).length,
      fencingToken: this.identity.fencingToken,
    };
  }

  /**
   * Picks `count` free slots across TaskManagers and asks each TaskManager to allocate its share.
   * All or nothing: if a TaskManager refuses or fails, the shares already given are released again.
   */
  allocate(
    jobId: string,
    count: number,
  ): Promise<Array<SlotAllocation & { taskManagerId: string }>> {
    return this.oneAtATime(async () => {
      const free = [...this.registrations.values()].flatMap((registration) =>
        registration.slots.filter((slot) => slot.free).map((slot) => ({ registration, slot })),
      );
      if (free.length < count) {
        throw new SlotRequestError(
          `Not enough free slots: asked for ${count}, ${free.length} free`,
        );
      }
      const shares = new Map<Registration, SlotAllocation[]>();
      for (const { registration, slot } of free.slice(0, count)) {
        const share = shares.get(registration) ?? [];
        share.push({ slotIndex: slot.index, allocationId: randomUUID(), jobId });
        shares.set(registration, share);
      }
      const outcomes = await Promise.allSettled(
        [...shares].map(([registration, allocations]) =>
          this.command(registration, TaskManagerPatterns.allocateSlots, {
            ...this.proofFor(registration),
            allocations,
          }),
        ),
      );
      const failure = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failure) {
        await this.undo(
          jobId,
          [...shares].filter((_, i) => outcomes[i].status === 'fulfilled'),
        );
        throw new SlotRequestError(`Allocation failed: ${describeError(failure.reason)}`);
      }
      return [...shares].flatMap(([registration, allocations]) =>
        allocations.map((allocation) => ({ ...allocation, taskManagerId: registration.id })),
      );
    });
  }

  /** Asks every TaskManager holding slots of the job to free them; returns how many were freed. */
  release(jobId: string): Promise<number> {
    return this.oneAtATime(async () => {
      const holders = [...this.registrations.values()].filter((registration) =>
        registration.slots.some((slot) => slot.jobId === jobId),
      );
      const held = holders.reduce(
        (sum, r) => sum + r.slots.filter((slot) => slot.jobId === jobId).length,
        0,
      );
      const outcomes = await Promise.allSettled(
        holders.map((registration) =>
          this.command(registration, TaskManagerPatterns.releaseSlots, {
            ...this.proofFor(registration),
            jobId,
          }),
        ),
      );
      const failure = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failure) {
        throw new SlotRequestError(`Release incomplete: ${describeError(failure.reason)}`);
      }
      return held;
    });
  }

  onApplicationShutdown(): void {
    for (const client of [
      ...this.closingClients,
      ...[...this.registrations.values()].map((r) => r.client),
    ]) {
      closeTcpClient(client);
    }
    this.closingClients.clear();
    this.registrations.clear();
  }

  /** Runs slot operations one after the other, so that two requests never pick the same free slot. */
  private oneAtATime<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.slotOperations.then(operation);
    this.slotOperations = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Best effort: frees the given shares of a failed allocation. */
  private async undo(
    jobId: string,
    shares: Array<[Registration, SlotAllocation[]]>,
  ): Promise<void> {
    await Promise.allSettled(
      shares.map(([registration, allocations]) =>
        this.command(registration, TaskManagerPatterns.releaseSlots, {
          ...this.proofFor(registration),
          jobId,
          allocationIds: allocations.map(({ allocationId }) => allocationId),
        }),
      ),
    );
  }

  /** Sends a command to a registered TaskManager; its answer is the slot report after the change. */
  private async command(registration: Registration, pattern: string, data: object): Promise<void> {
    if (!this.isCurrent(registration)) {
      // Its client is closed: sending would quietly open a new connection that nobody closes.
      throw new SlotRequestError(`TaskManager ${registration.id} is no longer registered`);
    }
    const answer = await sendRequest(registration.client, pattern, data, COMMAND_TIMEOUT_MS);
    if (this.isCurrent(registration)) {
      this.applyReport(registration, parseMessage(slotReportSchema, answer, 'slot report'));
    }
  }

  /** What every message to a registered TaskManager carries: who we are, and its credential. */
  private proofFor(registration: Registration): ResourceManagerHeartbeat {
    return { fencingToken: this.identity.fencingToken, credential: registration.credential };
  }

  /** Why a registration is refused, or undefined if it may go ahead. */
  private registrationRefusal(request: RegistrationRequest): string | undefined {
    const needed = largestHeartbeatFrame(request.slots);
    if (needed > this.config.frameLimits.maxBufferSize) {
      return (
        `its heartbeats with ${request.slots} slots need frames of up to ${needed} characters, ` +
        `more than this ResourceManager's TCP_MAX_BUFFER_SIZE ${this.config.frameLimits.maxBufferSize}`
      );
    }
    const live = this.registrations.get(request.taskManagerId);
    const presented = request.credential ?? '';
    if (
      live &&
      !sameSecret(presented, live.credential) &&
      !(live.replacedWith !== null && sameSecret(presented, live.replacedWith))
    ) {
      return (
        `${request.taskManagerId} is registered from ${live.host}:${live.port} and the request lacks ` +
        `that registration's credential; retry once the old one is dropped (heartbeat timeout)`
      );
    }
    return undefined;
  }

  /** Why a message in the name of `taskManagerId` is refused, or undefined if it is its own. */
  private refusal(
    taskManagerId: string,
    fencingToken: string,
    credential: string,
  ): string | undefined {
    const registration = this.registrations.get(taskManagerId);
    if (!registration) {
      return `${taskManagerId} is not registered`;
    }
    if (!sameSecret(fencingToken, this.identity.fencingToken)) {
      return 'stale fencing token (not this ResourceManager)';
    }
    if (!sameSecret(credential, registration.credential)) {
      return `wrong credential for ${taskManagerId} (not the TaskManager that registered)`;
    }
    return undefined;
  }

  private isCurrent(registration: Registration): boolean {
    return this.registrations.get(registration.id) === registration;
  }

  /** Takes a report if it is newer than what we know and describes exactly the registered slots. */
  private applyReport(registration: Registration, report: SlotReport): void {
    const wellFormed =
      report.slots.length === registration.slotsNumber &&
      report.slots.every((slot, i) => slot.index === i);
    if (!wellFormed) {
      throw new ProtocolError(
        `slot report of ${registration.id} must list its ${registration.slotsNumber} slots in order`,
      );
    }
    if (report.version < registration.reportVersion) {
      return; // sent before a change we already know of
    }
    registration.reportVersion = report.version;
    registration.slots = report.slots.map((slot) => ({ ...slot }));
  }

  private closeConnection(
    taskManagerId: string,
    reason: string,
    { notify }: { notify: boolean },
  ): void {
    const registration = this.registrations.get(taskManagerId);
    if (!registration) {
      return;
    }
    const lastHeartbeat = this.heartbeats.getLastHeartbeatFrom(taskManagerId);
    const silence =
      lastHeartbeat > 0
        ? `${Date.now() - lastHeartbeat} ms after its last heartbeat`
        : `no heartbeat in the ${Date.now() - registration.registeredAt} ms since it registered`;
    this.heartbeats.unmonitorTarget(taskManagerId);
    this.registrations.delete(taskManagerId);
    const allocated = registration.slots.filter((slot) => !slot.free).length;
    this.logger.warn(
      `TaskManager ${taskManagerId} lost: ${reason}, ${silence}; ` +
        `released ${registration.slotsNumber} slots (${allocated} allocated)`,
    );
    const { client } = registration;
    if (!notify) {
      closeTcpClient(client);
      return;
    }
    // Best effort: a TaskManager that is only cut off hears it and registers again.
    this.closingClients.add(client);
    sendRequest(
      client,
      TaskManagerPatterns.disconnect,
      { ...this.proofFor(registration), reason },
      COMMAND_TIMEOUT_MS,
    )
      .catch(() => undefined)
      .finally(() => {
        this.closingClients.delete(client);
        closeTcpClient(client);
      });
  }

  private lastHeartbeatOf(registration: Registration): number {
    const last = this.heartbeats.getLastHeartbeatFrom(registration.id);
    return last > 0 ? last : registration.registeredAt;
  }

  private view(registration: Registration): TaskManagerView {
    const lastHeartbeat = this.lastHeartbeatOf(registration);
    return {
      id: registration.id,
      address: `${registration.host}:${registration.port}`,
      slotsNumber: registration.slotsNumber,
      freeSlots: registration.slots.filter((slot) => slot.free).length,
      lastHeartbeat,
      timeSinceLastHeartbeat: Date.now() - lastHeartbeat,
    };
  }
}

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { ClientTCP } from '@nestjs/microservices';
import { pairwise, startWith, Subject, type Observable, type Subscription } from 'rxjs';
import {
  clientTlsOptions,
  largestTaskManagerFrame,
  slotReportProblem,
  RESOURCE_MANAGER_HEARTBEATS,
  TASK_MANAGER_HEARTBEATS,
  type RegistrationRequest,
  type RegistrationResponse,
  type ResourceManagerHeartbeat,
  type SlotStatus,
  type TaskManagerHeartbeat,
  type UnregistrationRequest,
} from '#cluster';
import {
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  type HeartbeatManager,
  type TargetLossReason,
} from 'nestjs-heartbeat';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from './resource-manager-identity.js';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import {
  describeSilence,
  RegistrationFence,
  RegistrationRefused,
  type RegistrationCredentials,
} from './registration-fence.js';
import { TaskManagerClients } from './task-manager-clients.service.js';

/**
 * What the ResourceManager knows of one registered TaskManager. Its `credential` (and the one it
 * was `replacedWith`) fence off everyone else: see `RegistrationFence`.
 */
export interface Registration extends RegistrationCredentials {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly slotsNumber: number;
  readonly registeredAt: number;
  /** Its command client (see `TaskManagerClients`); heartbeats go over a connection of their own. */
  readonly client: ClientTCP;
  /** Kept by the `SlotPool` from slot reports and command answers. */
  slots: SlotStatus[];
  /** Version of the newest slot report or command answer applied; older reports are ignored. */
  reportVersion: number;
}

/**
 * Why a registration ended: its heartbeats stopped or could not reach it, it said goodbye, it
 * registered again (a new registration replaced it), or this ResourceManager stopped leading (the
 * TaskManagers register with the new leader, which learns their slots from them).
 */
export type ReleaseReason = TargetLossReason | 'goodbye' | 'replaced' | 'stepped-down';

/** A change of the cluster's membership, as `TaskManagerRegistrations.membershipChanges$` tells it. */
export type MembershipChange =
  | {
      readonly type: 'registered';
      readonly taskManagerId: string;
      /** `host:port` of its endpoint. */
      readonly address: string;
      readonly slotsNumber: number;
      /** Epoch milliseconds. */
      readonly at: number;
    }
  | {
      readonly type: 'released';
      readonly taskManagerId: string;
      readonly reason: ReleaseReason;
      /** Epoch milliseconds. */
      readonly at: number;
    };

// Its refusals, shared with the JobMasters' registrations.
export { RegistrationRefused } from './registration-fence.js';

/**
 * How each release is logged, and whether the TaskManager is told: one that left or registered
 * again knows already; one that was lost may only be cut off, and registers again when told.
 */
const RELEASES: Readonly<Record<ReleaseReason, { logged: string; notify: boolean }>> = {
  timeout: { logged: 'heartbeat timeout', notify: true },
  unreachable: { logged: 'unreachable', notify: true },
  goodbye: { logged: 'left (goodbye)', notify: false },
  replaced: { logged: 'registered again', notify: false },
  'stepped-down': { logged: 'this ResourceManager stepped down as leader', notify: false },
};

/**
 * The TaskManagers registered with this ResourceManager: who may register (frame limits, the
 * credential of a live registration), the credentials that fence off everyone else, the
 * heartbeat monitoring of each registration, and its release.
 */
@Injectable()
export class TaskManagerRegistrations implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ResourceManager');
  private readonly registrations = new Map<string, Registration>();
  private readonly changes = new Subject<MembershipChange>();
  /** Every registration and release, as it happens (in-process; completes on shutdown). */
  readonly membershipChanges$: Observable<MembershipChange> = this.changes.asObservable();
  private followingLeadership: Subscription | null = null;
  private readonly fence: RegistrationFence;

  constructor(
    @Inject(RESOURCE_MANAGER_IDENTITY) private readonly identity: ResourceManagerIdentity,
    @Inject(RESOURCE_MANAGER_CONFIG) private readonly config: ResourceManagerConfig,
    @InjectHeartbeatManager(TASK_MANAGER_HEARTBEATS)
    private readonly heartbeats: HeartbeatManager<TaskManagerHeartbeat, ResourceManagerHeartbeat>,
    private readonly targets: HeartbeatTargetFactory,
    private readonly clients: TaskManagerClients,
    private readonly leadership: ResourceManagerLeadership,
  ) {
    this.fence = new RegistrationFence(leadership, 'TaskManager');
  }

  /** A leader that steps down lets every registration go: the TaskManagers move to the new leader. */
  onModuleInit(): void {
    this.followingLeadership = this.leadership.leadership$
      .pipe(startWith(null), pairwise())
      .subscribe(([before, now]) => {
        if (before?.leader && !now?.leader) {
          for (const registration of this.all()) {
            this.release(registration.id, 'stepped-down');
          }
        }
      });
  }

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
    const fencingToken = this.leadership.requireLeadership();
    const replacing = this.registrations.has(request.taskManagerId);
    if (replacing) {
      this.release(request.taskManagerId, 'replaced');
    }
    const client = this.clients.open(request.host, request.port);
    const credentials = this.fence.issue(replacing, request.credential);
    const registeredAt = Date.now();
    this.registrations.set(request.taskManagerId, {
      id: request.taskManagerId,
      host: request.host,
      port: request.port,
      slotsNumber: request.slots,
      registeredAt,
      ...credentials,
      client,
      // What it holds already (registering with a new leader): the allocations stay as they are.
      slots:
        request.slotReport?.slots.map((slot) => ({ ...slot })) ??
        Array.from({ length: request.slots }, (_, index) => ({
          index,
          free: true,
          allocationId: null,
          jobId: null,
        })),
      reportVersion: request.slotReport?.version ?? -1,
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
    const held = request.slotReport?.slots.filter((slot) => !slot.free).length ?? 0;
    this.logger.log(
      `TaskManager ${request.taskManagerId} registered from ${address} with ${request.slots} slots` +
        (held > 0 ? ` (${held} allocated, kept)` : ''),
    );
    this.changes.next({
      type: 'registered',
      taskManagerId: request.taskManagerId,
      address,
      slotsNumber: request.slots,
      at: registeredAt,
    });
    return {
      resourceManagerId: this.identity.resourceManagerId,
      fencingToken,
      credential: credentials.credential,
    };
  }

  /** A TaskManager says goodbye: release it now instead of waiting for the timeout. */
  unregister({ taskManagerId, fencingToken, credential }: UnregistrationRequest): boolean {
    const refusal = this.refusal(taskManagerId, fencingToken, credential);
    if (refusal) {
      this.logger.warn(`Ignored a goodbye from ${taskManagerId}: ${refusal}`);
      return false;
    }
    this.release(taskManagerId, 'goodbye');
    return true;
  }

  /**
   * Ends a registration, if there is one: stops monitoring it, drops it with its slots, logs one
   * line, and closes its client (after telling the TaskManager, when it did not leave by itself).
   */
  release(taskManagerId: string, reason: ReleaseReason): void {
    const registration = this.registrations.get(taskManagerId);
    if (!registration) {
      return;
    }
    const { logged, notify } = RELEASES[reason];
    const lastHeartbeat = this.heartbeats.getLastHeartbeatFrom(taskManagerId);
    const releasedAt = Date.now();
    const silence = describeSilence(lastHeartbeat, registration.registeredAt, releasedAt);
    this.heartbeats.unmonitorTarget(taskManagerId);
    this.registrations.delete(taskManagerId);
    const allocated = registration.slots.filter((slot) => !slot.free).length;
    this.logger.warn(
      `TaskManager ${taskManagerId} lost: ${logged}, ${silence}; ` +
        `released ${registration.slotsNumber} slots (${allocated} allocated)`,
    );
    // Only a leader may order anything: one that stepped down just lets go.
    if (notify && this.leadership.isLeader()) {
      this.clients.disconnectAndClose(registration.client, {
        ...this.proofFor(registration),
        reason: logged,
      });
    } else {
      this.clients.close(registration.client);
    }
    this.changes.next({ type: 'released', taskManagerId, reason, at: releasedAt });
  }

  get(taskManagerId: string): Registration | undefined {
    return this.registrations.get(taskManagerId);
  }

  /** Every live registration, in the order they registered. */
  all(): Registration[] {
    return [...this.registrations.values()];
  }

  /** False once a registration was released or replaced: its client is closed. */
  isCurrent(registration: Registration): boolean {
    return this.registrations.get(registration.id) === registration;
  }

  /** Throws a `NotLeaderError` unless this ResourceManager leads: slot requests begin with it. */
  requireLeadership(): void {
    this.leadership.requireLeadership();
  }

  /**
   * What every message to a registered TaskManager carries: the fencing token of our leadership,
   * and its credential. Throws a `NotLeaderError` when this ResourceManager does not lead (with HA,
   * its lease is checked here): so no message goes out from a leader whose lease may have lapsed.
   */
  proofFor(registration: Registration): ResourceManagerHeartbeat {
    return this.fence.proofFor(registration);
  }

  /** Why a message in the name of `taskManagerId` is refused, or undefined if it is its own. */
  refusal(taskManagerId: string, fencingToken: string, credential: string): string | undefined {
    return this.fence.refusal(
      taskManagerId,
      this.registrations.get(taskManagerId),
      fencingToken,
      credential,
    );
  }

  /** The clients are closed by `TaskManagerClients`; here the registrations go, so no command uses one. */
  onApplicationShutdown(): void {
    this.followingLeadership?.unsubscribe();
    this.registrations.clear();
    this.changes.complete();
  }

  /** Why a registration is refused, or undefined if it may go ahead. */
  private registrationRefusal(request: RegistrationRequest): string | undefined {
    const notLeading = this.fence.notLeading();
    if (notLeading) {
      return notLeading;
    }
    const reportProblem =
      request.slotReport && slotReportProblem(request.slotReport, request.slots);
    if (reportProblem) {
      return reportProblem;
    }
    const needed = largestTaskManagerFrame(request.slots);
    if (needed > this.config.frameLimits.maxBufferSize) {
      return (
        `its heartbeats with ${request.slots} slots need frames of up to ${needed} characters, ` +
        `more than this ResourceManager's TCP_MAX_BUFFER_SIZE ${this.config.frameLimits.maxBufferSize}`
      );
    }
    return this.fence.replacementRefusal(
      request.taskManagerId,
      this.registrations.get(request.taskManagerId),
      request.credential,
    );
  }
}

import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import {
  asyncScheduler,
  concat,
  defer,
  EMPTY,
  merge,
  Observable,
  of,
  ReplaySubject,
  share,
  Subject,
  takeUntil,
  type Subscription,
} from 'rxjs';
import type { HeartbeatReceivedEvent } from 'nestjs-heartbeat';
import {
  DASHBOARD_FEED_OPTIONS,
  DASHBOARD_SOURCES,
  type DashboardFeedOptions,
  type DashboardMembershipChange,
  type DashboardSources,
  type DashboardTaskManagerState,
} from './dashboard-sources.js';
import type {
  DashboardMessage,
  DashboardSlot,
  DashboardTaskManager,
  HeartbeatsMessage,
  HeartbeatUpdate,
  RegisteredMessage,
  ReleasedMessage,
  SnapshotMessage,
  TimelineEntry,
} from './dashboard.messages.js';

export const DEFAULT_DASHBOARD_FEED_OPTIONS: DashboardFeedOptions = {
  pushIntervalMs: 250,
  timelineLength: 100,
  now: () => Date.now(),
  scheduler: asyncScheduler,
};

/**
 * What the dashboard pages are pushed: to each, a snapshot on connect, then every registration and
 * release as it happens, and the heartbeats coalesced into one message per push interval (the
 * latest of each TaskManager). The coalescing is shared by all pages, and runs only while one is
 * connected; the timeline of registrations and releases is kept all along, for pages that connect
 * later.
 */
@Injectable()
export class DashboardFeed implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Dashboard');
  private readonly options: DashboardFeedOptions;
  private readonly timeline: TimelineEntry[] = [];
  private readonly membershipMessages = new Subject<RegisteredMessage | ReleasedMessage>();
  /** Replays its one value, so that a page connecting during shutdown is ended too. */
  private readonly closed = new ReplaySubject<void>(1);
  private isClosed = false;
  private membershipSubscription: Subscription | undefined;
  /** The latest heartbeat of each TaskManager since the last push. */
  private readonly pending = new Map<string, HeartbeatReceivedEvent>();
  /** The latest round trip of each TaskManager seen while a page was connected. */
  private readonly roundTrips = new Map<string, number>();
  /** The slots the heartbeat pushes last carried per TaskManager, so unchanged ones are left out. */
  private readonly sentSlots = new Map<string, string>();
  private readonly heartbeats: Observable<HeartbeatsMessage>;

  constructor(
    @Inject(DASHBOARD_SOURCES) private readonly sources: DashboardSources,
    @Optional() @Inject(DASHBOARD_FEED_OPTIONS) options?: Partial<DashboardFeedOptions>,
  ) {
    this.options = { ...DEFAULT_DASHBOARD_FEED_OPTIONS, ...options };
    // One subscription to the heartbeat events however many pages are open; none when none is.
    this.heartbeats = new Observable<HeartbeatsMessage>((subscriber) => {
      let push: Subscription | null = null;
      const events = this.sources.heartbeatEvents.subscribe((event) => {
        if (event.type !== 'heartbeat') {
          return; // losses reach the pages as releases, from the membership changes
        }
        this.pending.set(event.target, event);
        if (event.roundTripMs !== null) {
          this.roundTrips.set(event.target, event.roundTripMs);
        }
        push ??= this.options.scheduler.schedule(() => {
          push = null;
          const message = this.guarded('push heartbeats', () => this.takeHeartbeats());
          if (message) {
            subscriber.next(message);
          }
        }, this.options.pushIntervalMs);
      });
      return () => {
        events.unsubscribe();
        push?.unsubscribe();
        this.pending.clear();
        this.sentSlots.clear();
      };
    }).pipe(share());
  }

  onModuleInit(): void {
    this.membershipSubscription = this.sources.membershipChanges.subscribe((change) =>
      this.guarded(`show the ${change.type} of ${change.taskManagerId}`, () =>
        this.onMembershipChange(change),
      ),
    );
  }

  /** A page's stream: a snapshot, then the changes. Ends when the app shuts down. */
  messages(): Observable<DashboardMessage> {
    return defer(() =>
      this.isClosed
        ? EMPTY
        : concat(of(this.snapshot()), merge(this.membershipMessages, this.heartbeats)),
    ).pipe(takeUntil(this.closed));
  }

  /** Ends every page's stream before the HTTP server closes: an open one would keep it from closing. */
  beforeApplicationShutdown(): void {
    this.isClosed = true;
    this.closed.next();
    this.closed.complete();
    this.membershipSubscription?.unsubscribe();
    this.membershipMessages.complete();
  }

  private snapshot(): SnapshotMessage {
    // Pages already connected get every TaskManager's slots with the next push: that keeps what
    // "unchanged" means the same for the new page and the others.
    this.sentSlots.clear();
    const { resourceManagerId, heartbeat } = this.sources;
    return {
      type: 'snapshot',
      now: this.options.now(),
      resourceManagerId,
      heartbeat: { interval: heartbeat.interval, timeout: heartbeat.timeout },
      pushIntervalMs: this.options.pushIntervalMs,
      taskManagers: this.sources.taskManagers().map((state) => this.row(state)),
      timeline: [...this.timeline],
    };
  }

  private onMembershipChange(change: DashboardMembershipChange): void {
    const id = change.taskManagerId;
    // A new registration starts afresh; a released one has nothing left to push.
    this.pending.delete(id);
    this.roundTrips.delete(id);
    this.sentSlots.delete(id);
    if (change.type === 'registered') {
      const entry = {
        kind: 'registered',
        at: change.at,
        taskManagerId: id,
        address: change.address,
        slotsNumber: change.slotsNumber,
      } as const;
      this.record(entry);
      const state: DashboardTaskManagerState = this.sources.taskManager(id) ?? {
        id,
        address: change.address,
        slotsNumber: change.slotsNumber,
        lastHeartbeat: change.at,
        slots: Array.from({ length: change.slotsNumber }, (_, index) => ({
          index,
          free: true,
          jobId: null,
        })),
      };
      this.membershipMessages.next({
        type: 'registered',
        now: this.options.now(),
        taskManager: this.row(state),
        entry,
      });
    } else {
      const entry = {
        kind: 'released',
        at: change.at,
        taskManagerId: id,
        reason: change.reason,
      } as const;
      this.record(entry);
      this.membershipMessages.next({
        type: 'released',
        now: this.options.now(),
        taskManagerId: id,
        reason: change.reason,
        entry,
      });
    }
  }

  private record(entry: TimelineEntry): void {
    this.timeline.push(entry);
    if (this.timeline.length > this.options.timelineLength) {
      this.timeline.splice(0, this.timeline.length - this.options.timelineLength);
    }
  }

  /** The heartbeats pending since the last push, as one message (none if nothing is left to show). */
  private takeHeartbeats(): HeartbeatsMessage | null {
    const updates: HeartbeatUpdate[] = [];
    for (const [id, event] of this.pending) {
      const state = this.sources.taskManager(id);
      if (!state) {
        continue; // released since: its page row is gone already
      }
      const slots = compactSlots(state.slots);
      const key = JSON.stringify(slots);
      const slotsChanged = this.sentSlots.get(id) !== key;
      this.sentSlots.set(id, key);
      updates.push({
        id,
        lastHeartbeat: state.lastHeartbeat,
        roundTripMs: event.roundTripMs ?? this.roundTrips.get(id) ?? null,
        freeSlots: countFree(slots),
        ...(slotsChanged ? { slots } : {}),
      });
    }
    this.pending.clear();
    return updates.length > 0
      ? { type: 'heartbeats', now: this.options.now(), taskManagers: updates }
      : null;
  }

  private row(state: DashboardTaskManagerState): DashboardTaskManager {
    const slots = compactSlots(state.slots);
    return {
      id: state.id,
      address: state.address,
      slotsNumber: state.slotsNumber,
      freeSlots: countFree(slots),
      slots,
      lastHeartbeat: state.lastHeartbeat,
      roundTripMs: this.roundTrips.get(state.id) ?? null,
    };
  }

  /**
   * Runs a step of the feed, logging what it throws: it runs inside the registrations' notification
   * or a timer, where a throw would be rethrown asynchronously and end the ResourceManager.
   */
  private guarded<T>(what: string, step: () => T): T | undefined {
    try {
      return step();
    } catch (error) {
      this.logger.error(`Dashboard could not ${what}: ${(error as Error)?.stack ?? String(error)}`);
      return undefined;
    }
  }
}

/** Only what a page shows of a slot (allocation ids stay on the server). */
function compactSlots(slots: readonly DashboardSlot[]): DashboardSlot[] {
  return slots.map(({ index, free, jobId }) => ({ index, free, jobId }));
}

function countFree(slots: readonly DashboardSlot[]): number {
  return slots.filter((slot) => slot.free).length;
}

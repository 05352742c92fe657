import type { Observable, SchedulerLike } from 'rxjs';
import type { HeartbeatEvent } from 'nestjs-heartbeat';
import type { DashboardSlot } from './dashboard.messages.js';

/** The dashboard feed's inputs (see `dashboard-sources.provider.ts` for the ResourceManager's). */
export const DASHBOARD_SOURCES = Symbol('DASHBOARD_SOURCES');

/** Tuning and time for the dashboard feed; tests inject a virtual clock and scheduler. */
export const DASHBOARD_FEED_OPTIONS = Symbol('DASHBOARD_FEED_OPTIONS');

/** A registration or release, as the ResourceManager's registrations announce it. */
export type DashboardMembershipChange =
  | {
      readonly type: 'registered';
      readonly taskManagerId: string;
      readonly address: string;
      readonly slotsNumber: number;
      readonly at: number;
    }
  | {
      readonly type: 'released';
      readonly taskManagerId: string;
      readonly reason: string;
      readonly at: number;
    };

/** What the ResourceManager knows of one registered TaskManager now. */
export interface DashboardTaskManagerState {
  readonly id: string;
  readonly address: string;
  readonly slotsNumber: number;
  /** Epoch ms of its last heartbeat (of its registration until it sent one). */
  readonly lastHeartbeat: number;
  readonly slots: readonly DashboardSlot[];
}

export interface DashboardSources {
  readonly resourceManagerId: string;
  readonly heartbeat: { readonly interval: number; readonly timeout: number };
  /**
   * The heartbeat events of the manager that monitors the TaskManagers. Subscribed only while a
   * dashboard is connected: with nobody subscribed, the library builds no event at all.
   */
  readonly heartbeatEvents: Observable<HeartbeatEvent>;
  /** Registrations and releases; subscribed for the whole life of the app (the timeline). */
  readonly membershipChanges: Observable<DashboardMembershipChange>;
  /** Every registered TaskManager, in registration order. */
  taskManagers(): DashboardTaskManagerState[];
  taskManager(id: string): DashboardTaskManagerState | undefined;
}

export interface DashboardFeedOptions {
  /** Heartbeats are pushed in one message per this many ms at most (the latest per TaskManager). */
  readonly pushIntervalMs: number;
  /** How many registrations and releases the timeline keeps for pages that connect later. */
  readonly timelineLength: number;
  /** Epoch ms; the clock every message's `now` comes from. */
  readonly now: () => number;
  /** Runs the push timer. */
  readonly scheduler: SchedulerLike;
}

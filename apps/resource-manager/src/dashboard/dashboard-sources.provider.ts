import type { Provider } from '@nestjs/common';
import { defer } from 'rxjs';
import { TASK_MANAGER_HEARTBEATS } from '#cluster';
import { HeartbeatRegistry } from 'nestjs-heartbeat';
import { ClusterViews } from '../cluster-views.service.js';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from '../resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from '../resource-manager-identity.js';
import { TaskManagerRegistrations } from '../task-manager-registrations.service.js';
import {
  DASHBOARD_SOURCES,
  type DashboardSources,
  type DashboardTaskManagerState,
} from './dashboard-sources.js';

/** The ResourceManager's own services as the dashboard feed's sources. */
export const dashboardSourcesProvider: Provider = {
  provide: DASHBOARD_SOURCES,
  inject: [
    HeartbeatRegistry,
    TaskManagerRegistrations,
    ClusterViews,
    RESOURCE_MANAGER_IDENTITY,
    RESOURCE_MANAGER_CONFIG,
  ],
  useFactory: (
    registry: HeartbeatRegistry,
    registrations: TaskManagerRegistrations,
    views: ClusterViews,
    identity: ResourceManagerIdentity,
    config: ResourceManagerConfig,
  ): DashboardSources => {
    const state = (id: string): DashboardTaskManagerState | undefined => views.find(id);
    return {
      resourceManagerId: identity.resourceManagerId,
      heartbeat: { interval: config.heartbeat.interval, timeout: config.heartbeat.timeout },
      // Looked up on subscription, once the registry's managers exist.
      heartbeatEvents: defer(() => registry.events(TASK_MANAGER_HEARTBEATS)),
      membershipChanges: registrations.membershipChanges$,
      taskManagers: () =>
        views
          .list()
          .map(({ id }) => state(id))
          .filter((found) => found !== undefined),
      taskManager: state,
    };
  },
};

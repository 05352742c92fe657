import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JOB_MASTER_HEARTBEATS, TASK_MANAGER_HEARTBEATS } from '#cluster';
import { TerminusModule } from '@nestjs/terminus';
import { HeartbeatModule } from 'nestjs-heartbeat';
import { Registry } from 'prom-client';
import { ClusterController } from './cluster.controller.js';
import { ClusterViews } from './cluster-views.service.js';
import { METRICS_REGISTRY, ObservabilityController } from './observability.controller.js';
import { DashboardController, DASHBOARD_PROVIDERS } from './dashboard/index.js';
import { JobMasterHeartbeats } from './job-master-heartbeats.service.js';
import { JobMasterRegistrations } from './job-master-registrations.service.js';
import { JobMasterSlots } from './job-master-slots.service.js';
import { JobMasterGateway } from './job-master.gateway.js';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config.js';
import {
  newResourceManagerIdentity,
  RESOURCE_MANAGER_IDENTITY,
} from './resource-manager-identity.js';
import { LeaderOnlyGuard } from './leadership/leader-only.guard.js';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import { SlotPool } from './slot-pool.service.js';
import { TaskManagerClients } from './task-manager-clients.service.js';
import { TaskManagerHeartbeats } from './task-manager-heartbeats.service.js';
import { TaskManagerRegistrations } from './task-manager-registrations.service.js';
import { TaskManagerGateway } from './task-manager.gateway.js';

@Module({})
export class ResourceManagerModule {
  static forConfig(config: ResourceManagerConfig): DynamicModule {
    const identity = newResourceManagerIdentity();
    // Its own registry, not prom-client's global one: two ResourceManagers in one process (tests)
    // each serve their own metrics.
    const registry = new Registry();
    return {
      module: ResourceManagerModule,
      imports: [
        HeartbeatModule.forRoot({
          resourceId: identity.resourceManagerId,
          managers: {
            [TASK_MANAGER_HEARTBEATS]: 'sender',
            // The JobMasters are watched with a timeout of their own (JM_HEARTBEAT_TIMEOUT_MS).
            [JOB_MASTER_HEARTBEATS]: { role: 'sender', timeout: config.jobMasterHeartbeatTimeout },
          },
          ...config.heartbeat,
          // The answer comes in the reply, so a reply later than this is no heartbeat: allow up
          // to the timeout for it (a hung peer is declared by its manager's timeout anyway).
          requestTimeout: Math.max(config.heartbeat.timeout, config.jobMasterHeartbeatTimeout),
          // The slot reports come back in the replies: read them with the configured frame limit.
          clientLimits: config.frameLimits,
          metrics: { registry },
        }),
        TerminusModule.forRoot(),
      ],
      controllers: [
        TaskManagerGateway,
        JobMasterGateway,
        ClusterController,
        ObservabilityController,
        DashboardController,
      ],
      providers: [
        { provide: RESOURCE_MANAGER_CONFIG, useValue: config },
        { provide: RESOURCE_MANAGER_IDENTITY, useValue: identity },
        { provide: METRICS_REGISTRY, useValue: registry },
        ResourceManagerLeadership,
        { provide: APP_GUARD, useClass: LeaderOnlyGuard },
        TaskManagerClients,
        TaskManagerRegistrations,
        SlotPool,
        TaskManagerHeartbeats,
        JobMasterRegistrations,
        JobMasterSlots,
        JobMasterHeartbeats,
        ClusterViews,
        ...DASHBOARD_PROVIDERS,
      ],
    };
  }
}

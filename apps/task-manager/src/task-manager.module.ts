import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import {
  JOB_MASTER_HEARTBEATS,
  RESOURCE_MANAGER_HEARTBEATS,
  RESOURCE_MANAGER_LOOKUP,
  ResourceManagerLocator,
} from '#cluster';
import { HeartbeatModule } from 'nestjs-heartbeat';
import { JobMasterHeartbeats } from './job-master-heartbeats.service.js';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { ResourceManagerGateway } from './resource-manager.gateway.js';
import { SlotTable } from './slot-table.service.js';
import { TASK_MANAGER_CONFIG, type TaskManagerConfig } from './task-manager.config.js';

@Module({})
export class TaskManagerModule {
  static forConfig(config: TaskManagerConfig): DynamicModule {
    return {
      module: TaskManagerModule,
      imports: [
        // The registration retries' timers: cleared by Nest when the application shuts down.
        ScheduleModule.forRoot(),
        HeartbeatModule.forRoot({
          resourceId: config.id,
          // The ResourceManager asks for heartbeats, and so does every JobMaster with slots here.
          managers: {
            [RESOURCE_MANAGER_HEARTBEATS]: 'receiver',
            [JOB_MASTER_HEARTBEATS]: 'receiver',
          },
          ...config.heartbeat,
        }),
      ],
      controllers: [ResourceManagerGateway],
      providers: [
        { provide: TASK_MANAGER_CONFIG, useValue: config },
        SlotTable,
        // The locator reads the ResourceManager's address (or the HA settings) from our config.
        { provide: RESOURCE_MANAGER_LOOKUP, useValue: { ...config, logContext: 'TaskManager' } },
        ResourceManagerLocator,
        ResourceManagerConnection,
        JobMasterHeartbeats,
      ],
    };
  }
}

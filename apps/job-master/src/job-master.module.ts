import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import {
  RESOURCE_MANAGER_HEARTBEATS,
  RESOURCE_MANAGER_LOOKUP,
  ResourceManagerLocator,
  TASK_MANAGER_HEARTBEATS,
} from '#cluster';
import { HeartbeatModule } from 'nestjs-heartbeat';
import { JOB_MASTER_CONFIG, type JobMasterConfig } from './job-master.config.js';
import { JobTable } from './job-table.service.js';
import { JobsController } from './jobs.controller.js';
import { JobsService } from './jobs.service.js';
import { ResourceManagerLink } from './resource-manager-link.service.js';

@Module({})
export class JobMasterModule {
  static forConfig(config: JobMasterConfig): DynamicModule {
    return {
      module: JobMasterModule,
      imports: [
        // The retries' timers: cleared by Nest when the application shuts down.
        ScheduleModule.forRoot(),
        HeartbeatModule.forRoot({
          resourceId: config.id,
          // Flink's JobMaster: a receiver of the ResourceManager's heartbeats, a sender to the
          // TaskManagers that hold its slots.
          managers: {
            [RESOURCE_MANAGER_HEARTBEATS]: 'receiver',
            [TASK_MANAGER_HEARTBEATS]: 'sender',
          },
          ...config.heartbeat,
          // The TaskManagers' answers come in the replies: wait for them up to the timeout.
          requestTimeout: config.heartbeat.timeout,
          clientLimits: config.answerLimits,
        }),
      ],
      controllers: [JobsController],
      providers: [
        { provide: JOB_MASTER_CONFIG, useValue: config },
        // The locator reads the ResourceManager's address (or the HA settings) from our config.
        { provide: RESOURCE_MANAGER_LOOKUP, useValue: { ...config, logContext: 'JobMaster' } },
        ResourceManagerLocator,
        JobTable,
        ResourceManagerLink,
        JobsService,
      ],
    };
  }
}

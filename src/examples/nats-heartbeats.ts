import { Injectable, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  type BrokerClientOptions,
  type HeartbeatManager,
} from 'nestjs-heartbeat';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** The ResourceManager's side: watches each TaskManager through NATS, by its id. */
@Injectable()
export class TaskManagerWatch {
  // One object for every target: they share one connection to the broker.
  private readonly nats: BrokerClientOptions = {
    transport: Transport.NATS,
    options: { servers: NATS_URL },
  };

  constructor(
    @InjectHeartbeatManager('taskManagers') private readonly taskManagers: HeartbeatManager,
    private readonly targets: HeartbeatTargetFactory,
  ) {}

  watch(taskManagerId: string): void {
    const target = this.targets.createBrokerTarget({
      client: this.nats,
      recipientId: taskManagerId, // its resourceId: its heartbeats go to it alone
      remoteManager: 'resourceManager', // its receiver manager
    });
    this.taskManagers.monitorTarget(taskManagerId, target);
  }
}

/** A TaskManager's side: a NATS microservice importing HeartbeatModule answers what is sent to its id. */
export async function startTaskManager(id: string): Promise<INestMicroservice> {
  @Module({
    imports: [
      HeartbeatModule.forRoot({ resourceId: id, managers: { resourceManager: 'receiver' } }),
    ],
  })
  class TaskManagerModule {}

  const app = await NestFactory.createMicroservice(TaskManagerModule, {
    transport: Transport.NATS,
    options: { servers: NATS_URL, maxReconnectAttempts: -1 }, // back after a broker restart
  });
  await app.listen();
  app.get(HeartbeatRegistry).getManager('resourceManager').monitorTarget('resource-manager');
  return app;
}

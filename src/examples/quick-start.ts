import 'reflect-metadata';
import { Injectable, Module, type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import {
  HeartbeatModule,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  ProvideHeartbeatPayload,
  type HeartbeatManager,
} from 'nestjs-heartbeat';

interface WorkerStatus {
  jobsDone: number;
}

const settings = { interval: 200, timeout: 1_000, rpcFailureThreshold: -1, requestTimeout: 500 };
export const events: string[] = [];
const log = (line: string) => {
  events.push(line);
  console.log(line);
};

// The supervisor's "workers" manager is a sender: it asks every worker it watches for a heartbeat.
@Injectable()
class Supervisor {
  constructor(
    @InjectHeartbeatManager('workers') readonly workers: HeartbeatManager<WorkerStatus, null>,
    private readonly targets: HeartbeatTargetFactory,
  ) {}

  watch(workerId: string, port: number): void {
    const target = this.targets.createTcpTarget({
      host: '127.0.0.1',
      port,
      remoteManager: 'supervisor',
    });
    this.workers.monitorTarget(workerId, target);
  }

  @OnHeartbeatPayload('workers')
  onStatus(workerId: string, status: WorkerStatus): void {
    log(`supervisor: ${workerId} has done ${status.jobsDone} jobs`);
  }

  @OnHeartbeatTimeout('workers')
  onWorkerLost(workerId: string): void {
    log(`supervisor: ${workerId} timed out`);
    this.workers.unmonitorTarget(workerId);
  }
}

// The worker's "supervisor" manager is a receiver: it answers the supervisor's requests, in
// their replies, so it needs no way to reach the supervisor: it monitors it by id alone.
@Injectable()
class Worker {
  private jobsDone = 0;

  constructor(
    @InjectHeartbeatManager('supervisor') readonly supervisor: HeartbeatManager<null, WorkerStatus>,
  ) {}

  reportTo(supervisorId: string): void {
    this.supervisor.monitorTarget(supervisorId);
  }

  @ProvideHeartbeatPayload('supervisor')
  status(): WorkerStatus {
    return { jobsDone: ++this.jobsDone };
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      resourceId: 'supervisor',
      managers: { workers: 'sender' },
      ...settings,
    }),
  ],
  providers: [Supervisor],
})
class SupervisorModule {}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      resourceId: 'worker-1',
      managers: { supervisor: 'receiver' },
      ...settings,
    }),
  ],
  providers: [Worker],
})
class WorkerModule {}

// Only the side that is asked listens for heartbeats: the worker is a TCP microservice, while
// the supervisor, which only asks, needs no endpoint.
async function listen(module: Type): Promise<{ app: INestMicroservice; port: number }> {
  const app = await NestFactory.createMicroservice(module, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port: 0 },
    logger: ['error', 'warn'],
  });
  await app.listen();
  const port = (app.unwrap<Server>().address() as AddressInfo).port;
  return { app, port };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a supervisor and a worker for a second, then stops the worker and waits for the timeout. */
export async function runQuickStart(): Promise<string[]> {
  const supervisor = await NestFactory.createApplicationContext(SupervisorModule, {
    logger: ['error', 'warn'],
  });
  const worker = await listen(WorkerModule);
  try {
    worker.app.get(Worker).reportTo('supervisor');
    supervisor.get(Supervisor).watch('worker-1', worker.port);
    await sleep(1_000);
    log('worker-1 stops');
    await worker.app.close();
    await sleep(settings.timeout + settings.interval * 2);
  } finally {
    await worker.app.close();
    await supervisor.close();
  }
  return events;
}

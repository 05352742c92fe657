import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { EnvironmentError } from '#cluster';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { readTaskManagerConfig } from './task-manager.config.js';
import { TaskManagerModule } from './task-manager.module.js';

async function bootstrap(): Promise<void> {
  const config = readTaskManagerConfig();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    TaskManagerModule.forConfig(config),
    {
      transport: Transport.TCP,
      options: {
        host: config.host,
        port: config.tcpPort,
        maxBufferSize: 1_048_576,
        incompleteMessageTimeout: 10_000,
      },
      logger: ['log', 'warn', 'error'],
    },
  );
  app.enableShutdownHooks();
  await app.listen();
  const port = (app.unwrap<Server>().address() as AddressInfo).port;
  new Logger('TaskManager').log(
    `TaskManager ${config.id} listening on ${config.host}:${port} with ${config.slots} slots; ` +
      `ResourceManager at ${config.resourceManager.host}:${config.resourceManager.port}`,
  );
  app.get(ResourceManagerConnection).start(port);
}

bootstrap().catch((error: unknown) => {
  const message =
    error instanceof EnvironmentError
      ? `Invalid environment: ${error.message}`
      : String((error as Error)?.stack ?? error);
  console.error(message);
  process.exit(1);
});

import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { EnvironmentError } from '#cluster';
import { readResourceManagerConfig } from './resource-manager.config.js';
import { ResourceManagerModule } from './resource-manager.module.js';
import { TaskManagerRegistry } from './task-manager-registry.service.js';

async function bootstrap(): Promise<void> {
  const config = readResourceManagerConfig();
  const app = await NestFactory.create(ResourceManagerModule.forConfig(config), {
    logger: ['log', 'warn', 'error'],
  });
  app.connectMicroservice<MicroserviceOptions>({
    transport: Transport.TCP,
    // Frames between TaskManagers and the ResourceManager are small: cap what a peer can make us buffer.
    options: {
      host: config.host,
      port: config.tcpPort,
      maxBufferSize: 1_048_576,
      incompleteMessageTimeout: 10_000,
    },
  });
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.httpPort, config.host);
  const { fencingToken } = app.get(TaskManagerRegistry);
  new Logger('ResourceManager').log(
    `ResourceManager ready: tcp ${config.host}:${config.tcpPort}, http http://${config.host}:${config.httpPort}, ` +
      `fencing token ${fencingToken}, heartbeat interval ${config.heartbeat.interval} ms, timeout ${config.heartbeat.timeout} ms`,
  );
}

bootstrap().catch((error: unknown) => {
  const message =
    error instanceof EnvironmentError
      ? `Invalid environment: ${error.message}`
      : String((error as Error)?.stack ?? error);
  console.error(message);
  process.exit(1);
});

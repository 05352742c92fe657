import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { createCheckedJsonSocket } from 'nestjs-heartbeat';
import { logRefusedHandshakes, runApp, serverTlsOptions, TaskManagerPatterns } from '#cluster';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { readTaskManagerConfig } from './task-manager.config.js';
import { TaskManagerModule } from './task-manager.module.js';

runApp(async () => {
  const config = readTaskManagerConfig();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    TaskManagerModule.forConfig(config),
    {
      transport: Transport.TCP,
      options: {
        host: config.host,
        port: config.tcpPort,
        socketClass: createCheckedJsonSocket({
          limits: config.frameLimits,
          patterns: Object.values(TaskManagerPatterns),
        }),
        tlsOptions: serverTlsOptions(config.tls),
      },
      logger: ['log', 'warn', 'error'],
    },
  );
  logRefusedHandshakes(app, new Logger('TaskManager'), config.tls);
  app.enableShutdownHooks();
  await app.listen();
  const port = (app.unwrap<Server>().address() as AddressInfo).port;
  new Logger('TaskManager').log(
    `TaskManager ${config.id} listening on ${config.host}:${port} with ${config.slots} slots${config.tls ? ' (mutual TLS)' : ''}; ` +
      (config.ha.mode === 'etcd'
        ? `ResourceManager: the leader of cluster "${config.ha.clusterId}" on etcd`
        : `ResourceManager at ${config.resourceManager.host}:${config.resourceManager.port}`),
  );
  app.get(ResourceManagerConnection).start(port);
});

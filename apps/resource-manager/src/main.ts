import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { createCheckedJsonSocket } from 'nestjs-heartbeat';
import {
  JobMasterToResourceManagerPatterns,
  logRefusedHandshakes,
  ResourceManagerPatterns,
  runApp,
  serverTlsOptions,
} from '#cluster';
import { readResourceManagerConfig } from './resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from './resource-manager-identity.js';
import { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';
import { ResourceManagerModule } from './resource-manager.module.js';

runApp(async () => {
  const config = readResourceManagerConfig();
  const app = await NestFactory.create(ResourceManagerModule.forConfig(config), {
    logger: ['log', 'warn', 'error'],
    // On close, drop every HTTP connection: a browser (the dashboard's) keeps spare ones open that
    // never carry a request, and the server would wait minutes for them to time out.
    forceCloseConnections: true,
  });
  const endpoint = app.connectMicroservice<MicroserviceOptions>({
    transport: Transport.TCP,
    options: {
      host: config.host,
      port: config.tcpPort,
      socketClass: createCheckedJsonSocket({
        limits: config.frameLimits,
        // TaskManagers' and JobMasters' messages; heartbeats are the library's.
        patterns: [
          ...Object.values(ResourceManagerPatterns),
          ...Object.values(JobMasterToResourceManagerPatterns),
        ],
      }),
      tlsOptions: serverTlsOptions(config.tls),
    },
  });
  logRefusedHandshakes(endpoint, new Logger('ResourceManager'), config.tls);
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.httpPort, config.host);
  const { resourceManagerId } = app.get<ResourceManagerIdentity>(RESOURCE_MANAGER_IDENTITY);
  const leadership = app.get(ResourceManagerLeadership);
  // Without HA it leads from the start, with the token it prints; with HA it campaigns from here.
  const token = leadership.current.fencingToken;
  new Logger('ResourceManager').log(
    `ResourceManager ${resourceManagerId} ready: tcp ${config.host}:${config.tcpPort}${config.tls ? ' (mutual TLS)' : ''}, ` +
      `http http://${config.host}:${config.httpPort}, ` +
      (token === null ? 'high availability on etcd, ' : `fencing token ${token}, `) +
      `heartbeat interval ${config.heartbeat.interval} ms, timeout ${config.heartbeat.timeout} ms` +
      (config.jobMasterHeartbeatTimeout === config.heartbeat.timeout
        ? ''
        : ` (JobMasters: ${config.jobMasterHeartbeatTimeout} ms)`),
  );
  await leadership.start();
});

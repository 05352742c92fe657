import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { createCheckedJsonSocket } from 'nestjs-heartbeat';
import { logRefusedHandshakes, runApp, serverTlsOptions } from '#cluster';
import { readJobMasterConfig } from './job-master.config.js';
import { JobMasterModule } from './job-master.module.js';
import { ResourceManagerLink } from './resource-manager-link.service.js';

runApp(async () => {
  const config = readJobMasterConfig();
  const logger = new Logger('JobMaster');
  const app = await NestFactory.create(JobMasterModule.forConfig(config), {
    logger: ['log', 'warn', 'error'],
    // On close, drop every HTTP connection (keep-alive ones would hold the shutdown up).
    forceCloseConnections: true,
  });
  // Its TCP endpoint takes only the ResourceManager's heartbeat requests (the library's patterns).
  const endpoint = app.connectMicroservice<MicroserviceOptions>({
    transport: Transport.TCP,
    options: {
      host: config.host,
      port: config.tcpPort,
      socketClass: createCheckedJsonSocket({ limits: config.frameLimits, patterns: [] }),
      tlsOptions: serverTlsOptions(config.tls),
    },
  });
  logRefusedHandshakes(endpoint, logger, config.tls);
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.httpPort, config.host);
  // With port 0 the system picked one: tell the real ones.
  const tcpPort = (endpoint.unwrap<Server>().address() as AddressInfo).port;
  const httpPort = (app.getHttpServer().address() as AddressInfo).port;
  logger.log(
    `JobMaster ${config.id} ready: tcp ${config.host}:${tcpPort}${config.tls ? ' (mutual TLS)' : ''}, ` +
      `http http://${config.host}:${httpPort}, ` +
      (config.ha.mode === 'etcd'
        ? `ResourceManager: the leader of cluster "${config.ha.clusterId}" on etcd`
        : `ResourceManager at ${config.resourceManager.host}:${config.resourceManager.port}`),
  );
  app.get(ResourceManagerLink).start(tcpPort);
});

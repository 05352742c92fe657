/**
 * The receiving side of the transports section (and of the end-to-end test of a hung receiver):
 * one Nest microservice per id, on loopback TCP or on the broker, each importing `HeartbeatModule`
 * with one receiver manager that monitors the sender by id and answers with `TARGET_PAYLOAD`.
 */
import 'reflect-metadata';
import { Injectable, Module, type INestMicroservice, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  HeartbeatModule,
  InjectHeartbeatManager,
  ProvideHeartbeatPayload,
  type HeartbeatManager,
} from 'nestjs-heartbeat';
import type { AddressInfo, Server } from 'node:net';
import { TARGET_PAYLOAD, type TargetAddress } from './protocol.js';
import { receiverOptions, type TransportPeerConfig } from './transport-config.js';

function receiverModule(config: TransportPeerConfig, id: string) {
  const manager = config.receiverManager;

  @Injectable()
  class Receiver implements OnModuleInit {
    constructor(@InjectHeartbeatManager(manager) private readonly sender: HeartbeatManager) {}

    onModuleInit(): void {
      this.sender.monitorTarget(config.senderId);
    }

    @ProvideHeartbeatPayload(manager)
    payload(): typeof TARGET_PAYLOAD {
      return TARGET_PAYLOAD;
    }
  }

  @Module({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: id,
        managers: { [manager]: 'receiver' },
        interval: config.interval,
        timeout: config.timeout,
      }),
    ],
    providers: [Receiver],
  })
  class ReceiverModule {}
  return ReceiverModule;
}

/** Starts every receiver; resolves with their addresses (port 0 on a broker) and their apps. */
export async function startReceivers(
  config: TransportPeerConfig,
): Promise<{ targets: TargetAddress[]; apps: INestMicroservice[] }> {
  const apps: INestMicroservice[] = [];
  const targets: TargetAddress[] = [];
  for (const id of config.ids) {
    const app = await NestFactory.createMicroservice(receiverModule(config, id), {
      ...receiverOptions(config.transport, config.brokerUrl),
      logger: ['error', 'warn'],
    });
    await app.listen();
    apps.push(app);
    const tcp = config.transport === 'tcp' || config.transport === 'tcp-client-proxy';
    const port = tcp ? (app.unwrap<Server>().address() as AddressInfo).port : 0;
    targets.push({ id, host: '127.0.0.1', port });
  }
  return { targets, apps };
}

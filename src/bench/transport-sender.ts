/**
 * The sending side of the transports section: `HeartbeatModule.forRoot` with one sender manager,
 * a plain application context (answers come back in the replies), watching every receiver with
 * the target of the transport under test. It counts heartbeats (`@OnHeartbeatPayload`) and failed
 * RPCs into a `Tally`.
 */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP } from '@nestjs/microservices';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  HeartbeatTargetFactory,
  InjectHeartbeatManager,
  OnHeartbeatPayload,
  type HeartbeatManager,
  type HeartbeatTarget,
} from 'nestjs-heartbeat';
import type { TargetAddress } from './protocol.js';
import type { Tally } from './tally.js';
import { brokerClientOptions, type TransportPeerConfig } from './transport-config.js';

const TALLY = Symbol('tally');

function senderModule(config: TransportPeerConfig) {
  const manager = config.senderManager;

  @Injectable()
  class Sender {
    private readonly indexOf = new Map<string, number>();
    private readonly broker = config.brokerUrl
      ? brokerClientOptions(config.transport, config.brokerUrl)
      : undefined;

    constructor(
      @InjectHeartbeatManager(manager) private readonly receivers: HeartbeatManager,
      private readonly factory: HeartbeatTargetFactory,
      @Inject(TALLY) private readonly tally: Tally,
    ) {}

    /** Watches every receiver; resolves with what carries the heartbeats, for the report. */
    watch(targets: TargetAddress[]): string {
      let client = '';
      targets.forEach((address, index) => {
        this.indexOf.set(address.id, index);
        const target = this.targetFor(address);
        client ||= `${target.constructor.name} (${config.transport})`;
        this.receivers.monitorTarget(address.id, target);
      });
      return client;
    }

    @OnHeartbeatPayload(manager)
    onHeartbeat(id: string): void {
      this.tally.heartbeat(this.indexOf.get(id) ?? -1);
    }

    private targetFor({ id, host, port }: TargetAddress): HeartbeatTarget {
      const remoteManager = config.receiverManager;
      switch (config.transport) {
        case 'tcp':
          return this.factory.createTcpTarget({ host, port, remoteManager });
        case 'tcp-client-proxy':
          // The process ends with the run: the app's own clients need no closing here.
          return this.factory.fromClient(new ClientTCP({ host, port }), remoteManager, {
            recipient: `${host}:${port}`,
          });
        default:
          return this.factory.createBrokerTarget({
            client: this.broker!,
            recipientId: id,
            remoteManager,
          });
      }
    }
  }

  @Module({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: config.senderId,
        managers: { [manager]: 'sender' },
        interval: config.interval,
        timeout: config.timeout,
        requestTimeout: config.requestTimeout,
        rpcFailureThreshold: config.rpcFailureThreshold,
      }),
    ],
    providers: [Sender],
  })
  class SenderModule {}
  return { SenderModule, Sender };
}

/** Starts the sender; resolves with `watch(targets)`. */
export async function startSender(
  config: TransportPeerConfig,
  tally: Tally,
): Promise<(targets: TargetAddress[]) => string> {
  const { SenderModule, Sender } = senderModule(config);
  const app = await NestFactory.createApplicationContext(
    { module: SenderModule, providers: [{ provide: TALLY, useValue: tally }] },
    { logger: ['error', 'warn'] },
  );
  app
    .get(HeartbeatRegistry)
    .changes()
    .subscribe((event) => event.type === 'rpc-failed' && tally.error());
  const sender = app.get(Sender);
  return (targets) => sender.watch(targets);
}

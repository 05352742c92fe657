/**
 * A child process of the soak test (src/soak/soak.ts): hosts SOAK_TARGETS heartbeat receivers,
 * each a Nest TCP microservice of its own on 127.0.0.1 with a HeartbeatModule receiver manager
 * `monitor`, answering the soak's monitor in the replies to its requests. It reports their ids and ports
 * (`HostReady`) over the IPC channel, and exits when that channel
 * closes (its parent is gone), so that it never outlives the soak.
 */
import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { getHeartbeatManagerToken, HeartbeatModule, type HeartbeatManager } from 'nestjs-heartbeat';
import { MONITOR_ID, TARGET_MANAGER, type HostedTarget, type HostReady } from './soak-protocol.js';

function numberFromEnv(name: string): number {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${String(process.env[name])}`);
  }
  return value;
}

async function startTarget(id: string, interval: number) {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    HeartbeatModule.forRoot({
      resourceId: id,
      managers: { [TARGET_MANAGER]: 'receiver' },
      interval,
      // The receivers only answer; they never need to declare the monitor lost.
      timeout: 3_600_000,
    }),
    {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: 0 },
      logger: ['error'],
    },
  );
  await app.listen();
  const manager = app.get<HeartbeatManager>(getHeartbeatManagerToken(TARGET_MANAGER));
  // Answered in the replies: the receiver needs no connection of its own to the monitor.
  manager.monitorTarget(MONITOR_ID);
  const { port } = app.unwrap<Server>().address() as AddressInfo;
  return { app, target: { id, port } };
}

async function main(): Promise<void> {
  const host = numberFromEnv('SOAK_HOST');
  const count = numberFromEnv('SOAK_TARGETS');
  const interval = numberFromEnv('SOAK_INTERVAL_MS');
  const apps: INestMicroservice[] = [];
  const targets: HostedTarget[] = [];
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => {
    void Promise.allSettled(apps.map((app) => app.close())).then(() => process.exit(0));
  });
  for (let index = 1; index <= count; index++) {
    const started = await startTarget(`target-${host}-${index}`, interval);
    apps.push(started.app);
    targets.push(started.target);
  }
  process.send?.({ type: 'ready', targets } satisfies HostReady);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// Copied by the consumer test into each fixture's src/ beside the quick start. A heartbeat endpoint
// with createCheckedJsonSocket must close the connection of a peer whose frame is over its limit,
// without answering it; a Nest too old for frame limits would answer instead. Exit code 0: enforced.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { createConnection, type AddressInfo, type Server } from 'node:net';
import { createCheckedJsonSocket, HeartbeatModule } from 'nestjs-heartbeat';

const LIMIT = 1_024;

@Module({
  imports: [HeartbeatModule.forRoot({ resourceId: 'endpoint', managers: { peers: 'receiver' } })],
})
class EndpointModule {}

/** Sends one well-formed heartbeat request padded past the limit; resolves with what came back. */
function sendOversizedFrame(port: number): Promise<{ closed: boolean; reply: string }> {
  const message = JSON.stringify({
    pattern: 'heartbeat.request',
    data: { manager: 'peers', origin: 'stranger', payload: 'x'.repeat(2 * LIMIT) },
    id: 'oversized-1',
  });
  return new Promise((resolve) => {
    let reply = '';
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.write(`${message.length}#${message}`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', () => undefined);
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, reply });
    }, 5_000);
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve({ closed: true, reply });
    });
  });
}

async function main(): Promise<void> {
  const app = await NestFactory.createMicroservice(EndpointModule, {
    transport: Transport.TCP,
    options: {
      host: '127.0.0.1',
      port: 0,
      socketClass: createCheckedJsonSocket({ limits: { maxBufferSize: LIMIT } }),
    },
    logger: ['error', 'warn'],
  });
  await app.listen();
  try {
    const port = (app.unwrap<Server>().address() as AddressInfo).port;
    const { closed, reply } = await sendOversizedFrame(port);
    console.log(`frame limit: closed=${closed} reply=${JSON.stringify(reply)}`);
    if (!closed || reply !== '') {
      process.exitCode = 1;
    }
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

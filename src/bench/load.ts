/**
 * A load process: simulates `count` heartbeat targets with plain sockets, each behind its own
 * listening port. It answers a request as a library receiver does, with the accepting reply on
 * the request's connection and a separate answer RPC (`heartbeat.receive`) to the monitoring
 * process, carried by a small pool of connections (one per target would exceed the monitoring
 * process's file limit at 10,000 targets).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { MeasurementWindow } from './process-metrics.js';
import { encodeFrame, FrameReader } from '../support/nest-tcp-frames.js';
import {
  ANSWER_PATTERNS,
  MONITOR_MANAGER,
  onCommand,
  report,
  TARGET_PAYLOAD,
  type KillMode,
  type LoadConfig,
  type TargetAddress,
} from './protocol.js';

interface SimulatedTarget {
  readonly id: string;
  port: number;
  readonly server: Server;
  readonly sockets: Set<Socket>;
  hung: boolean;
}

interface RequestFrame {
  readonly id?: unknown;
  readonly pattern?: unknown;
}

const ACCEPTED = { accepted: true };
const config = JSON.parse(process.argv[2]) as LoadConfig;
const window = new MeasurementWindow();
const answerPool: Socket[] = [];
let nextAnswerConnection = 0;
let answersSent = 0;
let errors = 0;

function bind(server: Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port, backlog: 64 }, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : port);
    });
  });
}

async function listen(index: number): Promise<SimulatedTarget> {
  const target: SimulatedTarget = {
    id: `target-${index}`,
    port: 0,
    server: createServer((socket) => serve(target, socket)),
    sockets: new Set(),
    hung: false,
  };
  // A fixed port below the ephemeral range spares the ports the monitor's own connections need;
  // any free port if it is taken.
  target.port = await bind(target.server, config.basePort + index - config.firstIndex).catch(() =>
    bind(target.server, 0),
  );
  return target;
}

const addressOf = (target: SimulatedTarget): TargetAddress => ({
  id: target.id,
  host: config.host,
  port: target.port,
});

function serve(target: SimulatedTarget, socket: Socket): void {
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  target.sockets.add(socket);
  const reader = new FrameReader();
  socket.on('data', (chunk: string) => {
    if (target.hung) {
      return; // a hung process: the connection stays open, nothing is answered
    }
    for (const frame of reader.push(chunk) as RequestFrame[]) {
      answer(target, socket, frame);
    }
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => target.sockets.delete(socket));
}

function answer(target: SimulatedTarget, socket: Socket, frame: RequestFrame): void {
  socket.write(encodeFrame({ id: frame.id, response: ACCEPTED, isDisposed: true }));
  const answerPattern = typeof frame.pattern === 'string' ? ANSWER_PATTERNS[frame.pattern] : null;
  if (!answerPattern || answerPool.length === 0) {
    return;
  }
  const connection = answerPool[nextAnswerConnection];
  nextAnswerConnection = (nextAnswerConnection + 1) % answerPool.length;
  answersSent += 1;
  connection.write(
    encodeFrame({
      pattern: answerPattern,
      data: { manager: MONITOR_MANAGER, origin: target.id, payload: TARGET_PAYLOAD },
      id: `${target.id}:${answersSent}`,
    }),
  );
}

function connectAnswerPool(): Promise<void[]> {
  const connections = config.monitorPort > 0 ? config.replyConnections : 0;
  return Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = createConnection({ host: '127.0.0.1', port: config.monitorPort }, () => {
            answerPool.push(socket);
            resolve();
          });
          socket.setNoDelay(true);
          socket.setEncoding('utf8');
          // Before the connection: fails the start; after: the monitor went away, as at the end.
          socket.on('error', reject);
          const reader = new FrameReader();
          socket.on('data', (chunk: string) => {
            for (const reply of reader.push(chunk)) {
              if ((reply as { err?: unknown }).err !== undefined) {
                errors += 1;
              }
            }
          });
        }),
    ),
  );
}

function kill(target: SimulatedTarget, mode: KillMode): void {
  if (mode === 'hang') {
    target.hung = true;
  } else {
    target.server.close();
    for (const socket of target.sockets) {
      socket.destroy();
    }
  }
  report({ type: 'killed', id: target.id, mode, at: Date.now() });
}

const targets = new Map<string, SimulatedTarget>();
for (const target of await Promise.all(
  Array.from({ length: config.count }, (_, offset) => listen(config.firstIndex + offset)),
)) {
  targets.set(target.id, target);
}
await connectAnswerPool();
report({ type: 'listening', targets: [...targets.values()].map(addressOf) });

onCommand((command) => {
  switch (command.type) {
    case 'measure-start':
      window.start();
      errors = 0;
      break;
    case 'measure-stop':
      report({ type: 'metrics', metrics: window.stop(), rounds: 0, errors });
      break;
    case 'kill': {
      const target = targets.get(command.id);
      if (target) {
        kill(target, command.mode);
      }
      break;
    }
    default:
      break;
  }
});

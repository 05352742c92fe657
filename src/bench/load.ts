/**
 * A load process: simulates `count` heartbeat targets with plain sockets, each behind its own
 * listening port. It answers a request as the library's receiver does: one reply on the request's
 * connection, carrying the target's heartbeat (its id and `TARGET_PAYLOAD`). With `delay`, each
 * target is reached through a fault proxy of its own that delays every chunk both ways (a refusing
 * target's proxy still accepts connections, and resets them: only hung targets keep their meaning).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { FaultProxy } from '../support/fault-proxy.js';
import { MeasurementWindow } from './process-metrics.js';
import { encodeFrame, FrameReader } from '../support/nest-tcp-frames.js';
import {
  onCommand,
  report,
  REQUEST_PATTERN,
  TARGET_MANAGER,
  TARGET_PAYLOAD,
  type HeartbeatResponse,
  type KillMode,
  type LoadConfig,
  type TargetAddress,
} from './protocol.js';

interface SimulatedTarget {
  readonly id: string;
  readonly response: HeartbeatResponse;
  port: number;
  readonly server: Server;
  readonly sockets: Set<Socket>;
  hung: boolean;
  /** The delaying proxy in front of it, if the load has a `delay`. */
  proxy?: FaultProxy;
}

interface RequestFrame {
  readonly id?: unknown;
  readonly pattern?: unknown;
  readonly data?: { readonly manager?: unknown };
}

const config = JSON.parse(process.argv[2]) as LoadConfig;
const window = new MeasurementWindow();
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
  const id = `target-${index}`;
  const target: SimulatedTarget = {
    id,
    response: { accepted: true, heartbeat: { origin: id, payload: TARGET_PAYLOAD } },
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
  if (config.delay) {
    // Seeded by the target's index, as the failure tests seed theirs: each target draws its own.
    target.proxy = await FaultProxy.start(
      { host: config.host, port: target.port },
      { seed: index + 1 },
    );
    target.proxy.delay(config.delay);
  }
  return target;
}

const addressOf = (target: SimulatedTarget): TargetAddress =>
  target.proxy
    ? { id: target.id, host: '127.0.0.1', port: target.proxy.port }
    : { id: target.id, host: config.host, port: target.port };

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
      socket.write(reply(target, frame));
    }
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => target.sockets.delete(socket));
}

/** The receiver's reply: the heartbeat for a request to our manager, an error reply otherwise. */
function reply(target: SimulatedTarget, frame: RequestFrame): string {
  if (frame.pattern !== REQUEST_PATTERN || frame.data?.manager !== TARGET_MANAGER) {
    errors += 1;
    return encodeFrame({ id: frame.id, err: 'unexpected request', isDisposed: true });
  }
  return encodeFrame({ id: frame.id, response: target.response, isDisposed: true });
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
report({ type: 'listening', targets: [...targets.values()].map(addressOf) });

onCommand((command) => {
  switch (command.type) {
    case 'measure-start':
      window.start();
      errors = 0;
      break;
    case 'measure-stop':
      report({ type: 'metrics', metrics: window.stop(), rounds: 0, perSecond: 0, errors });
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

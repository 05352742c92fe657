/**
 * The raw floor, the transport's physical limit on this machine: one bare `net` socket per
 * target writes the library's request frame on the library's schedule and reads the reply frame
 * with a minimal parser.
 */
import { createConnection, type Socket } from 'node:net';
import { FrameReader } from '../support/nest-tcp-frames.js';
import { everyInterval } from './schedule.js';
import {
  MONITOR_ID,
  REQUEST_PATTERN,
  TARGET_MANAGER,
  type HeartbeatResponse,
  type MonitorConfig,
  type TargetAddress,
} from './protocol.js';
import type { Tally } from './tally.js';

/** The request's JSON up to its id, made once: `{"pattern":…,"data":{…},"id":"`. */
const HEAD = `${JSON.stringify({
  pattern: REQUEST_PATTERN,
  data: { manager: TARGET_MANAGER, origin: MONITOR_ID, payload: null },
}).slice(0, -1)},"id":"`;

class RawLink {
  private socket: Socket | null = null;
  private sent = 0;

  constructor(
    private readonly address: TargetAddress,
    private readonly onReply: (reply: { response?: HeartbeatResponse }) => void,
    private readonly onError: () => void,
  ) {}

  request(): void {
    this.sent = (this.sent + 1) % 1e9;
    const json = `${HEAD}${this.sent}"}`;
    (this.socket ?? this.connect()).write(`${json.length}#${json}`);
  }

  /** Connects lazily, and again at the next request after the connection is lost. */
  private connect(): Socket {
    const socket = createConnection({ host: this.address.host, port: this.address.port });
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    const reader = new FrameReader();
    socket.on('data', (chunk: string) => {
      for (const reply of reader.push(chunk)) {
        this.onReply(reply as { response?: HeartbeatResponse });
      }
    });
    socket.on('error', this.onError);
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
      }
    });
    this.socket = socket;
    return socket;
  }
}

export function startRawMonitor(
  config: MonitorConfig,
  tally: Tally,
): (targets: TargetAddress[]) => Promise<string> {
  const fail = () => tally.error();
  return async (targets) => {
    const links = targets.map(
      (address, index) =>
        new RawLink(
          address,
          (reply) => (reply.response?.heartbeat ? tally.heartbeat(index) : fail()),
          fail,
        ),
    );
    everyInterval(links.length, config.interval, (index) => links[index].request());
    return 'raw (net.Socket)';
  };
}

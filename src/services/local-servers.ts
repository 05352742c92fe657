/**
 * Real servers on loopback, for the tests, the benchmark and the demo: an etcd cluster, a NATS
 * server, a Redis server. Each runs from Debian's package (installed by `ensure-installed.sh` when
 * missing), on free loopback ports, with its data in a temporary directory of its own; `stop()`
 * ends the processes this module started (and only those) and deletes the directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export type InstalledServer = 'chromium' | 'etcd' | 'nats' | 'redis';

/** The script beside this file's source: found from the source (tests) and from dist/ (the demo). */
function ensureInstalledScript(): string {
  const script = join('src', 'services', 'ensure-installed.sh');
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, script))) {
      return join(dir, script);
    }
    if (dirname(dir) === dir) {
      throw new Error(`${script} not found above ${fileURLToPath(import.meta.url)}`);
    }
  }
}
/** Bound for an install (apt-get update and the packages); what is installed takes no time. */
export const INSTALL_TIMEOUT_MS = 600_000;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Installs what is missing of `names` with the project's script (apt-get). */
export async function ensureInstalled(...names: InstalledServer[]): Promise<void> {
  const script = ensureInstalledScript();
  try {
    await promisify(execFile)(script, names, { timeout: INSTALL_TIMEOUT_MS });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`${script} ${names.join(' ')} failed: ${stderr || String(error)}`, {
      cause: error,
    });
  }
}

/** A free TCP port on 127.0.0.1 (free when asked: the server started on it binds it soon after). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One server process this module started, with what it wrote (for the error when it fails). */
export class ServerProcess {
  private output = '';
  private exited: Promise<void>;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private child: ChildProcess = ServerProcess.spawn(command, args),
  ) {
    this.exited = this.watch();
  }

  private static spawn(command: string, args: readonly string[]): ChildProcess {
    return spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines it wrote. */
  tail(lines = 15): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** Sends `signal` (SIGKILL: gone at once; SIGSTOP / SIGCONT: frozen and thawed). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) {
      this.child.kill(signal);
    }
  }

  /** Ends it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
  async stop(): Promise<void> {
    if (!this.running) {
      return;
    }
    this.child.kill('SIGCONT'); // a frozen process cannot act on SIGTERM
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(killer);
  }

  /** Starts it again with the same command line (after `stop()` or a kill). */
  async restart(): Promise<void> {
    await this.stop();
    this.child = ServerProcess.spawn(this.command, this.args);
    this.output = '';
    this.exited = this.watch();
  }

  private watch(): Promise<void> {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

/** Waits until `ready()` holds, failing with the server's last lines if it exits or takes too long. */
async function waitUntilReady(
  server: ServerProcess,
  ready: () => Promise<boolean>,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.running) {
      throw new Error(`${server.name} exited at start:\n${server.tail()}`);
    }
    if (await ready().catch(() => false)) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${server.name} was not ready within ${timeoutMs} ms:\n${server.tail()}`);
}

/** Whether something accepts TCP connections at 127.0.0.1:port. */
async function acceptsAndCloses(port: number): Promise<boolean> {
  const socket = new Socket();
  try {
    return await new Promise<boolean>((resolve) => {
      socket.setTimeout(1_000);
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
  } finally {
    socket.destroy();
  }
}
/** A single-process server (NATS, Redis) on a loopback port. */
export interface LocalServer {
  readonly port: number;
  /** Its URL, as its Nest transport takes it (`nats://…`, `redis://…`). */
  readonly url: string;
  readonly process: ServerProcess;
  /** Starts it again on the same port (after a kill, say), ready once it accepts connections. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startSingle(
  name: string,
  scheme: string,
  command: string,
  argsFor: (port: number, dir: string) => string[],
): Promise<LocalServer> {
  const port = await freeLoopbackPort();
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const server = new ServerProcess(name, command, argsFor(port, dir));
  const stop = async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const restart = async () => {
    await server.restart();
    await waitUntilReady(server, () => acceptsAndCloses(port));
  };
  try {
    await waitUntilReady(server, () => acceptsAndCloses(port));
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, url: `${scheme}://127.0.0.1:${port}`, process: server, restart, stop };
}

/** Debian's nats-server on a free loopback port. */
export async function startNats(): Promise<LocalServer> {
  await ensureInstalled('nats');
  return startSingle('nats-server', 'nats', '/usr/sbin/nats-server', (port) => [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
  ]);
}

/** Debian's redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<LocalServer> {
  await ensureInstalled('redis');
  return startSingle('redis-server', 'redis', '/usr/bin/redis-server', (port, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dir,
  ]);
}

/** One member of a local etcd cluster. */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:<client port>` */
  readonly clientUrl: string;
  readonly process: ServerProcess;
}

/** An etcd cluster on loopback: its members, their client URLs, and its teardown. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL, comma-separated, as `HA_ETCD_ENDPOINTS` takes them. */
  readonly endpoints: string;
  /** Waits until every running member answers `/health` as healthy. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function healthy(clientUrl: string): Promise<boolean> {
  const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
  const body = (await response.json()) as { health?: string };
  return response.ok && body.health === 'true';
}

/**
 * Debian's etcd as a cluster of `size` members (3 by default) on free loopback ports, ready when
 * every member reports itself healthy (a quorum has elected etcd's own leader).
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  await ensureInstalled('etcd');
  const dir = await mkdtemp(join(tmpdir(), 'etcd-'));
  const ports = [];
  for (let i = 0; i < size; i++) {
    ports.push({ client: await freeLoopbackPort(), peer: await freeLoopbackPort() });
  }
  const names = ports.map((_, i) => `etcd-${i + 1}`);
  const initialCluster = ports
    .map(({ peer }, i) => `${names[i]}=http://127.0.0.1:${peer}`)
    .join(',');
  // Unique per cluster: members of two clusters started side by side never join each other.
  const clusterToken = `local-${ports[0].client}-${process.pid}`;
  const members = ports.map(({ client, peer }, i): EtcdMember => {
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const server = new ServerProcess(names[i], '/usr/bin/etcd', [
      `--name=${names[i]}`,
      `--data-dir=${join(dir, names[i])}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${clusterToken}`,
      // Loopback: etcd's own leader elections can be quick.
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      '--log-level=warn',
    ]);
    return { name: names[i], clientUrl, process: server };
  });
  const waitHealthy = async (timeoutMs = READY_TIMEOUT_MS) => {
    await Promise.all(
      members
        .filter((member) => member.process.running)
        .map((member) =>
          waitUntilReady(member.process, () => healthy(member.clientUrl), timeoutMs),
        ),
    );
  };
  const stop = async () => {
    await Promise.all(members.map((member) => member.process.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return { members, endpoints: members.map((m) => m.clientUrl).join(','), waitHealthy, stop };
}

/**
 * An HA cluster of the built sample apps on loopback, for the `--ha` demo and the benchmark's
 * takeover section: a 3-member etcd cluster, ResourceManagers campaigning on it, TaskManagers (and
 * JobMasters, if asked for) finding the leader there, each a child process in its own process group. It can tell who leads,
 * take the leader out with a signal and time the takeover, start a member again, and stop it all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEtcdCluster, type EtcdCluster } from '../services/local-servers.js';
import { terminate } from './terminate.js';

const APPS = fileURLToPath(new URL('../../apps/', import.meta.url));
const POLL_MS = 20;
const STOP_GRACE_MS = 3_000;

export interface LocalHaClusterOptions {
  /** Slots of each TaskManager (one TaskManager per entry). */
  readonly taskManagerSlots: readonly number[];
  /** The ports of each ResourceManager (one ResourceManager per entry). */
  readonly resourceManagerPorts: ReadonlyArray<{ readonly tcp: number; readonly http: number }>;
  /** JobMasters (none if left out): each one's id and HTTP port (its TCP port is any free one). */
  readonly jobMasters?: ReadonlyArray<{ readonly id: string; readonly http: number }>;
  /** Environment of every app: the HEARTBEAT_* variables, HA_LEASE_TTL_S, … */
  readonly env: Readonly<Record<string, string>>;
  /** Each app started (etcd's members too, by name and process id). */
  readonly onStart?: (name: string, pid: number | undefined) => void;
  /** Every line a member prints. */
  readonly onLine?: (member: Member, line: string) => void;
  readonly onExit?: (member: Member, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface Member {
  readonly name: string;
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
  /** A ResourceManager's or a JobMaster's HTTP port. */
  readonly httpPort?: number;
  process?: ChildProcess;
}

/** What a ResourceManager's `/overview` says of its leadership. */
export interface LeaderView {
  readonly leader: boolean;
  readonly fencingToken: string | null;
  readonly taskmanagers: number;
}

export interface Takeover {
  readonly from: Member;
  readonly fromToken: string | null;
  readonly to: Member;
  readonly toToken: string | null;
  /** From the signal to the new leader listing every TaskManager. */
  readonly ms: number;
}

export class LocalHaCluster {
  private stopped = false;

  private constructor(
    readonly etcd: EtcdCluster,
    readonly resourceManagers: readonly Member[],
    readonly taskManagers: readonly Member[],
    readonly jobMasters: readonly Member[],
    private readonly options: LocalHaClusterOptions,
  ) {}

  /** Starts etcd (installing it if missing), then every app. */
  static async start(options: LocalHaClusterOptions): Promise<LocalHaCluster> {
    const etcd = await startEtcdCluster(3);
    for (const member of etcd.members) {
      options.onStart?.(member.name, member.process.pid);
    }
    const haEnv = {
      ...options.env,
      HA_MODE: 'etcd',
      HA_ETCD_ENDPOINTS: etcd.endpoints,
      HA_CLUSTER_ID: options.env.HA_CLUSTER_ID ?? 'local',
    };
    const resourceManagers = options.resourceManagerPorts.map(({ tcp, http }, i) => ({
      name: `resource-manager-${i + 1}`,
      script: 'resource-manager/src/main.js',
      httpPort: http,
      env: { ...haEnv, RM_HOST: '127.0.0.1', RM_TCP_PORT: String(tcp), RM_HTTP_PORT: String(http) },
    }));
    const taskManagers = options.taskManagerSlots.map((slots, i) => ({
      name: `taskmanager-${i + 1}`,
      script: 'task-manager/src/main.js',
      env: { ...haEnv, TM_ID: `taskmanager-${i + 1}`, TM_SLOTS: String(slots) },
    }));
    const jobMasters = (options.jobMasters ?? []).map(({ id, http }) => ({
      name: id,
      script: 'job-master/src/main.js',
      httpPort: http,
      env: { ...haEnv, JM_ID: id, JM_HOST: '127.0.0.1', JM_HTTP_PORT: String(http) },
    }));
    const cluster = new LocalHaCluster(etcd, resourceManagers, taskManagers, jobMasters, options);
    // Last resort, should the caller fail: detached children must not outlive it.
    process.once('exit', () => cluster.killAll());
    [...resourceManagers, ...taskManagers, ...jobMasters].forEach((member) =>
      cluster.startMember(member),
    );
    return cluster;
  }

  /** Starts a member (again). */
  startMember(member: Member): void {
    const child = spawn(process.execPath, [APPS + member.script], {
      env: { ...process.env, ...member.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // a terminal's Ctrl-C reaches only the caller, which stops them in order
    });
    member.process = child;
    this.options.onStart?.(member.name, child.pid);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.options.onLine?.(member, line));
    }
    child.on('close', (code, signal) => {
      if (!this.stopped) {
        this.options.onExit?.(member, code, signal);
      }
    });
  }

  /** What `member`'s `/overview` says, or null if it does not answer. */
  async viewOf(member: Member): Promise<LeaderView | null> {
    try {
      const response = await fetch(`http://127.0.0.1:${member.httpPort}/overview`, {
        signal: AbortSignal.timeout(1_000),
      });
      return (await response.json()) as LeaderView;
    } catch {
      return null;
    }
  }

  /** The ResourceManager that leads with every TaskManager registered, if one does now. */
  async leader(): Promise<{ member: Member; view: LeaderView } | null> {
    for (const member of this.resourceManagers) {
      const view = await this.viewOf(member);
      if (view?.leader && view.taskmanagers === this.taskManagers.length) {
        return { member, view };
      }
    }
    return null;
  }

  /** Waits (at most `timeoutMs`) until one ResourceManager leads every TaskManager. */
  async waitForLeader(timeoutMs: number): Promise<{ member: Member; view: LeaderView } | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stopped && Date.now() < deadline) {
      const found = await this.leader();
      if (found) {
        return found;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return null;
  }

  /**
   * Sends the leader `signal` and times the takeover: until another ResourceManager leads every
   * TaskManager (at most `timeoutMs`). Null when there is no leader to take out, or no takeover.
   */
  async takeOver(signal: NodeJS.Signals, timeoutMs: number): Promise<Takeover | null> {
    const before = await this.leader();
    if (!before) {
      return null;
    }
    const from = Date.now();
    before.member.process?.kill(signal);
    while (!this.stopped && Date.now() - from < timeoutMs) {
      const after = await this.leader();
      if (after && after.member !== before.member) {
        return {
          from: before.member,
          fromToken: before.view.fencingToken,
          to: after.member,
          toToken: after.view.fencingToken,
          ms: Date.now() - from,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return null;
  }

  /** Waits until `member` has exited (it was signalled). */
  async exited(member: Member): Promise<void> {
    const child = member.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }

  /**
   * Stops the JobMasters, the TaskManagers (their goodbyes reach the leader), the ResourceManagers,
   * then etcd.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.jobMasters.map((member) => terminate(member.process, STOP_GRACE_MS)));
    await Promise.all(this.taskManagers.map((member) => terminate(member.process, STOP_GRACE_MS)));
    await Promise.all(
      this.resourceManagers.map((member) => terminate(member.process, STOP_GRACE_MS)),
    );
    await this.etcd.stop();
  }

  private killAll(): void {
    for (const member of [...this.resourceManagers, ...this.taskManagers, ...this.jobMasters]) {
      const child = member.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
    for (const member of this.etcd.members) {
      member.process.signal('SIGKILL');
    }
  }
}

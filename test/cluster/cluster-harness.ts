/**
 * Runs the BUILT sample apps (dist/apps/.../main.js, made by `npm run build`, which `pretest` runs)
 * as real OS processes on 127.0.0.1, for the multi-process end-to-end tests in this folder.
 *
 * Every child is tracked by the `Cluster` that started it; `cluster.killAll()` (wired to
 * afterEach/afterAll by the specs) SIGKILLs whatever is still alive, so no process is left behind
 * even when a test fails or times out. Every wait here is bounded.
 *
 * CLUSTER_E2E_DIST may point at another build output directory (one holding
 * apps/resource-manager/src/main.js, apps/task-manager/src/main.js and apps/job-master/src/main.js);
 * the default is <repo>/dist.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const HOST = '127.0.0.1';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_DIR = process.env.CLUSTER_E2E_DIST
  ? resolve(process.env.CLUSTER_E2E_DIST)
  : join(repoRoot, 'dist');
export const RESOURCE_MANAGER_MAIN = join(DIST_DIR, 'apps/resource-manager/src/main.js');
export const TASK_MANAGER_MAIN = join(DIST_DIR, 'apps/task-manager/src/main.js');
export const JOB_MASTER_MAIN = join(DIST_DIR, 'apps/job-master/src/main.js');

/** Jest timeout for one test (or one beforeAll) of this suite. */
export const TEST_TIMEOUT_MS = 30_000;

export const sleep = (ms: number) =>
  new Promise<void>((resolvePromise) => setTimeout(resolvePromise, Math.max(0, ms)));

/** `promise`'s value, or `null` if it has not settled within `ms` (the timer is cleared either way). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<null>((resolvePromise) => (timer = setTimeout(() => resolvePromise(null), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** With CLUSTER_E2E_TIMINGS=1, prints a measured duration (to see how close to its budget it runs). */
export function noteTiming(what: string, ms: number, budgetMs: number): void {
  if (process.env.CLUSTER_E2E_TIMINGS === '1') {
    process.stderr.write(`[cluster-e2e] ${what}: ${ms} ms (budget ${budgetMs} ms)\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Bounded waiting

export interface WaitOptions {
  /** Deadline in ms; the wait fails once it has passed (default 10 s). */
  readonly timeoutMs?: number;
  /** Poll period in ms (default 50). */
  readonly intervalMs?: number;
  /** What is awaited, for the failure message. */
  readonly description?: string;
}

/**
 * Polls `condition` until it returns something other than `undefined`, `null` or `false`, and
 * returns that value. A condition that throws counts as "not yet" (e.g. a server still starting);
 * the last error and the last value are in the failure message once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, intervalMs = 50, description = 'a condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) {
        return value;
      }
      last = value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail =
        lastError !== undefined
          ? `last error: ${String((lastError as Error)?.message ?? lastError)}`
          : `last value: ${JSON.stringify(last)}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description} (${detail})`);
    }
    await sleep(Math.min(intervalMs, deadline - Date.now()));
  }
}

/** Waits until `process` has printed a line matching `pattern`; returns the match. Fails early if it exits. */
export function waitForLine(
  process: AppProcess,
  pattern: RegExp,
  options: Omit<WaitOptions, 'description'> & { readonly description?: string } = {},
): Promise<RegExpMatchArray> {
  const description = options.description ?? `${process.name} to print ${String(pattern)}`;
  return waitFor(
    () => {
      const match = process.findLine(pattern);
      if (match) {
        return match;
      }
      if (process.exit) {
        throw new Error(
          `${process.name} exited (${describeExit(process.exit)}) without printing ${String(pattern)}; ` +
            `its output:\n${process.tail()}`,
        );
      }
      return undefined;
    },
    { intervalMs: 20, ...options, description },
  ).catch((error: unknown) => {
    throw new Error(
      `${(error as Error).message}\n--- ${process.name} output ---\n${process.tail()}`,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Ports and HTTP

/**
 * Ports handed out by `freePort` lie below Linux's ephemeral range (32768 and up), where the
 * kernel picks the local ports of outgoing connections and of servers bound to port 0: a port
 * from there could be taken by one of those before the app that was given it binds it (seen when
 * a ResourceManager restarted in place). The bench's load processes listen from 20000 up.
 */
const FIXED_PORTS = { from: 10_000, to: 19_999 } as const;

/** Whether nothing listens on `port` of 127.0.0.1: bound, then released. */
async function bindable(port: number): Promise<number | null> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolvePromise) => {
    server.once('error', () => resolvePromise(false));
    server.listen(port, HOST, () => resolvePromise(true));
  });
  if (!bound) {
    return null;
  }
  const { port: chosen } = server.address() as AddressInfo;
  await new Promise<void>((resolvePromise, reject) =>
    server.close((error) => (error ? reject(error) : resolvePromise())),
  );
  return chosen;
}

/** A loopback port where nothing listens, outside the ephemeral range (see `FIXED_PORTS`). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const candidate =
      FIXED_PORTS.from + Math.floor(Math.random() * (FIXED_PORTS.to - FIXED_PORTS.from + 1));
    const port = await bindable(candidate);
    if (port !== null) {
      return port;
    }
  }
  const port = await bindable(0); // a crowded range: any free port will do
  if (port === null) {
    throw new Error('No free loopback port');
  }
  return port;
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    ports.add(await freePort());
  }
  return [...ports];
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface HttpAnswer<T> {
  readonly status: number;
  readonly body: T;
}

/** One JSON request to http://127.0.0.1:<port><path> (bounded by a 5 s timeout). */
export async function httpJson<T = unknown>(
  port: number,
  method: HttpMethod,
  path: string,
  body?: unknown,
): Promise<HttpAnswer<T>> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(5_000) };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(`http://${HOST}:${port}${path}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T };
}

// ---------------------------------------------------------------------------------------------
// The ResourceManager's HTTP API, as seen by the tests

export interface TaskManagerView {
  readonly id: string;
  readonly address: string;
  readonly slotsNumber: number;
  readonly freeSlots: number;
  readonly lastHeartbeat: number;
  readonly timeSinceLastHeartbeat: number;
}

export interface SlotView {
  readonly index: number;
  readonly free: boolean;
  readonly allocationId: string | null;
  readonly jobId: string | null;
}

export interface TaskManagerDetails extends TaskManagerView {
  readonly slots: SlotView[];
}

export interface Overview {
  readonly taskmanagers: number;
  readonly slotsTotal: number;
  readonly slotsAvailable: number;
  /** Whether this ResourceManager leads (always, without HA). */
  readonly leader: boolean;
  /** Epoch ms when it began to lead; null on a standby. */
  readonly leaderSince: number | null;
  /** Its leadership's fencing token; null on a standby. */
  readonly fencingToken: string | null;
}

/** One JobMaster, as the ResourceManager's `GET /jobmasters` lists it. */
export interface JobMasterView {
  readonly id: string;
  readonly address: string;
  readonly jobs: string[];
  readonly lastHeartbeat: number;
  readonly timeSinceLastHeartbeat: number;
}

/** One slot of a job, as the JobMaster's `/jobs` API shows it. */
export interface JobSlot {
  readonly taskManagerId: string;
  readonly slotIndex: number;
  readonly allocationId: string;
}

/** A job as the JobMaster's `GET /jobs/:jobId` shows it. */
export interface JobView {
  readonly jobId: string;
  readonly state: string;
  readonly slots: JobSlot[];
}

export interface Allocation {
  readonly taskManagerId: string;
  readonly slotIndex: number;
  readonly allocationId: string;
  readonly jobId: string;
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface HeartbeatSettings {
  readonly interval: number;
  readonly timeout: number;
  readonly rpcFailureThreshold: number;
}

/** Short heartbeats so that failures are detected in well under a second or two. */
export const FAST_HEARTBEATS: HeartbeatSettings = {
  interval: 200,
  timeout: 1_500,
  rpcFailureThreshold: 2,
};

export function heartbeatEnv({
  interval,
  timeout,
  rpcFailureThreshold,
}: HeartbeatSettings): Record<string, string> {
  return {
    HEARTBEAT_INTERVAL_MS: String(interval),
    HEARTBEAT_TIMEOUT_MS: String(timeout),
    HEARTBEAT_RPC_FAILURE_THRESHOLD: String(rpcFailureThreshold),
  };
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `signal ${signal}` : `code ${String(code)}`;
}

/** Variables the apps read: never inherited from the shell running the tests. */
const APP_VARIABLE = /^(RM_|TM_|JM_|HEARTBEAT_|TLS_|HA_)/;

/** One child process running a built app, with every line it printed (stdout and stderr). */
export class AppProcess {
  /** Every line printed so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  /** Set once the process has exited. */
  exit: ExitStatus | null = null;
  readonly exited: Promise<ExitStatus>;
  readonly startedAt = Date.now();
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
  ) {
    if (!existsSync(script)) {
      throw new Error(`${script} does not exist: run \`npm run build\` first`);
    }
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !APP_VARIABLE.test(key)),
    );
    this.child = spawn(process.execPath, [script], {
      env: { ...inherited, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Both streams must be fully read before the exit is reported, so that no late line is lost.
    const streamsDone = [this.child.stdout, this.child.stderr].map((stream) => {
      const reader = createInterface({ input: stream, crlfDelay: Infinity });
      reader.on('line', (line) => this.lines.push(line));
      return new Promise<void>((resolvePromise) => reader.once('close', () => resolvePromise()));
    });
    this.exited = new Promise<ExitStatus>((resolvePromise) => {
      this.child.once('exit', (code, signal) => {
        // A stream held open by a grandchild would block forever: cap the wait.
        void within(Promise.all(streamsDone), 2_000).then(() => {
          this.exit = { code, signal };
          resolvePromise(this.exit);
        });
      });
      this.child.once('error', (error) => {
        this.lines.push(`[harness] spawn error: ${error.message}`);
        this.exit = { code: null, signal: null };
        resolvePromise(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line matching `pattern`, or undefined. */
  findLine(pattern: RegExp): RegExpMatchArray | undefined {
    for (const line of this.lines) {
      const match = line.match(pattern);
      if (match) {
        return match;
      }
    }
    return undefined;
  }

  /** Every line matching `pattern`. */
  linesMatching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }

  /** The last `count` lines, for failure messages. */
  tail(count = 40): string {
    return this.lines.slice(-count).join('\n');
  }

  /** Sends `signal` without waiting (SIGSTOP / SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) {
      this.child.kill(signal);
    }
  }

  /** Sends `signal` and waits (bounded) for the process to exit; SIGKILLs it if it will not. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.exit) {
      return this.exit;
    }
    this.child.kill(signal);
    const status = await within(this.exited, timeoutMs);
    if (status) {
      return status;
    }
    this.child.kill('SIGKILL');
    await within(this.exited, 5_000);
    throw new Error(
      `${this.name} did not exit within ${timeoutMs} ms of ${signal}; SIGKILLed. Output:\n${this.tail()}`,
    );
  }

  /** Waits (bounded) for the process to exit by itself. */
  async waitForExit(timeoutMs = 10_000): Promise<ExitStatus> {
    const status = await within(this.exited, timeoutMs);
    if (!status) {
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms. Output:\n${this.tail()}`);
    }
    return status;
  }
}

export class ResourceManagerProcess extends AppProcess {
  constructor(
    name: string,
    readonly tcpPort: number,
    readonly httpPort: number,
    env: Record<string, string>,
  ) {
    super(name, RESOURCE_MANAGER_MAIN, env);
  }

  /**
   * Waits for "ResourceManager <id> ready" and returns the fencing token it printed; remembers the
   * id for `resourceManagerIdOf`.
   */
  async ready(timeoutMs = 15_000): Promise<string> {
    const [, id, token] = await waitForLine(
      this,
      /ResourceManager (\S+) ready: .*fencing token (\S+),/,
      { timeoutMs },
    );
    resourceManagerIds.set(token, id);
    return token;
  }

  /** With HA: waits for its ready line (it campaigns from there) and returns its heartbeat id. */
  async readyToCampaign(timeoutMs = 15_000): Promise<string> {
    const [, id] = await waitForLine(
      this,
      /ResourceManager (\S+) ready: .*high availability on etcd,/,
      { timeoutMs },
    );
    return id;
  }

  http<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<HttpAnswer<T>> {
    return httpJson<T>(this.httpPort, method, path, body);
  }

  /** GET a path that must answer 200, and return its body. */
  get<T>(path: string): Promise<T> {
    return getOk<T>(this.httpPort, path);
  }

  async jobMasters(): Promise<JobMasterView[]> {
    return (await this.get<{ jobmasters: JobMasterView[] }>('/jobmasters')).jobmasters;
  }

  async taskManagers(): Promise<TaskManagerView[]> {
    return (await this.get<{ taskmanagers: TaskManagerView[] }>('/taskmanagers')).taskmanagers;
  }

  async taskManager(id: string): Promise<TaskManagerDetails | undefined> {
    const { status, body } = await this.http<TaskManagerDetails>(
      'GET',
      `/taskmanagers/${encodeURIComponent(id)}`,
    );
    if (status === 404) {
      return undefined;
    }
    if (status !== 200) {
      throw new Error(`GET /taskmanagers/${id} answered ${status}: ${JSON.stringify(body)}`);
    }
    return body;
  }

  overview(): Promise<Overview> {
    return this.get<Overview>('/overview');
  }

  /** Lines of "TaskManager <id> lost: ..." for that id. */
  lostLines(taskManagerId: string): string[] {
    return this.linesMatching(new RegExp(`TaskManager ${escapeRegExp(taskManagerId)} lost: `));
  }
}

export class TaskManagerProcess extends AppProcess {
  constructor(
    readonly id: string,
    readonly slots: number,
    env: Record<string, string>,
  ) {
    super(id, TASK_MANAGER_MAIN, env);
  }

  /** Lines of "TaskManager <id> registered with ResourceManager <rmId> (fencing token <token>)". */
  registrations(): Array<{ resourceManagerId: string; fencingToken: string }> {
    const pattern = new RegExp(
      `TaskManager ${escapeRegExp(this.id)} registered with ResourceManager (\\S+) \\(fencing token ([^)]+)\\)`,
    );
    return this.lines
      .map((line) => line.match(pattern))
      .filter((match): match is RegExpMatchArray => match !== null)
      .map(([, resourceManagerId, fencingToken]) => ({ resourceManagerId, fencingToken }));
  }

  /** Waits until it has registered with the ResourceManager that has `fencingToken` (any, if omitted). */
  registered(
    fencingToken?: string,
    timeoutMs = 15_000,
  ): Promise<{ resourceManagerId: string; fencingToken: string }> {
    return waitFor(
      () => {
        const found = this.registrations().find(
          (registration) =>
            fencingToken === undefined || registration.fencingToken === fencingToken,
        );
        if (!found && this.exit) {
          throw new Error(`${this.name} exited (${describeExit(this.exit)})`);
        }
        return found;
      },
      {
        timeoutMs,
        intervalMs: 20,
        description: `${this.name} to register${fencingToken ? ` (fencing token ${fencingToken})` : ''}`,
      },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- ${this.name} output ---\n${this.tail()}`);
    });
  }
}

/** GET http://127.0.0.1:<port><path>, which must answer 200; returns the body. */
async function getOk<T>(port: number, path: string): Promise<T> {
  const { status, body } = await httpJson<T>(port, 'GET', path);
  if (status !== 200) {
    throw new Error(`GET ${path} answered ${status}: ${JSON.stringify(body)}`);
  }
  return body;
}

export class JobMasterProcess extends AppProcess {
  constructor(
    readonly id: string,
    readonly httpPort: number,
    env: Record<string, string>,
  ) {
    super(id, JOB_MASTER_MAIN, env);
  }

  /** Waits for its ready line. */
  async ready(timeoutMs = 15_000): Promise<void> {
    await waitForLine(this, new RegExp(`JobMaster ${escapeRegExp(this.id)} ready`), { timeoutMs });
  }

  http<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<HttpAnswer<T>> {
    return httpJson<T>(this.httpPort, method, path, body);
  }

  submit(jobId: string, slots: number): Promise<HttpAnswer<{ jobId: string; slots: JobSlot[] }>> {
    return this.http('POST', '/jobs', { jobId, slots });
  }

  job(jobId: string): Promise<JobView> {
    return getOk<JobView>(this.httpPort, `/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Lines of "JobMaster <id> registered with ResourceManager <rmId> (fencing token <token>)". */
  registrations(): Array<{ resourceManagerId: string; fencingToken: string }> {
    const pattern = new RegExp(
      `JobMaster ${escapeRegExp(this.id)} registered with ResourceManager (\\S+) \\(fencing token ([^)]+)\\)`,
    );
    return this.lines
      .map((line) => line.match(pattern))
      .filter((match): match is RegExpMatchArray => match !== null)
      .map(([, resourceManagerId, fencingToken]) => ({ resourceManagerId, fencingToken }));
  }
}

export interface JobMasterStart {
  readonly id: string;
  /** The ResourceManager's fixed port; none with HA (the JobMaster finds the leader on etcd). */
  readonly resourceManagerTcpPort?: number;
  readonly heartbeat?: HeartbeatSettings;
  readonly env?: Record<string, string>;
}

export interface ResourceManagerStart {
  /** Ports to reuse (e.g. to restart it in place); free ones are picked otherwise. */
  readonly tcpPort?: number;
  readonly httpPort?: number;
  readonly heartbeat?: HeartbeatSettings;
  readonly env?: Record<string, string>;
  readonly name?: string;
}

export interface TaskManagerStart {
  readonly id: string;
  readonly slots: number;
  /** The ResourceManager's fixed port; none with HA (the TaskManager finds the leader on etcd). */
  readonly resourceManagerTcpPort?: number;
  readonly heartbeat?: HeartbeatSettings;
  readonly env?: Record<string, string>;
}

/** Starts the apps and owns them: `killAll()` SIGKILLs every one still alive. */
export class Cluster {
  private readonly processes: AppProcess[] = [];

  async startResourceManager(options: ResourceManagerStart = {}): Promise<ResourceManagerProcess> {
    const [tcpPort, httpPort] =
      options.tcpPort !== undefined && options.httpPort !== undefined
        ? [options.tcpPort, options.httpPort]
        : await freePorts(2);
    const rm = new ResourceManagerProcess(options.name ?? 'resource-manager', tcpPort, httpPort, {
      RM_HOST: HOST,
      RM_TCP_PORT: String(tcpPort),
      RM_HTTP_PORT: String(httpPort),
      ...heartbeatEnv(options.heartbeat ?? FAST_HEARTBEATS),
      ...options.env,
    });
    this.processes.push(rm);
    return rm;
  }

  startTaskManager(options: TaskManagerStart): TaskManagerProcess {
    const tm = new TaskManagerProcess(options.id, options.slots, {
      TM_ID: options.id,
      TM_HOST: HOST,
      TM_TCP_PORT: '0',
      TM_SLOTS: String(options.slots),
      ...(options.resourceManagerTcpPort === undefined
        ? {}
        : { RM_HOST: HOST, RM_TCP_PORT: String(options.resourceManagerTcpPort) }),
      ...heartbeatEnv(options.heartbeat ?? FAST_HEARTBEATS),
      ...options.env,
    });
    this.processes.push(tm);
    return tm;
  }

  async startJobMaster(options: JobMasterStart): Promise<JobMasterProcess> {
    const httpPort = await freePort();
    const jm = new JobMasterProcess(options.id, httpPort, {
      JM_ID: options.id,
      JM_HOST: HOST,
      JM_TCP_PORT: '0',
      JM_HTTP_PORT: String(httpPort),
      ...(options.resourceManagerTcpPort === undefined
        ? {}
        : { RM_HOST: HOST, RM_TCP_PORT: String(options.resourceManagerTcpPort) }),
      ...heartbeatEnv(options.heartbeat ?? FAST_HEARTBEATS),
      ...options.env,
    });
    this.processes.push(jm);
    return jm;
  }

  /** Starts any built app with exactly `env` (plus NO_COLOR), e.g. to check a bad configuration. */
  startRaw(name: string, script: string, env: Record<string, string>): AppProcess {
    const app = new AppProcess(name, script, env);
    this.processes.push(app);
    return app;
  }

  /** SIGKILLs every process still alive and waits for each to exit. Safe to call any time. */
  async killAll(): Promise<void> {
    const alive = this.processes.filter((app) => app.alive);
    await Promise.all(alive.map((app) => app.kill('SIGKILL', 5_000).catch(() => undefined)));
    this.processes.length = 0;
  }

  /** How many started processes are still running (for the cleanup checks). */
  aliveCount(): number {
    return this.processes.filter((app) => app.alive).length;
  }
}

/** Heartbeat ids of the ResourceManager starts seen ready, by fencing token. */
const resourceManagerIds = new Map<string, string>();

/** The ResourceManager's heartbeat id for the start with that fencing token (as its ready line said). */
export function resourceManagerIdOf(fencingToken: string): string {
  const id = resourceManagerIds.get(fencingToken);
  if (id === undefined) {
    throw new Error(`No ResourceManager with fencing token ${fencingToken} was seen ready`);
  }
  return id;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

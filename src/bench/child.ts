import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Command, Report } from './protocol.js';

type ReportOf<T extends Report['type']> = Extract<Report, { type: T }>;

/** A bench child process (load or monitor) driven over IPC; its stderr goes to ours. */
export class Child {
  private readonly pending: Report[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly listeners: ((report: Report) => void)[] = [];
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly process: ChildProcess,
  ) {
    process.on('message', (message: Report) => {
      if (this.listeners.length > 0 && (message.type === 'lost' || message.type === 'killed')) {
        this.listeners.forEach((listener) => listener(message));
        return;
      }
      this.pending.push(message);
      this.waiters.forEach((wake) => wake());
    });
    process.on('exit', () => {
      this.exited = true;
      this.waiters.forEach((wake) => wake());
    });
  }

  /** With BENCH_CPU_PROF=<dir>, children write CPU profiles there (node --cpu-prof) when stopped. */
  static start(name: string, script: URL, config: unknown): Child {
    const profileDir = process.env.BENCH_CPU_PROF;
    const child = fork(script, [JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    return new Child(name, child);
  }

  /** `lost` and `killed` reports go to `listener` as they come. */
  onEvent(listener: (report: Report) => void): void {
    this.listeners.push(listener);
  }

  send(command: Command): void {
    if (!this.exited) {
      this.process.send(command);
    }
  }

  /** The next report of `type`; fails after `timeoutMs` or if the child exits first. */
  async next<T extends Report['type']>(type: T, timeoutMs: number): Promise<ReportOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.pending.findIndex((report) => report.type === type);
      if (index >= 0) {
        return this.pending.splice(index, 1)[0] as ReportOf<T>;
      }
      if (this.exited) {
        throw new Error(`${this.name} exited before reporting "${type}"`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name} did not report "${type}" within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        const waiters = this.waiters;
        waiters.add(wake);
      });
    }
  }

  /** Sends `signal` (SIGSTOP / SIGCONT: the child hangs, and resumes). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) {
      this.process.kill(signal);
    }
  }

  /** Stops the child with SIGTERM (it exits at once, writing its profile if any), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) {
      return;
    }
    const exit = once(this.process, 'exit');
    this.process.kill('SIGCONT'); // a stopped child cannot act on SIGTERM
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  }
}

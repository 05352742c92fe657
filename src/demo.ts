/**
 * The demo behind `npm start`: a ResourceManager and three TaskManagers as separate processes on
 * loopback, with short heartbeat settings. It prints registrations and losses, a summary of the
 * ResourceManager's view every few seconds, kills one TaskManager and restarts it to show loss
 * detection and re-registration, and stops every process it started on Ctrl-C.
 *
 *   node dist/src/demo.js [--duration <seconds>]     (stops by itself after <seconds>)
 *   npm start -- --duration <seconds>                 (npm keeps options before the -- for itself)
 *   npm start -- --ha                                 (high availability: see demo-ha.ts)
 *
 * Any other argument is an error (exit code 2); see demo-args.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEMO_USAGE, DemoUsageError, parseDemoArgs, type DemoArgs } from './demo-args.js';
import { runHaDemo } from './demo-ha.js';
import { terminate } from './support/terminate.js';

const dist = fileURLToPath(new URL('../apps/', import.meta.url));
const rmTcpPort = process.env.RM_TCP_PORT ?? '6123';
const rmHttpPort = process.env.RM_HTTP_PORT ?? '8081';
const httpAddress = `http://127.0.0.1:${rmHttpPort}`;
const heartbeatEnv = {
  HEARTBEAT_INTERVAL_MS: process.env.HEARTBEAT_INTERVAL_MS ?? '1000',
  HEARTBEAT_TIMEOUT_MS: process.env.HEARTBEAT_TIMEOUT_MS ?? '5000',
  HEARTBEAT_RPC_FAILURE_THRESHOLD: process.env.HEARTBEAT_RPC_FAILURE_THRESHOLD ?? '2',
};
const SUMMARY_EVERY_MS = 5_000;
const KILL_AT_MS = 12_000;
const RESTART_AT_MS = 22_000;
const STOP_GRACE_MS = 3_000;
const UNSHOWN_KEPT = 20;

interface Member {
  readonly name: string;
  readonly script: string;
  readonly env: Record<string, string>;
  process?: ChildProcess;
}

const resourceManager: Member = {
  name: 'resource-manager',
  script: 'resource-manager/src/main.js',
  env: { RM_HOST: '127.0.0.1', RM_TCP_PORT: rmTcpPort, RM_HTTP_PORT: rmHttpPort },
};
const taskManagers: Member[] = [2, 2, 4].map((slots, i) => ({
  name: `taskmanager-${i + 1}`,
  script: 'task-manager/src/main.js',
  env: {
    TM_ID: `taskmanager-${i + 1}`,
    TM_SLOTS: String(slots),
    RM_HOST: '127.0.0.1',
    RM_TCP_PORT: rmTcpPort,
  },
}));

const timers: NodeJS.Timeout[] = [];
let stopping = false;
let taskManagersStarted = false;

/** Nest log lines worth showing in the demo: start-up, registrations, losses, goodbyes, errors. */
const INTERESTING = /ready|listening|registered|lost|goodbye|disconnected|Invalid|ERROR|EADDRINUSE/;
const NEST_PREFIX = /^\[Nest\]\s+\d+\s+-\s+\S+,?\s+\S+\s+\S+\s+/;

function say(line: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
}

function start(member: Member): void {
  const child = spawn(process.execPath, [dist + member.script], {
    env: { ...process.env, ...heartbeatEnv, ...member.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process groups: a terminal's Ctrl-C reaches only the demo, which stops the children in order.
    detached: true,
  });
  member.process = child;
  say(`[demo] started ${member.name} (pid ${child.pid})`);
  // The last error output not shown, to explain an exit with an error (a stack trace, say).
  const unshown: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (INTERESTING.test(line)) {
        say(`[${member.name}] ${line.replace(NEST_PREFIX, '')}`);
      } else if (stream === child.stderr && unshown.push(line) > UNSHOWN_KEPT) {
        unshown.shift();
      }
      if (
        member === resourceManager &&
        !taskManagersStarted &&
        /ResourceManager \S+ ready/.test(line)
      ) {
        taskManagersStarted = true;
        taskManagers.forEach(start);
      }
    });
  }
  // 'close', not 'exit': the process has exited and its output has been read to the end.
  child.on('close', (code, signal) => {
    if (!stopping) {
      say(`[demo] ${member.name} exited (${signal ?? `code ${code}`})`);
      if (code !== 0 && code !== null && unshown.length > 0) {
        say(`[demo] its last error output:\n${unshown.map((line) => `  ${line}`).join('\n')}`);
      }
      if (member === resourceManager) {
        say('[demo] the ResourceManager is gone; stopping the demo');
        void stop(1);
      }
    }
  });
}

interface TaskManagerView {
  id: string;
  address: string;
  slotsNumber: number;
  freeSlots: number;
  timeSinceLastHeartbeat: number;
}

async function printSummary(): Promise<void> {
  try {
    const response = await fetch(`${httpAddress}/taskmanagers`);
    const { taskmanagers } = (await response.json()) as { taskmanagers: TaskManagerView[] };
    if (stopping) {
      return; // an answer that arrived after Ctrl-C would show TaskManagers leaving as gone
    }
    const rows = taskmanagers
      .toSorted((a, b) => a.id.localeCompare(b.id))
      .map(
        (tm) =>
          `  ${tm.id.padEnd(16)} ${tm.address.padEnd(22)} ${`${tm.freeSlots}/${tm.slotsNumber}`.padStart(10)} ` +
          `${String(tm.timeSinceLastHeartbeat).padStart(8)} ms`,
      );
    say(
      [
        `[summary] ResourceManager at ${httpAddress} sees ${taskmanagers.length} TaskManager(s):`,
        `  ${'id'.padEnd(16)} ${'address'.padEnd(22)} ${'free/slots'.padStart(10)} ${'since last heartbeat'}`,
        ...rows,
      ].join('\n'),
    );
  } catch (error) {
    say(`[summary] ResourceManager not answering at ${httpAddress}: ${(error as Error).message}`);
  }
}

async function stop(exitCode: number): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  timers.forEach(clearTimeout);
  say('[demo] stopping the TaskManagers, then the ResourceManager');
  // TaskManagers first, so that their goodbyes still reach the ResourceManager.
  await Promise.all(taskManagers.map((member) => terminate(member.process, STOP_GRACE_MS)));
  await terminate(resourceManager.process, STOP_GRACE_MS);
  say('[demo] all processes stopped');
  process.exit(exitCode);
}

function at(delayMs: number, action: () => void): void {
  timers.push(setTimeout(action, delayMs));
}

/** The command line, or exit: 0 after printing the usage for --help, 2 with the reason for a bad one. */
function readArgs(): DemoArgs {
  try {
    const args = parseDemoArgs(process.argv.slice(2), process.env);
    if (args.help) {
      console.log(DEMO_USAGE);
      process.exit(0);
    }
    return args;
  } catch (error) {
    if (!(error instanceof DemoUsageError)) {
      throw error;
    }
    console.error(`demo: ${error.message}\n${DEMO_USAGE}`);
    process.exit(2);
  }
}

const { durationMs: duration, notes, ha } = readArgs();
notes.forEach((note) => say(`[demo] ${note}`));
if (ha) {
  await runHaDemo(duration);
} else {
  runSingleResourceManagerDemo();
}

/** One ResourceManager, three TaskManagers; one of them killed and started again. */
function runSingleResourceManagerDemo(): void {
  // Last resort if the demo itself fails: its detached children must not outlive it.
  process.on('exit', () => {
    for (const child of [resourceManager, ...taskManagers].map((member) => member.process)) {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
  });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  if (duration !== undefined) {
    say(`[demo] stopping by itself after ${duration / 1_000} s`);
  }
  say(
    `[demo] heartbeat interval ${heartbeatEnv.HEARTBEAT_INTERVAL_MS} ms, timeout ${heartbeatEnv.HEARTBEAT_TIMEOUT_MS} ms`,
  );
  say(
    `[demo] ResourceManager HTTP API: ${httpAddress}/taskmanagers and ${httpAddress}/overview; ` +
      `live dashboard ${httpAddress}/, metrics ${httpAddress}/metrics, health ${httpAddress}/health. Ctrl-C stops everything.`,
  );
  start(resourceManager); // the TaskManagers start once it is ready
  const summaries = setInterval(() => void printSummary(), SUMMARY_EVERY_MS);
  timers.push(summaries as unknown as NodeJS.Timeout);
  at(KILL_AT_MS, () => {
    say('[demo] killing taskmanager-3 with SIGKILL: watch the ResourceManager declare it lost');
    taskManagers[2].process?.kill('SIGKILL');
  });
  at(RESTART_AT_MS, () => {
    say('[demo] starting taskmanager-3 again: it registers anew');
    start(taskManagers[2]);
  });
  if (duration !== undefined) {
    at(duration, () => void stop(0));
  }
}

/**
 * The demo behind `npm start`: a ResourceManager, three TaskManagers and a JobMaster as separate
 * processes on loopback, with short heartbeat settings. It submits one job to the JobMaster and
 * prints where it runs, prints registrations and losses, a summary of the ResourceManager's and the
 * JobMaster's view every few seconds, kills the TaskManager running the job and restarts it to show
 * loss detection, the job's replacement slots and re-registration, and stops every process it
 * started on Ctrl-C.
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
const jmHttpPort = process.env.JM_HTTP_PORT ?? '8082';
const jobMasterAddress = `http://127.0.0.1:${jmHttpPort}`;
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
/** The demo's job: as many slots as taskmanager-3 has, so that they all go there (see below). */
const JOB = { jobId: 'job-1', slots: 4 };
const SUBMIT_ATTEMPTS = 10;
const SUBMIT_RETRY_MS = 500;

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
/** The one the demo kills: it starts first, so its slots are the ResourceManager's first free ones. */
const victim = taskManagers[2];
const jobMaster: Member = {
  name: 'jobmaster-1',
  script: 'job-master/src/main.js',
  env: {
    JM_ID: 'jobmaster-1',
    JM_HOST: '127.0.0.1',
    JM_HTTP_PORT: jmHttpPort,
    RM_HOST: '127.0.0.1',
    RM_TCP_PORT: rmTcpPort,
  },
};
const members = [resourceManager, ...taskManagers, jobMaster];

const timers: NodeJS.Timeout[] = [];
let stopping = false;
let taskManagersStarted = false;
/** Who has registered with the ResourceManager so far: the job is submitted once all have. */
const registered = new Set<string>();
let jobSubmitted = false;

/**
 * Nest log lines worth showing in the demo: start-up, registrations, losses, goodbyes, errors, and
 * the job's slots (granted, submitted, replaced, released).
 */
const INTERESTING =
  /ready|listening|registered|lost|goodbye|disconnected|Invalid|ERROR|EADDRINUSE|Job |Granted|Released|replacement|short of|no longer|failed|Monitoring JobMaster/;
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
        // The ResourceManager gives out the free slots of the TaskManagers in the order they
        // registered: taskmanager-3 first (and then the others), so that the job runs there.
        start(victim);
        start(jobMaster);
      }
      if (member === resourceManager) {
        noteRegistration(line);
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

/**
 * Follows the ResourceManager's registration lines: the other TaskManagers start once taskmanager-3
 * has registered, and the job is submitted once every TaskManager and the JobMaster have.
 */
function noteRegistration(line: string): void {
  const match = /(?:TaskManager|JobMaster) (\S+) registered from /.exec(line);
  if (!match || registered.has(match[1])) {
    return;
  }
  registered.add(match[1]);
  if (match[1] === victim.name && taskManagers.some((member) => !member.process)) {
    taskManagers.filter((member) => !member.process).forEach(start);
  }
  if (!jobSubmitted && members.slice(1).every((member) => registered.has(member.name))) {
    jobSubmitted = true;
    void submitJob();
  }
}

interface JobSlotView {
  taskManagerId: string;
  slotIndex: number;
}

interface JobView {
  jobId: string;
  state: string;
  slots: JobSlotView[];
}

/** "taskmanager-1 slots 0, 1; taskmanager-2 slot 0", by TaskManager. */
function describePlacement(slots: readonly JobSlotView[]): string {
  const byTaskManager = new Map<string, number[]>();
  for (const { taskManagerId, slotIndex } of slots.toSorted((a, b) =>
    a.taskManagerId === b.taskManagerId
      ? a.slotIndex - b.slotIndex
      : a.taskManagerId.localeCompare(b.taskManagerId),
  )) {
    byTaskManager.set(taskManagerId, [...(byTaskManager.get(taskManagerId) ?? []), slotIndex]);
  }
  return [...byTaskManager]
    .map(([id, indexes]) => `${id} slot${indexes.length === 1 ? '' : 's'} ${indexes.join(', ')}`)
    .join('; ');
}

/** Submits the demo's job to the JobMaster (again, a few times, while it answers 503) and prints where it runs. */
async function submitJob(): Promise<void> {
  for (let attempt = 1; attempt <= SUBMIT_ATTEMPTS; attempt++) {
    if (stopping) {
      return;
    }
    try {
      const response = await fetch(`${jobMasterAddress}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(JOB),
      });
      const body = (await response.json()) as Partial<JobView> & { message?: unknown };
      if (stopping) {
        return;
      }
      if (response.status === 201) {
        say(
          `[demo] submitted ${JOB.jobId} (${JOB.slots} slots) to ${jobMaster.name}: it runs on ` +
            describePlacement(body.slots ?? []),
        );
        return;
      }
      const reason = `${response.status} ${JSON.stringify(body.message ?? body)}`;
      if (response.status !== 503) {
        say(`[demo] ${jobMaster.name} did not take ${JOB.jobId}: ${reason}`);
        return;
      }
      if (attempt === SUBMIT_ATTEMPTS) {
        say(`[demo] gave up submitting ${JOB.jobId}: ${reason}`);
      }
    } catch (error) {
      if (attempt === SUBMIT_ATTEMPTS && !stopping) {
        say(`[demo] gave up submitting ${JOB.jobId}: ${(error as Error).message}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, SUBMIT_RETRY_MS));
  }
}

interface TaskManagerView {
  id: string;
  address: string;
  slotsNumber: number;
  freeSlots: number;
  timeSinceLastHeartbeat: number;
}

interface JobMasterView {
  id: string;
  address: string;
  jobs: string[];
  timeSinceLastHeartbeat: number;
}

/** What the JobMaster says of its jobs, as summary lines. */
async function jobMasterSummary(): Promise<string[]> {
  try {
    const response = await fetch(`${jobMasterAddress}/jobs`);
    const { jobs } = (await response.json()) as { jobs: JobView[] };
    return [
      `[summary] JobMaster ${jobMaster.name} at ${jobMasterAddress} runs ${jobs.length} job(s)` +
        (jobs.length > 0 ? ':' : ''),
      ...jobs.map(
        (job) =>
          `  ${job.jobId.padEnd(16)} ${job.state.padEnd(10)} ${String(job.slots.length).padStart(2)} slot(s): ` +
          (describePlacement(job.slots) || 'none'),
      ),
    ];
  } catch (error) {
    return [
      `[summary] JobMaster not answering at ${jobMasterAddress}: ${(error as Error).message}`,
    ];
  }
}

async function printSummary(): Promise<void> {
  try {
    const [response, jobMasterLines, jobMastersResponse] = await Promise.all([
      fetch(`${httpAddress}/taskmanagers`),
      jobMaster.process ? jobMasterSummary() : Promise.resolve([]),
      fetch(`${httpAddress}/jobmasters`),
    ]);
    const { taskmanagers } = (await response.json()) as { taskmanagers: TaskManagerView[] };
    const { jobmasters } = (await jobMastersResponse.json()) as { jobmasters: JobMasterView[] };
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
        `  and ${jobmasters.length} JobMaster(s)${jobmasters.length > 0 ? ':' : ''}`,
        ...jobmasters.map(
          (jm) =>
            `  ${jm.id.padEnd(16)} ${jm.address.padEnd(22)} jobs ${jm.jobs.join(', ') || 'none'}, ` +
            `${jm.timeSinceLastHeartbeat} ms since last heartbeat`,
        ),
        ...jobMasterLines,
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
  say('[demo] stopping the JobMaster, the TaskManagers, then the ResourceManager');
  // The JobMaster first, then the TaskManagers, so that their goodbyes still reach the
  // ResourceManager (which releases the job's slots on the TaskManagers).
  await terminate(jobMaster.process, STOP_GRACE_MS);
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

/** One ResourceManager, three TaskManagers, a JobMaster with one job; a TaskManager killed and started again. */
function runSingleResourceManagerDemo(): void {
  // Last resort if the demo itself fails: its detached children must not outlive it.
  process.on('exit', () => {
    for (const child of members.map((member) => member.process)) {
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
  say(
    `[demo] JobMaster HTTP API: ${jobMasterAddress}/jobs; the demo submits ${JOB.jobId} with ${JOB.slots} slots ` +
      `once every TaskManager and the JobMaster have registered (${httpAddress}/jobmasters)`,
  );
  start(resourceManager); // the TaskManagers and the JobMaster start once it is ready
  const summaries = setInterval(() => void printSummary(), SUMMARY_EVERY_MS);
  timers.push(summaries as unknown as NodeJS.Timeout);
  at(KILL_AT_MS, () => {
    say(
      `[demo] killing ${victim.name} with SIGKILL: watch the ResourceManager and the JobMaster declare it lost, ` +
        `and the JobMaster get replacement slots for ${JOB.jobId} on the others`,
    );
    victim.process?.kill('SIGKILL');
  });
  at(RESTART_AT_MS, () => {
    say(`[demo] starting ${victim.name} again: it registers anew`);
    start(victim);
  });
  if (duration !== undefined) {
    at(duration, () => void stop(0));
  }
}

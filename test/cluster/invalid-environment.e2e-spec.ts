import { largestTaskManagerFrame } from '#cluster';
import {
  Cluster,
  escapeRegExp,
  freePorts,
  RESOURCE_MANAGER_MAIN,
  TASK_MANAGER_MAIN,
  TEST_TIMEOUT_MS,
  type ExitStatus,
} from './cluster-harness.js';

interface Case {
  readonly app: 'ResourceManager' | 'TaskManager';
  readonly variable: string;
  readonly value: string;
  readonly message: RegExp;
  /** Other variables that make the case what it is. */
  readonly extra?: Record<string, string>;
}

const cases: Case[] = [
  {
    app: 'ResourceManager',
    variable: 'HEARTBEAT_STALL_THRESHOLD_MS',
    value: '20',
    message:
      /Invalid environment: HEARTBEAT_STALL_THRESHOLD_MS must be an integer number of ms from 50 to 2147483647, or -1 to disable, got "20"/,
  },
  {
    app: 'TaskManager',
    variable: 'HEARTBEAT_RPC_FAILURE_THRESHOLD',
    value: '0',
    message:
      /Invalid environment: HEARTBEAT_RPC_FAILURE_THRESHOLD must be an integer > 0, or -1 to disable, got "0"/,
  },
  {
    app: 'ResourceManager',
    variable: 'RM_TCP_PORT',
    value: 'abc',
    message: /Invalid environment: RM_TCP_PORT must be an integer from 0 to 65535, got "abc"/,
  },
  {
    app: 'ResourceManager',
    variable: 'RM_HTTP_PORT',
    value: '70000',
    message: /Invalid environment: RM_HTTP_PORT must be an integer from 0 to 65535, got "70000"/,
  },
  {
    app: 'TaskManager',
    variable: 'TM_SLOTS',
    value: '0',
    message: /Invalid environment: TM_SLOTS must be an integer from 1 to 1024, got "0"/,
  },
  {
    app: 'TaskManager',
    variable: 'TM_ID',
    value: 'not valid!',
    message: /Invalid environment: TM_ID must be .*, got "not valid!"/,
  },
  {
    app: 'TaskManager',
    variable: 'TM_ADVERTISED_PORT',
    value: '-1',
    message: /Invalid environment: TM_ADVERTISED_PORT must be an integer from 0 to 65535, got "-1"/,
  },
  {
    app: 'TaskManager',
    variable: 'HEARTBEAT_INTERVAL_MS',
    value: '5000',
    extra: { HEARTBEAT_TIMEOUT_MS: '1000' },
    message:
      /Invalid environment: HEARTBEAT_INTERVAL_MS must be at most HEARTBEAT_TIMEOUT_MS \(1000\), got "5000"/,
  },
  {
    app: 'ResourceManager',
    variable: 'HEARTBEAT_TIMEOUT_MS',
    value: '5000',
    message:
      /Invalid environment: HEARTBEAT_INTERVAL_MS must be at most HEARTBEAT_TIMEOUT_MS \(5000\), got 10000 \(its default\); set HEARTBEAT_INTERVAL_MS or raise HEARTBEAT_TIMEOUT_MS/,
  },
  {
    app: 'ResourceManager',
    variable: 'TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS',
    value: 'soon',
    message:
      /Invalid environment: TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS must be an integer from 100 to 600000, got "soon"/,
  },
  {
    app: 'TaskManager',
    variable: 'TM_SLOTS',
    value: '1024',
    // Its largest frame (heartbeat or registration, both carry the slot report), as the apps compute it.
    message: new RegExp(
      escapeRegExp(
        `Invalid environment: TCP_MAX_BUFFER_SIZE must be at least ${largestTaskManagerFrame(1024)} for TM_SLOTS=1024 (its largest heartbeat or registration), got "65536"`,
      ),
    ),
  },
];

interface Outcome {
  readonly status: ExitStatus;
  readonly output: string;
  readonly started: boolean;
}

describe('an app started with a bad environment variable (real processes)', () => {
  const cluster = new Cluster();
  // Every case's process is started at once (each takes a second or so to load), then checked by its own test.
  const outcomes = new Map<Case, Promise<Outcome>>();

  beforeAll(async () => {
    for (const testCase of cases) {
      const { app, variable, value, extra } = testCase;
      // Valid settings otherwise (free ports, so a process that wrongly starts disturbs nothing).
      const [tcpPort, httpPort] = await freePorts(2);
      const valid: Record<string, string> =
        app === 'ResourceManager'
          ? { RM_HOST: '127.0.0.1', RM_TCP_PORT: String(tcpPort), RM_HTTP_PORT: String(httpPort) }
          : {
              TM_ID: 'tm-env',
              TM_HOST: '127.0.0.1',
              TM_SLOTS: '2',
              RM_HOST: '127.0.0.1',
              RM_TCP_PORT: String(tcpPort),
            };
      const child = cluster.startRaw(
        `${app} (${variable}=${value})`,
        app === 'ResourceManager' ? RESOURCE_MANAGER_MAIN : TASK_MANAGER_MAIN,
        { ...valid, ...extra, [variable]: value },
      );
      const outcome = child.waitForExit(20_000).then((status) => ({
        status,
        output: child.lines.join('\n'),
        started: child.findLine(/ready|listening on/) !== undefined,
      }));
      outcome.catch(() => undefined); // reported by the case's own test
      outcomes.set(testCase, outcome);
    }
  });

  afterAll(() => cluster.killAll());

  it.each(cases)(
    '$app with $variable=$value exits non-zero, naming the variable',
    async (testCase) => {
      const { status, output, started } = await outcomes.get(testCase)!;
      expect(status).toEqual({ code: 1, signal: null });
      expect(output).toMatch(testCase.message);
      expect(started).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});

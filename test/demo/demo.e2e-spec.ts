import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childProcessEnv, freePort, isAlive } from '../fixtures/e2e-utils.js';

// Runs the built demo (`npm test` builds first) as `npm start` would, then stops it like Ctrl-C.
const demoScript = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));

async function demoEnv(): Promise<Record<string, string>> {
  const [tcpPort, httpPort, jobMasterHttpPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  return {
    RM_TCP_PORT: String(tcpPort),
    RM_HTTP_PORT: String(httpPort),
    JM_HTTP_PORT: String(jobMasterHttpPort),
  };
}

/** Waits until `output()` matches `pattern`, at most until `deadline` (then the expectation says what is missing). */
async function waitForOutput(
  output: () => string,
  pattern: RegExp,
  deadline: number,
): Promise<void> {
  while (!pattern.test(output()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(output()).toMatch(pattern);
}

/** Runs the command to its end (at most `timeoutMs`), with both output streams in one text. */
async function run(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  // Its own process group, so that a test that fails can still stop npm, its shell and the demo.
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGINT'), options.timeoutMs);
  try {
    const [code] = await exited;
    return { code, output };
  } finally {
    clearTimeout(timer);
  }
}

const startedPids = (output: string) =>
  [...output.matchAll(/started \S+ \(pid (\d+)\)/g)].map((match) => Number(match[1]));

describe('the demo (npm start)', () => {
  it("runs a ResourceManager, three TaskManagers and a JobMaster with one job, summarises them, replaces the job's slots of the TaskManager it kills, and leaves no process behind on Ctrl-C", async () => {
    const env = await demoEnv();
    const demo = spawn(process.execPath, [demoScript], {
      env: childProcessEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(demo, 'exit');
    const read = () => output;
    try {
      // Every wait is bounded: the kill is 12 s in, the replacement and the next summary within 10 s of it.
      const deadline = Date.now() + 45_000;
      await waitForOutput(read, /sees 3 TaskManager\(s\)/, deadline);
      expect(output).toContain(`http://127.0.0.1:${env.RM_HTTP_PORT}/taskmanagers`);
      expect(output).toContain(`http://127.0.0.1:${env.JM_HTTP_PORT}/jobs`);
      for (const id of ['taskmanager-1', 'taskmanager-2', 'taskmanager-3']) {
        expect(output).toMatch(
          new RegExp(`TaskManager ${id} registered from 127\\.0\\.0\\.1:\\d+`),
        );
      }
      expect(output).toMatch(
        /\[resource-manager\] .*JobMaster jobmaster-1 registered from 127\.0\.0\.1:\d+/,
      );
      // taskmanager-3 registers first, so the ResourceManager places all of job-1 there.
      await waitForOutput(
        read,
        /\[demo\] submitted job-1 \(4 slots\) to jobmaster-1: it runs on taskmanager-3 slots 0, 1, 2, 3\n/,
        deadline,
      );
      await waitForOutput(
        read,
        /and 1 JobMaster\(s\):\n {2}jobmaster-1 +127\.0\.0\.1:\d+ +jobs job-1,[^]*? {2}job-1 +running +4 slot\(s\): taskmanager-3 slots 0, 1, 2, 3\n/,
        deadline,
      );
      // The kill: the JobMaster loses taskmanager-3 and gets the job's slots on the other two.
      await waitForOutput(
        read,
        /\[jobmaster-1\] .*TaskManager taskmanager-3 lost: .*dropped 4 slots of job job-1; asking the ResourceManager for replacements/,
        deadline,
      );
      await waitForOutput(
        read,
        /\[jobmaster-1\] .*Job job-1 got 4 replacement slots \((taskmanager-[12] slot [01](, )?){4}\); running again with its 4 slots/,
        deadline,
      );
      await waitForOutput(
        read,
        / {2}job-1 +running +4 slot\(s\): taskmanager-1 slots 0, 1; taskmanager-2 slots 0, 1\n/,
        deadline,
      );
    } finally {
      demo.kill('SIGINT');
      await exited;
    }
    // On Ctrl-C the JobMaster says goodbye, and the ResourceManager releases the job's slots.
    expect(output).toMatch(/\[jobmaster-1\] .*Said goodbye to ResourceManager/);
    expect(output).toMatch(/JobMaster jobmaster-1 lost: left \(goodbye\).*releasing 4 slots/);
    const pids = startedPids(output);
    // Five at start; a sixth if the demo got to restarting the TaskManager it kills.
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(output).toContain('all processes stopped');
    expect(demo.exitCode).toBe(0);
  }, 60_000);

  it('refuses an unknown or malformed argument with exit code 2 and the usage, starting nothing', async () => {
    const env = childProcessEnv(await demoEnv());
    for (const [args, reason] of [
      [['--durration', '5'], 'demo: unknown option "--durration"'],
      [['--duration', 'five'], 'demo: --duration needs a number of seconds from more than 0'],
      [['--duration'], 'demo: --duration needs a number of seconds'],
      [['5'], 'demo: unexpected argument "5"; for a duration: --duration 5'],
    ] as const) {
      const { code, output } = await run(process.execPath, [demoScript, ...args], {
        env,
        timeoutMs: 10_000,
      });
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(output).toContain(reason);
      expect(output).toContain('usage: npm start -- [--duration <seconds>] [--ha]');
      expect(startedPids(output)).toEqual([]);
    }
  }, 60_000);

  it('stops with exit code 1 and the error output of a ResourceManager that fails to start', async () => {
    const env = await demoEnv();
    const occupied = createServer().listen(Number(env.RM_TCP_PORT), '127.0.0.1');
    await once(occupied, 'listening');
    try {
      const { code, output } = await run(process.execPath, [demoScript], {
        env: childProcessEnv(env),
        timeoutMs: 20_000,
      });
      expect(code).toBe(1);
      expect(output).toContain('[demo] resource-manager exited (code 1)');
      // Beyond the one line the demo shows anyway, what was printed after it: the stack trace.
      expect(output).toMatch(/EADDRINUSE[^]*\[demo\] its last error output:\n( {2}.*\n)*? {4,}at /);
      expect(output).toContain('all processes stopped');
    } finally {
      occupied.close();
    }
  }, 30_000);

  describe('with the real npm', () => {
    // A package whose start script runs the built demo, like the repository's (without its build).
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'demo-npm-start-'));
      const start = `echo built && node ${JSON.stringify(demoScript)}`;
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'demo-npm-start', private: true, scripts: { start } }),
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const npmStart = async (args: string[]) =>
      run('npm', ['start', ...args], {
        env: childProcessEnv({ ...(await demoEnv()), npm_config_update_notifier: 'false' }),
        cwd: dir,
        timeoutMs: 30_000,
      });

    it.each([
      ['-- --duration 2', false],
      ['--duration 2', true],
      ['--duration=2', true],
    ])(
      '`npm start %s` stops the demo by itself after 2 s (noting a forgotten --: %s)',
      async (args, forgotten) => {
        const started = Date.now();
        const { code, output } = await npmStart(args.split(' '));
        expect(code).toBe(0);
        expect(output).toContain('[demo] stopping by itself after 2 s');
        expect(output).toContain('all processes stopped');
        expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
        const note = 'took --duration 2 from npm';
        if (forgotten) {
          expect(output).toContain(note);
          expect(output).toContain('run `npm start -- --duration 2`');
        } else {
          expect(output).not.toContain(note);
        }
        const pids = startedPids(output);
        expect(pids.length).toBeGreaterThanOrEqual(1);
        expect(pids.filter(isAlive)).toEqual([]);
      },
      40_000,
    );

    it('`npm start --duration`, `npm start --duration abc` and `npm start --durration 5` fail with exit code 2 and say how', async () => {
      for (const [args, reason] of [
        [['--duration'], 'demo: --duration needs a number of seconds; npm keeps'],
        [['--duration', 'abc'], 'demo: --duration needs a number of seconds, got abc; npm keeps'],
        [
          ['--durration', '5'],
          'demo: unexpected argument "5"; for a duration: npm start -- --duration 5',
        ],
      ] as const) {
        const { code, output } = await npmStart([...args]);
        expect({ args, code }).toEqual({ args, code: 2 });
        expect(output).toContain(reason);
        expect(startedPids(output)).toEqual([]);
      }
    }, 40_000);
  });
});

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { HEAP_TOLERANCE_BYTES, resourceTolerance, type SoakResult } from '../../src/soak/soak.js';
import { DIST_DIR, within } from '../cluster/cluster-harness.js';
import { isAlive } from '../fixtures/e2e-utils.js';

const SOAK_SCRIPT = join(DIST_DIR, 'src/soak/soak.js');
const SETTINGS = {
  targets: 100,
  hosts: 5,
  interval: 100,
  timeout: 3_000,
  duration: 60,
  kills: 3,
  seed: 20_260_401,
};
/** Start-up, warm-up, restarts and shutdown come on top of the soak's duration. */
const RUN_BUDGET_MS = SETTINGS.duration * 1_000 + 90_000;

describe('soak: 100 targets at a 100 ms interval, with crashes and hangs (real processes)', () => {
  let soak: ChildProcessByStdio<null, Readable, Readable> | undefined;

  afterAll(async () => {
    // Its target hosts exit by themselves once their IPC channel to it closes.
    if (soak && soak.exitCode === null && soak.signalCode === null) {
      soak.kill('SIGKILL');
      await within(new Promise((resolve) => soak?.once('exit', resolve)), 5_000);
    }
  });

  it(
    'declares every killed target lost, no live one, and grows neither heap nor handles',
    async () => {
      expect(existsSync(SOAK_SCRIPT)).toBe(true); // built by `npm run build` (pretest)
      const args = Object.entries(SETTINGS).flatMap(([name, value]) => [`--${name}`, `${value}`]);
      const child = spawn(process.execPath, ['--expose-gc', SOAK_SCRIPT, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      soak = child;
      let result: SoakResult | undefined;
      const lines: string[] = [];
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
          if (line.startsWith('SOAK-RESULT ')) {
            result = JSON.parse(line.slice('SOAK-RESULT '.length)) as SoakResult;
            return;
          }
          lines.push(line);
          process.stdout.write(`${line}\n`); // the figures, in the test output
        });
      }
      const exit = await within(
        new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))),
        RUN_BUDGET_MS,
      );

      if (exit !== 0 || !result) {
        const outcome = exit === null ? `did not end within ${RUN_BUDGET_MS} ms` : `exited ${exit}`;
        throw new Error(`the soak ${outcome}:\n${lines.slice(-40).join('\n')}`);
      }
      expect(result.falseAlarms).toEqual([]);
      expect(result.kills).toHaveLength(SETTINGS.kills);
      for (const kill of result.kills) {
        expect(kill.missed).toEqual([]);
        expect(kill.detected).toBe(SETTINGS.targets / SETTINGS.hosts);
        expect(kill.maxDetectionMs).toBeLessThanOrEqual(SETTINGS.timeout + 5_000);
        if (kill.mode === 'hang (SIGSTOP)') {
          // Its connections stay open: only the timeout can find it.
          expect(kill.byTimeout).toBe(kill.detected);
        }
      }
      expect(result.kills.map((kill) => kill.mode)).toContain('crash (SIGKILL)');
      expect(result.kills.map((kill) => kill.mode)).toContain('hang (SIGSTOP)');

      expect(result.end.heapUsed - result.start.heapUsed).toBeLessThanOrEqual(HEAP_TOLERANCE_BYTES);
      const { start, end } = result;
      const grown = Object.entries(end.resources)
        .filter(
          ([kind, count]) =>
            count - (start.resources[kind] ?? 0) > resourceTolerance(start.resources[kind] ?? 0),
        )
        .map(([kind, count]) => `${kind}: ${start.resources[kind] ?? 0} -> ${count}`);
      expect(grown).toEqual([]);
      // One heartbeat connection per monitored target (the answers come back on it): none lost
      // or leaked.
      expect(end.resources.TCPSocketWrap).toBe(SETTINGS.targets);
      expect(result.checks.filter((check) => !check.ok)).toEqual([]);
      expect(result.hostPids.filter(isAlive)).toEqual([]);
    },
    RUN_BUDGET_MS + 10_000,
  );
});

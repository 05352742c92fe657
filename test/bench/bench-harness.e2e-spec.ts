import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// Runs the built benchmark (`npm test` builds first) at a tiny size: only that the harness works
// and prints its JSON summary last, never its figures, which depend on the machine.
const benchScript = fileURLToPath(new URL('../../dist/src/bench/bench.js', import.meta.url));
const TINY_RUN = ['--quick', '--targets', '4', '--window-ms', '300'];
const TINY_TIMING = ['--interval-ms', '200', '--timeout-ms', '1000'];
const TRANSPORTS = ['tcp', 'tcp-client-proxy', 'nats', 'redis'];
const DETECTORS = ['fixed', 'phi-accrual', 'phi-accrual-fast'];

/** Runs the built benchmark with `args`, killed after `killAfterMs`. */
async function runBench(args: string[], killAfterMs = 50_000) {
  const bench = spawn(process.execPath, [benchScript, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  bench.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => bench.kill('SIGKILL'), killAfterMs);
  const [code] = (await once(bench, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr };
}

describe('the benchmark harness (npm run bench)', () => {
  it('runs at a tiny size and prints the tables, then the JSON summary as its last line', async () => {
    const { code, stdout, stderr } = await runBench([...TINY_RUN, ...TINY_TIMING], 80_000);

    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const title of [
      'Overhead:',
      'Scale:',
      'Ceiling:',
      'Detection',
      'terminus pingCheck',
      'Detectors:',
      'Transports:',
    ]) {
      expect(stdout).toContain(title);
    }
    const lines = stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    for (const key of [
      'overheadRatio',
      'rawFloorRatio',
      'rmCpuPercent',
      'rssMb',
      'loopLagP99Ms',
      'detectionErrorP99Ms',
      'terminusCostRatio',
    ]) {
      expect({ key, type: typeof summary[key] }).toEqual({ key, type: 'number' });
    }
    expect(summary).toMatchObject({
      targets: 4,
      falseTimeouts: expect.any(Number),
      ceilingTargets: expect.any(Number),
      libraryClient: expect.any(String),
      // A quick run has no detection above 1,000 targets.
      detectionErrorP99Ms10k: null,
      quick: true,
    });
    expect(Number.isInteger(summary.falseTimeouts)).toBe(true);
    expect(Object.keys(summary.rawFloorRatios as object)).toEqual(['1', '4']);
    expect(Object.keys(summary.transportMicros as object)).toEqual(TRANSPORTS);
    expect(Object.keys(summary.transportBrokerMicros as object)).toEqual(['nats', 'redis']);
  }, 90_000);

  it('runs the transports section alone with --section transports', async () => {
    const { code, stdout, stderr } = await runBench(['--section', 'transports', ...TINY_RUN]);

    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('Transports:');
    expect(stdout).not.toContain('Overhead:');
    const lines = stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as Record<string, Record<string, unknown>>;
    expect(Object.keys(summary.transportMicros)).toEqual(TRANSPORTS);
    for (const micros of Object.values(summary.transportMicros)) {
      expect(typeof micros).toBe('number');
    }
  }, 60_000);

  it('runs the detectors section alone with --section detectors', async () => {
    const { code, stdout, stderr } = await runBench([
      '--section',
      'detectors',
      ...TINY_RUN,
      ...TINY_TIMING,
    ]);

    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('Detectors:');
    expect(stdout).not.toContain('Overhead:');
    const lines = stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as Record<string, Record<string, unknown>>;
    // One hung target of the 4 per run, one run clean and one under the network delay.
    expect(summary.detectorKills).toEqual({ clean: 1, delay: 1 });
    for (const key of ['detectorKillToLossMs', 'detectorMissedKills', 'detectorFalseSuspicions']) {
      expect({ key, conditions: Object.keys(summary[key]) }).toEqual({
        key,
        conditions: ['clean', 'delay'],
      });
      for (const byDetector of Object.values(summary[key])) {
        expect(Object.keys(byDetector as object)).toEqual(DETECTORS);
      }
    }
    for (const key of ['detectorPhiMinusFixedP50Ms', 'detectorPhiFastMinusFixedP50Ms']) {
      expect({ key, conditions: Object.keys(summary[key]) }).toEqual({
        key,
        conditions: ['clean', 'delay'],
      });
    }
    for (const count of Object.values(summary.detectorFalseSuspicions)) {
      for (const value of Object.values(count as object)) {
        expect(Number.isInteger(value)).toBe(true);
      }
    }
  }, 60_000);

  it('refuses a section it does not know', async () => {
    const { code, stderr } = await runBench(['--section', 'transport']);
    expect(code).not.toBe(0);
    expect(stderr).toContain(
      '--section must be one of all, transports, takeover, detectors, got "transport"',
    );
  }, 30_000);
});

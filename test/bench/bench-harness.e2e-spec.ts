import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// Runs the built benchmark (`npm test` builds first) at a tiny size: only that the harness works
// and prints its JSON summary last, never its figures, which depend on the machine.
const benchScript = fileURLToPath(new URL('../../dist/src/bench/bench.js', import.meta.url));
const TINY_RUN = ['--quick', '--targets', '4', '--window-ms', '300'];
const TINY_TIMING = ['--interval-ms', '200', '--timeout-ms', '1000'];

describe('the benchmark harness (npm run bench)', () => {
  it('runs at a tiny size and prints the tables, then the JSON summary as its last line', async () => {
    const bench = spawn(process.execPath, [benchScript, ...TINY_RUN, ...TINY_TIMING], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    bench.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => bench.kill('SIGKILL'), 80_000);
    const [code] = (await once(bench, 'exit')) as [number | null];
    clearTimeout(killer);

    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    for (const title of ['Overhead:', 'Scale:', 'Ceiling:', 'Detection', 'terminus pingCheck']) {
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
  }, 90_000);
});

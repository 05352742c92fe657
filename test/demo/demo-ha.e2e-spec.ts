import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { childProcessEnv, freePort, isAlive } from '../fixtures/e2e-utils.js';

// Runs the built HA demo (`npm test` builds first) as `npm start -- --ha` would.
const demoScript = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));

describe('the high-availability demo (npm start -- --ha)', () => {
  it('runs etcd, two ResourceManagers and three TaskManagers, times two takeovers, and leaves no process behind', async () => {
    // Two ResourceManagers on consecutive ports from these.
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    const demo = spawn(process.execPath, [demoScript, '--ha', '--duration', '34'], {
      env: childProcessEnv({
        RM_TCP_PORT: String(tcpPort),
        RM_HTTP_PORT: String(httpPort),
        HEARTBEAT_INTERVAL_MS: '200',
        HEARTBEAT_TIMEOUT_MS: '1500',
        HA_LEASE_TTL_S: '2',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(demo, 'exit')) as [number | null];

    const takeovers = [
      ...output.matchAll(
        /takeover after (SIGKILL|SIGTERM): resource-manager-\d leads with fencing token (\d+) and all 3 TaskManagers, (\d+) ms after the signal/g,
      ),
    ].map(([, signal, token, ms]) => ({ signal, token: Number(token), ms: Number(ms) }));
    expect(takeovers.map(({ signal }) => signal)).toEqual(['SIGKILL', 'SIGTERM']);
    // Each new leadership has a larger fencing token.
    expect(takeovers[1].token).toBeGreaterThan(takeovers[0].token);
    // A resigning leader is replaced without waiting for its lease (2 s) to lapse.
    expect(takeovers[1].ms).toBeLessThan(2_000);
    expect(output).toContain('all processes stopped');
    expect(code).toBe(0);
    const pids = [...output.matchAll(/started \S+ \(pid (\d+)\)/g)].map((match) =>
      Number(match[1]),
    );
    // Three etcd members, two ResourceManagers, three TaskManagers, and the restarted one.
    expect(pids).toHaveLength(9);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 120_000);
});

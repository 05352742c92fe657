import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { childProcessEnv, freePort, isAlive } from '../fixtures/e2e-utils.js';

// Runs the built HA demo (`npm test` builds first) as `npm start -- --ha` would.
const demoScript = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));

describe('the high-availability demo (npm start -- --ha)', () => {
  it('runs etcd, two ResourceManagers, three TaskManagers and a JobMaster, times two takeovers with the job kept, and leaves no process behind', async () => {
    // Two ResourceManagers on consecutive TCP ports from tcpPort, on HTTP ports httpPort and httpPort + 2.
    const [tcpPort, httpPort, jobMasterHttpPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const demo = spawn(process.execPath, [demoScript, '--ha', '--duration', '34'], {
      env: childProcessEnv({
        RM_TCP_PORT: String(tcpPort),
        RM_HTTP_PORT: String(httpPort),
        JM_HTTP_PORT: String(jobMasterHttpPort),
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
    // The job, submitted before the first takeover, keeps its slots across both.
    expect(output).toContain(`JobMaster at http://127.0.0.1:${jobMasterHttpPort}/jobs`);
    expect(output).toContain(`http://127.0.0.1:${httpPort + 2}/overview`);
    expect(output).toMatch(
      /\[demo\] submitted job-1 \(3 slots\) to jobmaster-1: it runs on taskmanager-\d slots? \d/,
    );
    const kept = output.match(
      /\[demo\] resource-manager-\d lists jobmaster-1 with job-1: running on .*, the same slots as before the takeover/g,
    );
    expect(kept).toHaveLength(2);
    expect(output).toMatch(/JobMaster jobmaster-1 lost: left \(goodbye\).*releasing 3 slots/);
    expect(output).toContain('all processes stopped');
    expect(code).toBe(0);
    const pids = [...output.matchAll(/started \S+ \(pid (\d+)\)/g)].map((match) =>
      Number(match[1]),
    );
    // Three etcd members, two ResourceManagers, three TaskManagers, a JobMaster, and the restarted one.
    expect(pids).toHaveLength(10);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 120_000);
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../fixtures/e2e-utils.js';

// Runs the built demo (`npm test` builds first) as `npm start` would, then stops it like Ctrl-C.
const demoScript = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('the demo (npm start)', () => {
  it('runs a ResourceManager and three TaskManagers, summarises them, and leaves no process behind on Ctrl-C', async () => {
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    const demo = spawn(process.execPath, [demoScript], {
      env: { ...process.env, RM_TCP_PORT: String(tcpPort), RM_HTTP_PORT: String(httpPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(demo, 'exit');
    try {
      const deadline = Date.now() + 30_000;
      while (!/sees 3 TaskManager\(s\)/.test(output) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain(`http://127.0.0.1:${httpPort}/taskmanagers`);
      for (const id of ['taskmanager-1', 'taskmanager-2', 'taskmanager-3']) {
        expect(output).toMatch(
          new RegExp(`TaskManager ${id} registered from 127\\.0\\.0\\.1:\\d+`),
        );
      }
      expect(output).toMatch(/sees 3 TaskManager\(s\)/);
    } finally {
      demo.kill('SIGINT');
      await exited;
    }
    const pids = [...output.matchAll(/started \S+ \(pid (\d+)\)/g)].map((match) =>
      Number(match[1]),
    );
    // Four at start; a fifth if the demo got to restarting the TaskManager it kills.
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(output).toContain('all processes stopped');
    expect(demo.exitCode).toBe(0);
  }, 60_000);
});

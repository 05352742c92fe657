import {
  Cluster,
  FAST_HEARTBEATS,
  noteTiming,
  sleep,
  waitFor,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

// The ResourceManager's own pauses: SIGSTOP freezes its event loop as a long synchronous task or a
// GC pause would, and SIGCONT resumes it with every timer overdue. The TaskManagers watch the
// ResourceManager with a long timeout, so that only the ResourceManager's judgement is under test.
const { interval, timeout } = FAST_HEARTBEATS;
const STALL_MS = 2 * timeout;
const LENIENT_HEARTBEATS = { ...FAST_HEARTBEATS, timeout: 20_000 };
const STALL_WARNING = /this process stalled, no timer ran for (\d+) ms/;

function freeze(app: ResourceManagerProcess, signal: 'SIGSTOP' | 'SIGCONT'): void {
  process.kill(app.pid!, signal);
}

describe('a ResourceManager whose event loop stalls (real processes)', () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;
  let tmA: TaskManagerProcess;
  let tmB: TaskManagerProcess;
  let tmC: TaskManagerProcess;

  const lastHeartbeats = async () =>
    Object.fromEntries((await rm.taskManagers()).map((view) => [view.id, view.lastHeartbeat]));

  beforeAll(async () => {
    rm = await cluster.startResourceManager();
    const start = (id: string) =>
      cluster.startTaskManager({
        id,
        slots: 2,
        resourceManagerTcpPort: rm.tcpPort,
        heartbeat: LENIENT_HEARTBEATS,
      });
    tmA = start('tm-a');
    tmB = start('tm-b');
    tmC = start('tm-c');
    const fencingToken = await rm.ready();
    await Promise.all([tmA, tmB, tmC].map((tm) => tm.registered(fencingToken)));
  }, 30_000);

  afterAll(async () => {
    for (const app of [rm, tmC]) {
      if (app?.alive) {
        process.kill(app.pid!, 'SIGCONT');
      }
    }
    await cluster.killAll();
  });

  it('declares no TaskManager lost after a stall of twice the timeout, and logs the stall once', async () => {
    await sleep(3 * interval);
    const before = await lastHeartbeats();

    freeze(rm, 'SIGSTOP');
    await sleep(STALL_MS);
    freeze(rm, 'SIGCONT');
    await sleep(2 * timeout);

    for (const id of ['tm-a', 'tm-b', 'tm-c']) {
      expect(rm.lostLines(id)).toEqual([]);
    }
    const warnings = rm.linesMatching(STALL_WARNING);
    expect(warnings).toHaveLength(1);
    expect(Number(warnings[0].match(STALL_WARNING)![1])).toBeGreaterThanOrEqual(STALL_MS * 0.9);
    const after = await lastHeartbeats();
    expect(after['tm-a']).toBeGreaterThan(before['tm-a']);
    expect(after['tm-b']).toBeGreaterThan(before['tm-b']);
  }, 30_000);

  it.each([
    ['killed (SIGKILL): its connection is refused', 'SIGKILL', 'tm-b'],
    ['hung (SIGSTOP): only the timeout can tell', 'SIGSTOP', 'tm-c'],
  ] as const)(
    'still declares a TaskManager %s, during a stall, lost within one timeout of the resume',
    async (_case, signal, id) => {
      const victim = id === 'tm-b' ? tmB : tmC;
      freeze(rm, 'SIGSTOP');
      process.kill(victim.pid!, signal);
      await sleep(STALL_MS);
      freeze(rm, 'SIGCONT');
      const resumedAt = Date.now();

      await waitFor(() => rm.lostLines(id).length > 0, {
        timeoutMs: timeout + 2_000,
        intervalMs: 10,
        description: `the ResourceManager to declare ${id} lost after the resume`,
      });
      const detectedMs = Date.now() - resumedAt;
      noteTiming(
        `TaskManager ${signal} during a ResourceManager stall, lost after resume`,
        detectedMs,
        timeout,
      );

      expect(detectedMs).toBeLessThanOrEqual(timeout + 1_000); // margin for a loaded machine
      expect(rm.lostLines('tm-a')).toEqual([]);
      expect((await rm.taskManagers()).map((view) => view.id)).not.toContain(id);
      expect((await rm.taskManagers()).map((view) => view.id)).toContain('tm-a');
    },
    30_000,
  );
});

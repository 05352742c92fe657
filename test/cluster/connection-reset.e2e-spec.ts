import { Cluster, FAST_HEARTBEATS, noteTiming, waitFor, waitForLine } from './cluster-harness.js';
import { startProxiedTaskManager, type ProxiedTaskManager } from './proxied-task-manager.js';

const { interval, timeout, rpcFailureThreshold } = FAST_HEARTBEATS;
/** Wait limit for a detection: the tests check the measured time against tighter bounds. */
const DETECTION_WAIT_MS = timeout + 5_000;

/** Heals, then waits for the TaskManager's second registration and a heartbeat after it. */
async function expectRecovery({ rm, tm, toResourceManager, toTaskManager }: ProxiedTaskManager) {
  toResourceManager.pass();
  toTaskManager.pass();
  await waitFor(() => tm.registrations().length === 2, {
    timeoutMs: timeout + 10_000,
    description: `${tm.id} to register again`,
  });
  const registeredAgainAt = Date.now();
  await waitFor(
    async () => {
      const view = (await rm.taskManagers()).find((candidate) => candidate.id === tm.id);
      return view !== undefined && view.lastHeartbeat > registeredAgainAt;
    },
    { timeoutMs: 10_000, description: `a heartbeat from ${tm.id} after it registered again` },
  );
}

describe('connection resets between a TaskManager and the ResourceManager (real processes)', () => {
  const cluster = new Cluster();
  let link: ProxiedTaskManager | undefined;

  afterEach(async () => {
    await link?.close();
    await cluster.killAll();
  });

  it('ResourceManager → TaskManager reset: the ResourceManager declares it unreachable after the threshold, before the timeout', async () => {
    link = await startProxiedTaskManager(cluster, { id: 'tm-r1', slots: 2 });
    const { rm, toTaskManager } = link;
    const acceptedBefore = toTaskManager.accepted;

    toTaskManager.reset({ refuseNew: true });
    const resetAt = Date.now();
    const [line] = await waitForLine(rm, /TaskManager tm-r1 lost: .*$/, {
      timeoutMs: DETECTION_WAIT_MS,
    });
    const detection = Date.now() - resetAt;
    noteTiming('reset: ResourceManager detection', detection, rpcFailureThreshold * interval);

    expect(line).toMatch(/lost: unreachable, \d+ ms after its last heartbeat; released 2 slots/);
    // The threshold's worth of failed requests, one per interval (the first may be in flight).
    expect(detection).toBeGreaterThanOrEqual((rpcFailureThreshold - 1) * interval - 50);
    expect(detection).toBeLessThan(timeout);
    // Each failed request tried a new connection: the dead one was not reused.
    expect(toTaskManager.accepted - acceptedBefore).toBeGreaterThanOrEqual(rpcFailureThreshold - 1);

    await expectRecovery(link);
  }, 60_000);

  it('TaskManager → ResourceManager reset: heartbeats, which travel ResourceManager → TaskManager with the answers in the replies, go on; nobody is declared lost', async () => {
    link = await startProxiedTaskManager(cluster, { id: 'tm-r2', slots: 2 });
    const { rm, tm, toResourceManager } = link;

    // Every connection to the ResourceManager is reset and new ones refused: only the
    // registration's own connection runs this way, and it is idle while the TaskManager is
    // registered.
    toResourceManager.reset({ refuseNew: true });
    const resetAt = Date.now();
    await waitFor(
      async () => {
        const view = (await rm.taskManagers()).find((candidate) => candidate.id === tm.id);
        return view !== undefined && view.lastHeartbeat > resetAt + timeout;
      },
      {
        timeoutMs: timeout + 5_000,
        description: `heartbeats from ${tm.id} a timeout after the reset`,
      },
    );

    expect(rm.lostLines(tm.id)).toEqual([]);
    expect(tm.linesMatching(/lost: |disconnected us/)).toEqual([]);
    expect(tm.registrations()).toHaveLength(1);
  }, 60_000);
});

import {
  Cluster,
  FAST_HEARTBEATS,
  noteTiming,
  sleep,
  type TaskManagerView,
} from './cluster-harness.js';
import { startProxiedTaskManager, type ProxiedTaskManager } from './proxied-task-manager.js';

const { interval, timeout } = FAST_HEARTBEATS;
/**
 * One way, 100 to 200 ms: a heartbeat's request and the reply that carries its answer take 200 to
 * 400 ms, longer than the interval (so requests overlap), yet well below the timeout.
 */
const LATENCY_MS = 100;
const JITTER_MS = 100;
/** Several timeouts' worth of delayed traffic. */
const DURATION_MS = 4 * timeout;
const POLL_MS = 100;

describe('delayed traffic between a TaskManager and the ResourceManager (real processes)', () => {
  const cluster = new Cluster();
  let link: ProxiedTaskManager | undefined;

  afterEach(async () => {
    await link?.close();
    await cluster.killAll();
  });

  it(`causes no false timeout with ${LATENCY_MS} ms latency and up to ${JITTER_MS} ms jitter each way`, async () => {
    link = await startProxiedTaskManager(cluster, { id: 'tm-d', slots: 2 });
    const { rm, tm, toResourceManager, toTaskManager } = link;
    toResourceManager.delay({ latencyMs: LATENCY_MS, jitterMs: JITTER_MS });
    toTaskManager.delay({ latencyMs: LATENCY_MS, jitterMs: JITTER_MS });

    const views: TaskManagerView[] = [];
    const until = Date.now() + DURATION_MS;
    for (let polls = 0; Date.now() < until && polls < DURATION_MS / POLL_MS; polls += 1) {
      const view = (await rm.taskManagers()).find((candidate) => candidate.id === 'tm-d');
      expect(view).toBeDefined(); // never dropped
      views.push(view!);
      await sleep(POLL_MS);
    }

    // No loss on either side, and no new registration.
    expect(rm.lostLines('tm-d')).toEqual([]);
    expect(tm.linesMatching(/lost: |disconnected us/)).toEqual([]);
    expect(tm.registrations()).toHaveLength(1);

    // Heartbeats kept coming: the last one kept advancing, and was never near the timeout old.
    const distinctHeartbeats = new Set(views.map((view) => view.lastHeartbeat)).size;
    expect(distinctHeartbeats).toBeGreaterThanOrEqual(DURATION_MS / (4 * interval));
    const worstSilence = Math.max(...views.map((view) => view.timeSinceLastHeartbeat));
    noteTiming('delay: longest silence seen by the ResourceManager', worstSilence, timeout);
    expect(worstSilence).toBeLessThan(timeout - interval);
    // The heartbeats really went through the delay, both ways: they travel on the
    // ResourceManager's connection to the TaskManager, a request and its reply each interval
    // (the connection to the ResourceManager only carries the registration).
    expect(toTaskManager.delayedChunks).toBeGreaterThan(DURATION_MS / (2 * interval));
  }, 60_000);
});

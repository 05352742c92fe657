import { parseSamples, seriesIn, valueIn } from '../fixtures/prometheus-samples.js';
import {
  Cluster,
  FAST_HEARTBEATS,
  HOST,
  TEST_TIMEOUT_MS,
  waitFor,
  type HeartbeatSettings,
} from './cluster-harness.js';

// The ResourceManager's /metrics and /health, scraped over HTTP from real processes: heartbeats
// counted while TaskManagers live, a SIGKILLed one counted as lost, and the totals kept after the
// ResourceManager has unmonitored it.

const MANAGER = { manager: 'taskManagers' };
const HEARTBEATS: HeartbeatSettings = FAST_HEARTBEATS;

async function scrape(port: number) {
  const response = await fetch(`http://${HOST}:${port}/metrics`, {
    signal: AbortSignal.timeout(5_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    samples: parseSamples(await response.text()),
  };
}

describe('the ResourceManager watched by Prometheus and a readiness probe (real processes)', () => {
  const cluster = new Cluster();
  afterEach(() => cluster.killAll());

  it(
    'serves heartbeat metrics in the Prometheus text format and a terminus health check',
    async () => {
      const rm = await cluster.startResourceManager({ heartbeat: HEARTBEATS });
      const token = await rm.ready();
      const staying = cluster.startTaskManager({
        id: 'tm-staying',
        slots: 1,
        resourceManagerTcpPort: rm.tcpPort,
        heartbeat: HEARTBEATS,
      });
      const dying = cluster.startTaskManager({
        id: 'tm-dying',
        slots: 1,
        resourceManagerTcpPort: rm.tcpPort,
        heartbeat: HEARTBEATS,
      });
      await Promise.all([staying.registered(token), dying.registered(token)]);

      const live = await waitFor(
        async () => {
          const scraped = await scrape(rm.httpPort);
          const heartbeats = valueIn(
            scraped.samples,
            'heartbeat_heartbeats_received_total',
            MANAGER,
          );
          return (heartbeats ?? 0) >= 4 && scraped;
        },
        { timeoutMs: 10_000, description: 'heartbeats of both TaskManagers to be counted' },
      );
      expect(live.status).toBe(200);
      expect(live.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(valueIn(live.samples, 'heartbeat_targets_monitored', MANAGER)).toBe(2);
      expect(valueIn(live.samples, 'heartbeat_round_trip_seconds_count', MANAGER)).toBeGreaterThan(
        0,
      );
      expect(
        valueIn(live.samples, 'heartbeat_time_since_last_heartbeat_seconds_count', MANAGER),
      ).toBe(2);

      const health = await rm.http<{ status: string; info: Record<string, { status: string }> }>(
        'GET',
        '/health',
      );
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({
        status: 'ok',
        info: { taskManagers: { status: 'up', targets: 2 } },
      });

      await dying.kill('SIGKILL');
      const afterLoss = await waitFor(
        async () => {
          const { samples } = await scrape(rm.httpPort);
          const lost =
            (valueIn(samples, 'heartbeat_timeouts_total', MANAGER) ?? 0) +
            (valueIn(samples, 'heartbeat_unreachable_total', MANAGER) ?? 0);
          return (
            lost === 1 && valueIn(samples, 'heartbeat_targets_monitored', MANAGER) === 1 && samples
          );
        },
        {
          timeoutMs: HEARTBEATS.timeout + 5_000,
          description: 'tm-dying to be counted as lost and unmonitored',
        },
      );
      // The ResourceManager has unmonitored it; the totals stay.
      expect((await rm.taskManagers()).map(({ id }) => id)).toEqual(['tm-staying']);
      expect(valueIn(afterLoss, 'heartbeat_time_since_last_heartbeat_seconds_count', MANAGER)).toBe(
        1,
      );
      const { samples: later } = await scrape(rm.httpPort);
      expect(
        (valueIn(later, 'heartbeat_timeouts_total', MANAGER) ?? 0) +
          (valueIn(later, 'heartbeat_unreachable_total', MANAGER) ?? 0),
      ).toBe(1);
      // Its port refused or reset the requests before it was declared lost.
      const failures = seriesIn(later, 'heartbeat_rpc_failures_total')
        .filter(({ labels }) => labels.manager === 'taskManagers')
        .reduce((sum, { value }) => sum + value, 0);
      expect(failures).toBeGreaterThanOrEqual(1);

      const healthAfter = await rm.http<{ status: string; info: Record<string, unknown> }>(
        'GET',
        '/health',
      );
      expect(healthAfter.status).toBe(200);
      expect(healthAfter.body).toMatchObject({
        status: 'ok',
        info: { taskManagers: { status: 'up', targets: 1 } },
      });
    },
    TEST_TIMEOUT_MS,
  );
});

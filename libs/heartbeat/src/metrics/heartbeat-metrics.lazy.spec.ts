import { jest } from '@jest/globals';
import type { Registry } from 'prom-client';

/*
 * prom-client is an optional peer: the library loads it only for a module whose metrics are
 * enabled. The mock counts every load of it in this file's module graph, the library included.
 */

let promClientLoads = 0;
jest.unstable_mockModule('prom-client', () => {
  promClientLoads += 1;
  return jest.requireActual('prom-client');
});

const { Test } = await import('@nestjs/testing');
const { ManualClock } = await import('../core/manual-clock.js');
const { HeartbeatModule } = await import('../nest/heartbeat.module.js');
const { HeartbeatHealthIndicator } = await import('../health/heartbeat-health.indicator.js');

async function startAndClose(metrics: boolean): Promise<void> {
  const clock = new ManualClock();
  const moduleRef = await Test.createTestingModule({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: 'rm-1',
        managers: { workers: 'sender' },
        clock,
        metrics,
      }),
    ],
  }).compile();
  await moduleRef.init();
  // The health indicator is there, for terminus, without prom-client either.
  await moduleRef.get(HeartbeatHealthIndicator).isHealthy('heartbeat', { manager: 'workers' });
  await moduleRef.close();
}

describe('loading prom-client', () => {
  it('happens only for a module with metrics enabled', async () => {
    await startAndClose(false);
    expect(promClientLoads).toBe(0);

    await startAndClose(true);
    expect(promClientLoads).toBe(1);
    const { register } = (await import('prom-client')) as unknown as { register: Registry };
    expect(register.getMetricsAsArray()).toEqual([]); // closed with its module
  });
});

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { HeartbeatEvent } from '../core/heartbeat-events.js';
import { ManualClock } from '../core/manual-clock.js';
import { HeartbeatIngress } from '../transport/heartbeat-ingress.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';

/* The registry's event streams: one manager's, and every manager's with the unrouted rejections. */

const START = 5_000_000;

async function start() {
  const clock = new ManualClock(START);
  const moduleRef = await Test.createTestingModule({
    imports: [
      HeartbeatModule.forRoot({
        resourceId: 'node-1',
        managers: { workers: 'receiver', supervisor: 'receiver' },
        clock,
      }),
    ],
  }).compile();
  await moduleRef.init();
  return {
    moduleRef,
    clock,
    registry: moduleRef.get(HeartbeatRegistry),
    ingress: moduleRef.get(HeartbeatIngress),
  };
}

describe('HeartbeatRegistry.events', () => {
  let warn: jest.SpiedFunction<Logger['warn']>;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('names each manager in its events, and merges them all with the rejections that named none', async () => {
    const { moduleRef, registry, ingress } = await start();
    try {
      const all: HeartbeatEvent[] = [];
      const workersOnly: HeartbeatEvent[] = [];
      registry.events().subscribe((event) => all.push(event));
      registry.events('workers').subscribe((event) => workersOnly.push(event));

      registry.getManager('workers').monitorTarget('w-1');
      registry.getManager('supervisor').monitorTarget('s-1');
      await ingress.handle('request', { manager: 'workers', origin: 'w-1', payload: null });
      await expect(
        ingress.handle('request', { manager: 'jobs', origin: 'x', payload: null }),
      ).rejects.toThrow('unknown heartbeat manager "jobs" (from x)');
      await expect(ingress.handle('request', 'garbage')).rejects.toThrow('must be an object');

      expect(all.map(({ type, manager }) => [type, manager])).toEqual([
        ['monitored', 'workers'],
        ['monitored', 'supervisor'],
        ['heartbeat', 'workers'],
        ['rejected', ''],
        ['rejected', ''],
      ]);
      expect(all.slice(3)).toEqual([
        expect.objectContaining({ peer: 'x', reason: 'unknown-manager' }),
        expect.objectContaining({ peer: 'unknown', reason: 'malformed' }),
      ]);
      expect(workersOnly.map(({ type }) => type)).toEqual(['monitored', 'heartbeat']);
      expect(() => registry.events('nope')).toThrow('nope');
    } finally {
      await moduleRef.close();
    }
  });

  it('logs a flood of rejections from one peer once per interval, with the count suppressed', async () => {
    const { moduleRef, clock, ingress } = await start();
    try {
      for (let attempt = 0; attempt < 1_000; attempt += 1) {
        await ingress
          .handle('request', { manager: 'jobs', origin: 'hostile', payload: null })
          .catch(() => undefined);
      }
      clock.advance(10_000);
      await ingress
        .handle('request', { manager: 'jobs', origin: 'hostile', payload: null })
        .catch(() => undefined);

      const lines = warn.mock.calls.map(([message]) => String(message));
      expect(lines).toEqual([
        'Rejected heartbeat request: unknown heartbeat manager "jobs" (from hostile)',
        'Rejected heartbeat request: unknown heartbeat manager "jobs" (from hostile) ' +
          '(999 more like it from this peer suppressed since its last line)',
      ]);
    } finally {
      await moduleRef.close();
    }
  });

  it('completes every stream when the application shuts down', async () => {
    const { moduleRef, registry } = await start();
    let completed = 0;
    registry.events().subscribe({ complete: () => (completed += 1) });
    registry.events('workers').subscribe({ complete: () => (completed += 1) });
    await moduleRef.close();
    expect(completed).toBe(2);
  });
});

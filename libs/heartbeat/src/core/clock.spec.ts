import { monotonicNow, systemClock, type Clock } from './clock.js';
import { HeartbeatServices } from './heartbeat-services.js';
import { ManualClock } from './manual-clock.js';
import { silentListener } from '../../../../test/fixtures/scripted-heartbeats.js';

describe('systemClock', () => {
  it('reads the wall clock as epoch ms and monotonic time from performance.now()', () => {
    const before = Date.now();
    const wall = systemClock.now();
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(Date.now());

    const first = systemClock.monotonicNow!();
    expect(first).toBeLessThanOrEqual(performance.now());
    expect(systemClock.monotonicNow!()).toBeGreaterThanOrEqual(first);
  });
});

describe('monotonicNow', () => {
  it("reads a clock's monotonic time, or its now() for a clock without one", () => {
    const manual = new ManualClock(1_000);
    manual.stepWallClock(500);
    expect(monotonicNow(manual)).toBe(1_000);
    expect(monotonicNow({ now: () => 42 })).toBe(42);
  });

  it('lets a custom clock without it drive the managers as before, by its now()', () => {
    const manual = new ManualClock();
    const custom: Clock = { now: () => manual.now() };
    const timedOut: string[] = [];
    const receiver = HeartbeatServices.fromConfiguration(
      { interval: 100, timeout: 500 },
      { clock: custom, scheduler: manual },
    ).createReceiverManager('observer', {
      ...silentListener,
      notifyHeartbeatTimeout: (id) => void timedOut.push(id),
    });
    receiver.monitorTarget('peer');

    manual.advance(300);
    void receiver.requestHeartbeat('peer', null);
    expect(receiver.getLastHeartbeatFrom('peer')).toBe(manual.now());
    manual.advance(499);
    expect(timedOut).toEqual([]);
    manual.advance(1);

    expect(timedOut).toEqual(['peer']);
    receiver.stop();
  });
});

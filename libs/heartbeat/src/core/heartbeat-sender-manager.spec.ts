import type { HeartbeatListener } from './heartbeat-listener.interface.js';
import { HeartbeatSenderManager, REQUESTS_PER_SLICE } from './heartbeat-sender-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';

const listener: HeartbeatListener<null, null> = {
  notifyHeartbeatTimeout: () => undefined,
  notifyTargetUnreachable: () => undefined,
  reportPayload: () => undefined,
  retrievePayload: () => null,
};

const SETTINGS = { interval: 100, timeout: 1_000, stallThreshold: -1 } as const;
/**
 * A round of 266 targets at a 1 s interval goes out in slices of 16 (the fewest a slice carries),
 * 14 ms apart: 17 slices spread over the first 250 ms (a quarter of the interval).
 */
const SLICED = { interval: 1_000, timeout: 5_000, stallThreshold: -1 } as const;
const SLICE = 16;
const GAP = 14;

/** A sender with `count` targets that record the time of every request they get. */
function senderWithTargets(count: number, settings: typeof SETTINGS | typeof SLICED = SETTINGS) {
  const clock = new ManualClock();
  const requested: string[] = [];
  const manager = HeartbeatServices.fromConfiguration(settings, {
    clock,
    scheduler: clock,
  }).createSenderManager('rm', listener);
  const ids = Array.from({ length: count }, (_, index) => `tm-${index}`);
  for (const id of ids) {
    const target: HeartbeatTarget<null> = {
      requestHeartbeat: () => {
        requested.push(id);
        return Promise.resolve();
      },
      receiveHeartbeat: () => Promise.resolve(),
    };
    manager.monitorTarget(id, target);
  }
  return { clock, manager, requested, ids };
}

describe('HeartbeatSenderManager: requests in slices', () => {
  const COUNT = 2 * REQUESTS_PER_SLICE + 10;

  it('sends a round of up to one slice at once, as Flink does', () => {
    const { clock, manager, requested, ids } = senderWithTargets(REQUESTS_PER_SLICE, SLICED);
    manager.start();
    clock.advance(0);
    expect(requested).toEqual(ids);
    manager.stop();
  });

  it('asks every target once per round, in slices spread over the first quarter of the interval, between which other tasks run', () => {
    const { clock, manager, requested, ids } = senderWithTargets(COUNT, SLICED);
    manager.start();
    const seenBetweenSlices: number[] = [];
    clock.schedule(() => seenBetweenSlices.push(requested.length), 0);

    clock.advance(0);
    expect(requested).toEqual(ids.slice(0, SLICE));
    expect(seenBetweenSlices).toEqual([SLICE]);
    clock.advance(GAP);
    expect(requested).toEqual(ids.slice(0, 2 * SLICE));
    clock.advance(14 * GAP); // the 16th slice, at 15 gaps
    expect(requested).toHaveLength(16 * SLICE);
    clock.advance(GAP);
    expect(requested).toEqual(ids);
    expect(clock.now() - 1_000_000).toBeLessThanOrEqual(SLICED.interval / 4);

    clock.advance(SLICED.interval - 16 * GAP); // the next round, on time
    expect(requested).toHaveLength(COUNT + SLICE);
    manager.stop();
  });

  it('does not ask a target unmonitored while its round was under way', () => {
    const { clock, manager, requested, ids } = senderWithTargets(COUNT, SLICED);
    manager.start();
    const last = ids[ids.length - 1];
    clock.schedule(() => manager.unmonitorTarget(last), 0);

    clock.advance(SLICED.interval / 4);

    expect(requested).toHaveLength(COUNT - 1);
    expect(requested).not.toContain(last);
    manager.stop();
  });

  it('stops in the middle of a round with no slice left pending', () => {
    const { clock, manager, requested } = senderWithTargets(COUNT, SLICED);
    manager.start();
    clock.schedule(() => manager.stop(), 0);

    clock.advance(10_000);

    expect(requested).toHaveLength(SLICE);
    expect(clock.pendingTasks).toBe(0);
  });

  it('schedules nothing more when a listener stops the manager in the middle of a slice', () => {
    const clock = new ManualClock();
    let asked = 0;
    const manager: HeartbeatSenderManager<null, null> = HeartbeatServices.fromConfiguration(
      SLICED,
      { clock, scheduler: clock },
    ).createSenderManager('rm', {
      ...listener,
      retrievePayload: () => {
        asked += 1;
        if (asked === 3) {
          manager.stop();
        }
        return null;
      },
    });
    const target: HeartbeatTarget<null> = {
      requestHeartbeat: () => Promise.resolve(),
      receiveHeartbeat: () => Promise.resolve(),
    };
    for (let index = 0; index < COUNT; index += 1) {
      manager.monitorTarget(`tm-${index}`, target);
    }
    manager.start();

    clock.advance(0);

    expect(asked).toBe(3);
    expect(clock.pendingTasks).toBe(0);
  });

  it('lets an unfinished round go on and starts the overdue one as soon as it ends, without gaps', () => {
    const { clock, manager, requested, ids } = senderWithTargets(COUNT, SLICED);
    // A scheduler that holds slices back, as an overloaded event loop would, past the next run.
    const slices: Array<{ task: () => void; delay: number }> = [];
    const schedule = clock.schedule.bind(clock);
    clock.schedule = (task, delay) => {
      // The slices (the next run is due a whole interval later).
      if (delay < SLICED.interval && requested.length > 0) {
        const held = { task, delay };
        slices.push(held);
        return { cancel: () => slices.splice(slices.indexOf(held), 1) };
      }
      return schedule(task, delay);
    };
    manager.start();
    clock.advance(0);
    expect(requested).toHaveLength(SLICE);

    clock.advance(SLICED.interval); // the next run falls due while the round is unfinished
    expect(requested).toHaveLength(SLICE);
    while (requested.length < COUNT && slices.length > 0) {
      slices.shift()!.task();
    }
    expect(requested).toEqual(ids); // the first round, finished
    const overdueDelays: number[] = [];
    while (slices.length > 0) {
      const { task, delay } = slices.shift()!;
      overdueDelays.push(delay);
      task();
    }

    expect(requested).toEqual([...ids, ...ids]); // then the overdue one, in full
    expect(new Set(overdueDelays)).toEqual(new Set([0])); // catching up, not spread
    manager.stop();
  });
});

/** The fake time of every request of a one-target sender. */
function timedSender() {
  const { clock, manager } = senderWithTargets(0);
  const times: number[] = [];
  manager.monitorTarget('tm', {
    requestHeartbeat: () => {
      times.push(clock.now());
      return Promise.resolve();
    },
    receiveHeartbeat: () => Promise.resolve(),
  });
  const start = clock.now();
  manager.start();
  clock.advance(0);
  return { clock, manager, times, start };
}

describe('HeartbeatSenderManager: rounds on planned times', () => {
  it('keeps to the planned times when a timer fires late: a late round does not push back the next', () => {
    const { clock, manager, times, start } = timedSender();
    clock.advance(99);
    clock.stall(20); // the round due at +100 runs at +119

    clock.advance(81); // to +200
    expect(times.map((time) => time - start)).toEqual([0, 119, 200]);
    manager.stop();
  });

  it('plans afresh from a run late by a whole interval or more (a stall), without a burst to catch up', () => {
    const { clock, manager, times, start } = timedSender();
    clock.advance(99);
    clock.stall(351); // the round due at +100 runs at +450

    clock.advance(100); // to +550
    expect(times.map((time) => time - start)).toEqual([0, 450, 550]);
    manager.stop();
  });
});

import type { Scheduler } from './clock.js';
import type {
  HeartbeatConfiguration,
  PhiAccrualDetectorOptions,
} from './heartbeat-configuration.js';
import type { HeartbeatListener } from './heartbeat-listener.interface.js';
import type { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import { ManualClock } from './manual-clock.js';
import { phi } from './phi-accrual.js';
import { phiSweepPeriod } from './silence-detection.js';
import { seededRandom } from '../../../../src/support/seeded-random.js';
import {
  flush,
  RecordingLogger,
  ScriptedTarget,
  silentListener,
} from '../../../../test/fixtures/scripted-heartbeats.js';

/*
 * The phi-accrual detector in the managers, on fake time: how soon it declares a target that
 * stopped, that jitter and this process's own stalls raise no false suspicion, that the timeout
 * stays an upper bound, and that it runs one sweep timer per manager.
 */

const INTERVAL = 1_000;
const TIMEOUT = 10_000;
const SWEEP = phiSweepPeriod(INTERVAL);
const PHI: PhiAccrualDetectorOptions = { kind: 'phi-accrual' };
/** Akka's defaults, as resolution fills them in. */
const PAUSE = 3_000;
const MIN_STD = 100;

/**
 * When phi declares a target that was heard from every `INTERVAL` exactly (after enough beats
 * that the seeds' deviation is below `MIN_STD`): phi passes 8 between 5 and 6 deviations past
 * mean + pause, since y·(1.5976 + 0.070566·y²) = 8·ln 10 has its root there; the sweep may see it
 * up to a period later.
 */
const EARLIEST_VERDICT = INTERVAL + PAUSE + 5 * MIN_STD;
const LATEST_VERDICT = INTERVAL + PAUSE + 6 * MIN_STD + SWEEP;

interface Loss {
  readonly id: string;
  /** Monotonic ms. */
  readonly at: number;
}

function rig(settings: Partial<HeartbeatConfiguration> = {}) {
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const losses: Loss[] = [];
  const listener: HeartbeatListener<unknown, unknown> = {
    notifyHeartbeatTimeout: (id) => void losses.push({ id, at: clock.monotonicNow() }),
    notifyTargetUnreachable: (id) => void losses.push({ id, at: clock.monotonicNow() }),
    reportPayload: () => undefined,
    retrievePayload: () => null,
  };
  const services = HeartbeatServices.fromConfiguration(
    { interval: INTERVAL, timeout: TIMEOUT, detector: PHI, ...settings },
    { clock, logger },
  );
  return { clock, logger, losses, listener, services };
}

/**
 * A peer that sends `receiver` a heartbeat request after each of `intervals` (ms of fake time,
 * on the clock's scheduler, so that a stall holds it back as it would hold back reading a socket).
 * Returns the monotonic times it was heard at.
 */
function peerSending(
  clock: ManualClock,
  receiver: HeartbeatReceiverManager,
  intervals: readonly number[],
): number[] {
  const heardAt: number[] = [];
  let next = 0;
  const beat = () => {
    void receiver.requestHeartbeat('peer', null);
    heardAt.push(clock.monotonicNow());
    next += 1;
    if (next < intervals.length) {
      clock.schedule(beat, intervals[next]);
    }
  };
  clock.schedule(beat, intervals[0]);
  return heardAt;
}

const steady = (count: number) => Array.from({ length: count }, () => INTERVAL);

/** How long a peer takes to send after all these intervals (1 ms more, for rounding). */
const timeOf = (intervals: readonly number[]) =>
  intervals.reduce((sum, interval) => sum + interval, 0) + 1;

/** Runs `ms` of fake time in 10 ms steps, letting RPC outcomes settle after each. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 10) {
    clock.advance(Math.min(10, left));
    await flush();
  }
}

/** A sender's target that answers every request at once until `die()`, then never again. */
function dyingTarget(clock: ManualClock) {
  const target = new ScriptedTarget(clock, 'peer');
  const answeredAt: number[] = [];
  target.reply = () => {
    answeredAt.push(clock.monotonicNow());
    return Promise.resolve({ origin: 'peer', payload: null });
  };
  return {
    target,
    answeredAt,
    die: () => {
      target.reply = () => new Promise(() => undefined);
    },
  };
}

/**
 * The monotonic times a `detector`'s receiver declared its one target lost, through cycles of
 * `running` ms of normal time and then a stall of `stall` ms, for 10 minutes from `heard`
 * heartbeats at each interval.
 */
function lossesUnderStalls(
  settings: Partial<HeartbeatConfiguration>,
  heard: number,
  running: number,
  stall: number,
): { losses: Loss[]; silentFrom: number } {
  const { clock, losses, listener, services } = rig(settings);
  const receiver = services.createReceiverManager('observer', listener);
  receiver.monitorTarget('peer');
  for (let beat = 0; beat < heard; beat += 1) {
    clock.advance(settings.interval ?? INTERVAL);
    void receiver.requestHeartbeat('peer', null);
  }
  const silentFrom = clock.monotonicNow();
  for (let elapsed = 0; elapsed < 600_000; elapsed += running + stall) {
    clock.advance(running);
    clock.stall(stall);
  }
  receiver.stop();
  return { losses, silentFrom };
}

describe('the phi-accrual detector', () => {
  describe('declares a target that stops well before the fixed timeout would', () => {
    it('on a receiver', () => {
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      const heardAt = peerSending(clock, receiver, steady(40));

      clock.advance(40 * INTERVAL + TIMEOUT);

      const last = heardAt.at(-1)!;
      expect(heardAt).toHaveLength(40);
      expect(losses).toHaveLength(1);
      expect(losses[0].id).toBe('peer');
      expect(losses[0].at - last).toBeGreaterThan(EARLIEST_VERDICT);
      expect(losses[0].at - last).toBeLessThanOrEqual(LATEST_VERDICT);
      expect(LATEST_VERDICT).toBeLessThan(TIMEOUT / 2);
      receiver.stop();
    });

    it('on a sender, with the same events and callbacks as a timeout', async () => {
      const { clock, losses, listener, services } = rig();
      const sender = services.createSenderManager('observer', listener);
      const changes: string[] = [];
      sender.changes.subscribe((event) => changes.push(event.type));
      const { target, answeredAt, die } = dyingTarget(clock);
      sender.monitorTarget('peer', target);
      sender.start();

      await run(clock, 40 * INTERVAL - 10); // 40 rounds, each answered at once
      die();
      await run(clock, TIMEOUT);

      const last = answeredAt.at(-1)!;
      expect(answeredAt).toHaveLength(40);
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - last).toBeGreaterThan(EARLIEST_VERDICT);
      expect(losses[0].at - last).toBeLessThanOrEqual(LATEST_VERDICT);
      expect(changes).toEqual(['monitored', 'timeout']);
      sender.stop();
    });
  });

  describe('raises no false suspicion under jitter, at the default threshold', () => {
    it('on a receiver: 2,000 intervals within ±30 %, with no acceptable pause at all', () => {
      const random = seededRandom(7);
      const { clock, losses, listener, services } = rig({
        detector: { kind: 'phi-accrual', acceptableHeartbeatPause: 0 },
      });
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      const intervals = Array.from({ length: 2_000 }, () => INTERVAL * (0.7 + 0.6 * random()));
      const heardAt = peerSending(clock, receiver, intervals);

      clock.advance(timeOf(intervals));

      expect(heardAt).toHaveLength(2_000);
      expect(losses).toEqual([]);
      receiver.stop();
    });

    it('on a receiver: bursty gaps of up to 3.5 s, covered by the default acceptable pause', () => {
      const random = seededRandom(11);
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      // Mostly on time, now and then up to 2.5 s late: a GC pause of the peer, a congested link.
      const intervals = Array.from({ length: 2_000 }, () => INTERVAL + 2_500 * random() ** 6);
      expect(Math.max(...intervals)).toBeGreaterThan(3_000);
      const heardAt = peerSending(clock, receiver, intervals);

      clock.advance(timeOf(intervals));

      expect(heardAt).toHaveLength(2_000);
      expect(losses).toEqual([]);
      receiver.stop();
    });

    it('on a sender: replies delayed by 0 to 400 ms at random', async () => {
      const random = seededRandom(23);
      const { clock, losses, listener, services } = rig();
      const sender = services.createSenderManager('observer', listener);
      const target = new ScriptedTarget(clock, 'peer');
      let answers = 0;
      target.reply = () =>
        new Promise((resolve) => {
          clock.schedule(() => {
            answers += 1;
            resolve({ origin: 'peer', payload: null });
          }, 400 * random());
        });
      sender.monitorTarget('peer', target);
      sender.start();

      await run(clock, 300 * INTERVAL);

      expect(answers).toBeGreaterThanOrEqual(299);
      expect(losses).toEqual([]);
      sender.stop();
    });

    it('while the same jitter does raise suspicion at a threshold of 1 with no pause: the sweep does judge', () => {
      const random = seededRandom(7);
      const { clock, losses, listener, services } = rig({
        detector: {
          kind: 'phi-accrual',
          threshold: 1,
          acceptableHeartbeatPause: 0,
          minStdDeviation: 10,
        },
      });
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      const intervals = Array.from({ length: 2_000 }, () => INTERVAL * (0.7 + 0.6 * random()));
      const heardAt = peerSending(clock, receiver, intervals);

      clock.advance(timeOf(intervals));

      // A live target, suspected within the silences its jitter makes.
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      const lastBeforeVerdict = heardAt.filter((at) => at <= losses[0].at).at(-1)!;
      expect(losses[0].at - lastBeforeVerdict).toBeLessThan(INTERVAL * 1.3 + SWEEP);
      expect(heardAt.at(-1)!).toBeGreaterThan(losses[0].at);
      receiver.stop();
    });
  });

  describe("excuses this process's own stall, longer than phi's detection time", () => {
    const STALL = 8_000;

    it('on a receiver: no suspicion for the stall, and still a timely verdict after', () => {
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      const stalls: number[] = [];
      receiver.changes.subscribe((event) => {
        if (event.type === 'stalled') {
          stalls.push(event.stallMs);
        }
      });
      receiver.monitorTarget('peer');
      const heardAt = peerSending(clock, receiver, steady(60));

      clock.advance(30 * INTERVAL + 500);
      clock.stall(STALL);
      expect(losses).toEqual([]);
      clock.advance(30 * INTERVAL + TIMEOUT);

      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toBeGreaterThanOrEqual(STALL);
      expect(heardAt).toHaveLength(60);
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      // The stalled interval was no sample: the verdict comes as soon as without the stall.
      expect(losses[0].at - heardAt.at(-1)!).toBeGreaterThan(EARLIEST_VERDICT);
      expect(losses[0].at - heardAt.at(-1)!).toBeLessThanOrEqual(LATEST_VERDICT);
      receiver.stop();
    });

    it('takes no sample of an interval the process stalled in, even one too short to suspect', () => {
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      const heardAt = peerSending(clock, receiver, steady(60));

      clock.advance(30 * INTERVAL + 500);
      clock.stall(3_000); // over the stall threshold (2 s), under phi's detection time
      clock.advance(30 * INTERVAL + TIMEOUT);

      // Taken as a sample, the 3.5 s interval would have raised the deviation past 400 ms.
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - heardAt.at(-1)!).toBeLessThanOrEqual(LATEST_VERDICT);
      receiver.stop();
    });

    it('takes no sample of the backlog read in a burst on resume, nor of the interval after it', () => {
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      const stalls: number[] = [];
      receiver.changes.subscribe((event) => {
        if (event.type === 'stalled') {
          stalls.push(event.stallMs);
        }
      });
      receiver.monitorTarget('peer');
      // The peer sends every interval whatever this process does: during a stall its heartbeats
      // queue up (on a socket), to be read at once on resume.
      const heardAt: number[] = [];
      for (let beat = 1; beat <= 60; beat += 1) {
        clock.schedule(() => {
          void receiver.requestHeartbeat('peer', null);
          heardAt.push(clock.monotonicNow());
        }, beat * INTERVAL);
      }

      clock.advance(20 * INTERVAL); // the 20th heartbeat
      clock.stall(3_500);
      clock.advance(40 * INTERVAL + TIMEOUT);

      expect(stalls).toHaveLength(1);
      expect(heardAt).toHaveLength(60);
      expect(heardAt.filter((at) => at === heardAt[19] + 3_500)).toHaveLength(3);
      // Taken as samples, the burst's 0 and 0 ms and the next 500 ms would have raised the
      // deviation to about 200 ms and put the verdict past LATEST_VERDICT.
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - heardAt.at(-1)!).toBeGreaterThan(EARLIEST_VERDICT);
      expect(losses[0].at - heardAt.at(-1)!).toBeLessThanOrEqual(LATEST_VERDICT);
      receiver.stop();
    });

    it('on a sender: no suspicion for the stall, and still a timely verdict after', async () => {
      const { clock, losses, listener, services } = rig();
      const sender = services.createSenderManager('observer', listener);
      const { target, answeredAt, die } = dyingTarget(clock);
      sender.monitorTarget('peer', target);
      sender.start();

      await run(clock, 30 * INTERVAL + 500);
      clock.stall(STALL);
      await flush();
      expect(losses).toEqual([]);
      await run(clock, 30 * INTERVAL);
      die();
      await run(clock, TIMEOUT);

      const last = answeredAt.at(-1)!;
      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - last).toBeGreaterThan(EARLIEST_VERDICT);
      expect(losses[0].at - last).toBeLessThanOrEqual(LATEST_VERDICT);
      sender.stop();
    });
  });

  it('takes no sample of a heartbeat that came once phi was past the threshold, before the sweep saw it', () => {
    const { clock, losses, listener, services } = rig();
    const receiver = services.createReceiverManager('observer', listener);
    receiver.monitorTarget('peer');
    // 29 samples of 1 s after the seeds: mean 1 s, deviation the least, 100 ms. Phi passes 8 at
    // a silence of 4,523 ms; the sweeps see the silence at each multiple of 100 ms, so one that
    // ends at 4,550 ms comes after phi crossed and before a sweep declared it.
    const late = 4_550;
    expect(phi(4_500, INTERVAL + PAUSE, MIN_STD)).toBeLessThan(8);
    expect(phi(late, INTERVAL + PAUSE, MIN_STD)).toBeGreaterThan(8);
    const heardAt = peerSending(clock, receiver, [...steady(30), late]);

    clock.advance(timeOf(steady(30)) + late);
    expect(losses).toEqual([]);
    expect(heardAt).toHaveLength(31);
    clock.advance(TIMEOUT);

    // Taken as a sample, the 4.55 s interval would have raised the deviation to over 600 ms and
    // put off the next verdict by about 3 s.
    expect(losses.map(({ id }) => id)).toEqual(['peer']);
    expect(losses[0].at - heardAt.at(-1)!).toBeGreaterThan(EARLIEST_VERDICT);
    expect(losses[0].at - heardAt.at(-1)!).toBeLessThanOrEqual(LATEST_VERDICT);
    receiver.stop();
  });

  describe('keeps the timeout as an upper bound', () => {
    it('declares a target silent for the timeout when phi would wait longer', () => {
      const { clock, losses, listener, services } = rig({
        detector: { kind: 'phi-accrual', acceptableHeartbeatPause: 60_000 },
      });
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      const heardAt = peerSending(clock, receiver, steady(20));

      clock.advance(20 * INTERVAL + 2 * TIMEOUT);

      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - heardAt.at(-1)!).toBeGreaterThanOrEqual(TIMEOUT);
      expect(losses[0].at - heardAt.at(-1)!).toBeLessThanOrEqual(TIMEOUT + SWEEP);
      receiver.stop();
    });

    it('judges a target never heard from by the timeout alone, however low the threshold', async () => {
      const { clock, losses, listener, services } = rig({
        detector: { kind: 'phi-accrual', threshold: 0.01, acceptableHeartbeatPause: 0 },
      });
      const sender = services.createSenderManager('observer', listener);
      const silent = new ScriptedTarget(clock, 'peer');
      silent.reply = () => new Promise(() => undefined);
      const startedAt = clock.monotonicNow();
      sender.monitorTarget('peer', silent);
      sender.start();

      await run(clock, TIMEOUT - 10);
      expect(losses).toEqual([]);
      await run(clock, SWEEP);

      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - startedAt).toBeGreaterThanOrEqual(TIMEOUT);
      expect(losses[0].at - startedAt).toBeLessThanOrEqual(TIMEOUT + SWEEP);
      sender.stop();
    });
  });

  describe('keeps the timeout an upper bound under repeated stalls of this process', () => {
    it('a target never heard from: interval 10 s, timeout 50 s, a 2.5 s stall every 30 s', () => {
      const settings = { interval: 10_000, timeout: 50_000 };
      const fixed = lossesUnderStalls({ ...settings, detector: 'fixed' }, 0, 27_500, 2_500);
      const withPhi = lossesUnderStalls(settings, 0, 27_500, 2_500);

      // Each phi verdict excused by a stall once restarted the timeout's window too: never declared.
      expect(fixed.losses.map(({ id }) => id)).toEqual(['peer']);
      expect(withPhi.losses.map(({ id }) => id)).toEqual(['peer']);
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBeGreaterThanOrEqual(50_000);
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBeLessThanOrEqual(
        50_000 + phiSweepPeriod(10_000),
      );
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBe(fixed.losses[0].at - fixed.silentFrom);
    });

    it('a target heard from, then silent: interval 1 s, timeout 20 s, a 2.5 s stall every 6 s', () => {
      const settings = { timeout: 20_000 };
      const fixed = lossesUnderStalls({ ...settings, detector: 'fixed' }, 20, 3_500, 2_500);
      const withPhi = lossesUnderStalls(settings, 20, 3_500, 2_500);

      // Every phi verdict falls in a stall and is excused; the timeout's, by the fixed rule, is not.
      expect(fixed.losses.map(({ id }) => id)).toEqual(['peer']);
      expect(withPhi.losses.map(({ id }) => id)).toEqual(['peer']);
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBeGreaterThanOrEqual(20_000);
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBeLessThanOrEqual(20_000 + SWEEP);
      expect(withPhi.losses[0].at - withPhi.silentFrom).toBe(fixed.losses[0].at - fixed.silentFrom);
    });

    it('still excuses a timeout that falls due in a stall, with a fresh window from its end', () => {
      const { clock, losses, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer'); // never heard from: only the timeout judges it
      clock.advance(TIMEOUT - 1_000);
      clock.stall(3_000); // over the stall threshold (2 s), across the deadline
      expect(losses).toEqual([]);
      const resumedAt = clock.monotonicNow();
      clock.advance(TIMEOUT + SWEEP);

      expect(losses.map(({ id }) => id)).toEqual(['peer']);
      expect(losses[0].at - resumedAt).toBeGreaterThanOrEqual(TIMEOUT);
      expect(losses[0].at - resumedAt).toBeLessThanOrEqual(TIMEOUT + SWEEP);
      receiver.stop();
    });
  });

  describe("caps its stall guard's threshold so that a stall the guard cannot see is covered by the acceptable pause", () => {
    it('sees a stall of 3 s (2 s threshold, 1.5 s pause) that would otherwise raise a false suspicion', () => {
      const { clock, logger, losses, listener, services } = rig({
        timeout: 30_000,
        stallThreshold: 2_000,
        detector: { kind: 'phi-accrual', acceptableHeartbeatPause: 1_500 },
      });
      const receiver = services.createReceiverManager('observer', listener);
      expect(receiver.configuration.stallThreshold).toBe(2_000); // as given: resolution throws not
      receiver.monitorTarget('peer');
      for (let beat = 1; beat <= 60; beat += 1) {
        clock.schedule(() => void receiver.requestHeartbeat('peer', null), beat * INTERVAL + 600);
      }

      // A stall right after a guard tick, under 1.5 × 2 s: a 2 s guard would not see it, and the
      // silence of 3.6 s past mean + pause (2.5 s) would be declared.
      clock.advance(20 * INTERVAL);
      clock.stall(2_990);
      clock.advance(2 * INTERVAL);

      expect(losses).toEqual([]);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toContain('this process stalled, no timer ran for 2990 ms');
      expect(logger.warnings[0]).toContain('(stall threshold 1000 ms)');
      receiver.stop();
    });

    it("words its stall warning for phi's verdicts as well as the timeout's", () => {
      const { clock, logger, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer');
      clock.advance(INTERVAL);
      clock.stall(3 * INTERVAL);
      clock.advance(0);

      expect(logger.warnings).toEqual([
        'Heartbeat manager observer: this process stalled, no timer ran for 3000 ms (stall ' +
          'threshold 2000 ms); phi verdicts on targets silent since before the stall, and ' +
          'timeouts falling due in or just after it, get a fresh window instead of being declared',
      ]);
      receiver.stop();
    });

    it('words the warning of a sender not started for a phi verdict, which may come before the timeout', () => {
      const { clock, logger, listener, services } = rig({ stallThreshold: -1 });
      const sender = services.createSenderManager('observer', listener);
      sender.monitorTarget('peer', new ScriptedTarget(clock, 'peer'));
      // The peer asks this sender (which asked nothing yet) for heartbeats, then falls silent.
      for (let beat = 0; beat < 20; beat += 1) {
        clock.advance(INTERVAL);
        void sender.requestHeartbeat('peer', null);
      }
      clock.advance(TIMEOUT / 2);

      expect(logger.warnings).toEqual([
        'Heartbeat sender observer: peer has been silent long enough to be declared lost, but this ' +
          "sender has not been started, so it has not asked for a heartbeat; its targets' verdicts " +
          "wait for start() (in Nest, the application's bootstrap starts the senders; outside " +
          'Nest, call start() on the sender HeartbeatServices.createSenderManager returns)',
      ]);
      sender.stop();
    });
  });

  describe('runs one sweep timer per manager, not one per target', () => {
    it('on a receiver: as many timers for 50 targets as for 1, and none once they are gone', () => {
      const { clock, listener, services } = rig();
      const receiver = services.createReceiverManager('observer', listener);
      receiver.monitorTarget('peer-0');
      const forOne = clock.pendingTasks; // the sweep and the stall guard's tick
      for (let index = 1; index < 50; index += 1) {
        receiver.monitorTarget(`peer-${index}`);
      }
      expect(forOne).toBe(2);
      expect(clock.pendingTasks).toBe(forOne);

      for (let index = 0; index < 50; index += 1) {
        receiver.unmonitorTarget(`peer-${index}`);
      }
      expect(clock.pendingTasks).toBe(0);
      receiver.stop();
    });

    it('where the fixed timeout keeps a timer per target, as in Flink', () => {
      const { clock, listener, services } = rig({ detector: 'fixed' });
      const receiver = services.createReceiverManager('observer', listener);
      for (let index = 0; index < 50; index += 1) {
        receiver.monitorTarget(`peer-${index}`);
      }
      expect(clock.pendingTasks).toBe(50 + 1);
      receiver.stop();
      expect(clock.pendingTasks).toBe(0);
    });

    it('on a sender: the loop, the sweep and the guard for any number of targets; nothing after stop()', async () => {
      const { clock, listener, services } = rig();
      const sender = services.createSenderManager('observer', listener);
      const silent = new ScriptedTarget(clock, 'peer');
      silent.reply = () => new Promise(() => undefined);
      sender.monitorTarget('peer-0', silent);
      sender.start();
      await run(clock, INTERVAL / 2);
      const forOne = clock.pendingTasks;
      for (let index = 1; index < 50; index += 1) {
        sender.monitorTarget(`peer-${index}`, silent);
      }
      await run(clock, 3 * INTERVAL);

      expect(forOne).toBe(3);
      expect(clock.pendingTasks).toBe(forOne);
      sender.stop();
      expect(clock.pendingTasks).toBe(0);
    });

    it('re-arms the same sweep timer: sweeping schedules no new one', () => {
      const clock = new ManualClock();
      let scheduled = 0;
      const counting: Scheduler = {
        schedule: (task, delay) => {
          scheduled += 1;
          return clock.schedule(task, delay);
        },
      };
      const receiver = HeartbeatServices.fromConfiguration(
        { interval: INTERVAL, timeout: TIMEOUT, detector: PHI, stallThreshold: -1 },
        { clock, scheduler: counting, logger: new RecordingLogger() },
      ).createReceiverManager('observer', silentListener);
      receiver.monitorTarget('peer');
      peerSending(clock, receiver, steady(20));

      clock.advance(20 * INTERVAL); // 200 sweeps, 20 heartbeats

      expect(scheduled).toBe(1);
      receiver.stop();
      expect(clock.pendingTasks).toBe(0);
    });
  });

  it('sweeps every tenth of the interval, at least every 5 ms', () => {
    expect(phiSweepPeriod(1_000)).toBe(100);
    expect(phiSweepPeriod(10_000)).toBe(1_000);
    expect(phiSweepPeriod(20)).toBe(5);
  });
});

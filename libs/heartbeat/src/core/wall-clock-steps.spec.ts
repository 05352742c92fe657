import type { HeartbeatEvent, HeartbeatReceivedEvent } from './heartbeat-events.js';
import type { HeartbeatDetector } from './heartbeat-configuration.js';
import type { HeartbeatListener } from './heartbeat-listener.interface.js';
import type { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import { ManualClock } from './manual-clock.js';
import {
  flush,
  RecordingLogger,
  ScriptedTarget,
} from '../../../../test/fixtures/scripted-heartbeats.js';

/*
 * Steps of the wall clock (NTP, an operator setting the time) during monitoring: every duration is
 * measured on the monotonic clock, so hours back or forward change no verdict and make no stall;
 * only the epoch times reported (getLastHeartbeatFrom, the events' `at`) follow the wall clock.
 */

const INTERVAL = 1_000;
const TIMEOUT = 5_000;
const ROUND_TRIP = 20;
const HOUR = 3_600_000;
/** Wall-clock steps (ms) and the monotonic offsets from the start at which they happen. */
const WALL_STEPS: ReadonlyArray<readonly [at: number, by: number]> = [
  [1_010, -3 * HOUR], // while the reply to the second round's request is on its way
  [2_500, +6 * HOUR],
  [3_990, -5 * HOUR],
  [4_990, +9 * HOUR], // just before the silent target's deadline
  [7_250, -4 * HOUR],
];
const RUN_FOR = 12_000;

const DETECTORS: ReadonlyArray<[string, HeartbeatDetector]> = [
  ['the fixed timeout', 'fixed'],
  ['phi-accrual', { kind: 'phi-accrual' }],
];

function rig(detector: HeartbeatDetector) {
  // A day in: the steps back by hours keep the wall clock above 0, as ManualClock requires.
  const clock = new ManualClock(24 * HOUR);
  const logger = new RecordingLogger();
  const start = clock.monotonicNow();
  const losses: Array<{ id: string; after: number }> = [];
  const listener: HeartbeatListener<unknown, unknown> = {
    notifyHeartbeatTimeout: (id) => void losses.push({ id, after: clock.monotonicNow() - start }),
    notifyTargetUnreachable: (id) => void losses.push({ id, after: clock.monotonicNow() - start }),
    reportPayload: () => undefined,
    retrievePayload: () => null,
  };
  const services = HeartbeatServices.fromConfiguration(
    { interval: INTERVAL, timeout: TIMEOUT, detector },
    { clock, logger },
  );
  return { clock, logger, start, losses, listener, services };
}

/**
 * Runs fake time until `until` ms after `start` (monotonic), in 10 ms steps, letting RPC outcomes
 * settle after each, stepping the wall clock where `WALL_STEPS` says and calling `each` with the
 * time elapsed since `start`.
 */
async function runWithWallSteps(
  clock: ManualClock,
  start: number,
  until: number,
  each: (elapsed: number) => void = () => undefined,
): Promise<void> {
  const steps = new Map(WALL_STEPS);
  while (clock.monotonicNow() - start < until) {
    clock.advance(10);
    await flush();
    const elapsed = clock.monotonicNow() - start;
    const by = steps.get(elapsed);
    if (by !== undefined) {
      clock.stepWallClock(by);
    }
    each(elapsed);
  }
}

/** The part of the requests a receiver gets from its sender: one every interval. */
function requestEveryInterval(receiver: HeartbeatReceiverManager, heardAt: number[] = []) {
  return (elapsed: number) => {
    if (elapsed % INTERVAL === 0) {
      void receiver.requestHeartbeat('rm', null);
      heardAt.push(receiver.getLastHeartbeatFrom('rm'));
    }
  };
}

function record(manager: HeartbeatReceiverManager) {
  const events: HeartbeatEvent[] = [];
  manager.events.subscribe((event) => events.push(event));
  return events;
}

describe.each(DETECTORS)('wall-clock steps, with %s', (_name, detector) => {
  it('change no verdict of a sender, nor its schedule, round trips or stall guard', async () => {
    const { clock, logger, start, losses, listener, services } = rig(detector);
    const sender = services.createSenderManager('rm', listener);
    const events = record(sender);
    const live = new ScriptedTarget(clock, 'live');
    live.delayMs = ROUND_TRIP;
    const dead = new ScriptedTarget(clock, 'dead');
    dead.reply = () => new Promise(() => undefined); // never answers
    sender.monitorTarget('live', live);
    sender.monitorTarget('dead', dead);
    sender.start();

    await runWithWallSteps(clock, start, RUN_FOR);

    // The dead target is declared once its timeout ran out on the monotonic clock (the phi
    // detector's sweep may see it up to one sweep, a tenth of an interval, later); the live one never.
    expect(losses.map(({ id }) => id)).toEqual(['dead']);
    expect(losses[0].after).toBeGreaterThanOrEqual(TIMEOUT);
    expect(losses[0].after).toBeLessThanOrEqual(TIMEOUT + INTERVAL / 10);
    // One request per interval all along, each answered after exactly its round trip.
    const heartbeats = events.filter(
      (event): event is HeartbeatReceivedEvent => event.type === 'heartbeat',
    );
    expect(heartbeats).toHaveLength(RUN_FOR / INTERVAL);
    expect(new Set(heartbeats.map((event) => event.roundTripMs))).toEqual(new Set([ROUND_TRIP]));
    expect(events.filter((event) => event.type === 'stalled')).toEqual([]);
    expect(logger.warnings).toEqual([]);
    sender.stop();
  });

  it("report each heartbeat at the wall clock's time", async () => {
    const { clock, start, listener, services } = rig(detector);
    const sender = services.createSenderManager('rm', listener);
    const events = record(sender);
    const live = new ScriptedTarget(clock, 'live');
    live.delayMs = ROUND_TRIP;
    sender.monitorTarget('live', live);
    sender.start();

    await runWithWallSteps(clock, start, RUN_FOR);
    // The last reply came at RUN_FOR - INTERVAL + ROUND_TRIP; the wall clock has not stepped since.
    const sinceLastReply = INTERVAL - ROUND_TRIP;
    expect(sender.getLastHeartbeatFrom('live')).toBe(clock.now() - sinceLastReply);
    clock.stepWallClock(-2 * HOUR);
    await runWithWallSteps(clock, start, RUN_FOR + INTERVAL);

    const last = events.filter((event) => event.type === 'heartbeat').at(-1)!;
    expect(last.at).toBe(clock.now() - sinceLastReply);
    expect(sender.getLastHeartbeatFrom('live')).toBe(last.at);
    sender.stop();
  });

  it('change no verdict of a receiver, nor its stall guard; its last heartbeats follow the wall clock', async () => {
    const { clock, logger, start, losses, listener, services } = rig(detector);
    const receiver = services.createReceiverManager('tm', listener);
    const events = record(receiver);
    receiver.monitorTarget('rm'); // asks every interval, as its sender does
    receiver.monitorTarget('ghost'); // never heard from
    const heardAt: number[] = [];

    await runWithWallSteps(clock, start, RUN_FOR, requestEveryInterval(receiver, heardAt));

    expect(losses.map(({ id }) => id)).toEqual(['ghost']);
    expect(losses[0].after).toBeGreaterThanOrEqual(TIMEOUT);
    expect(losses[0].after).toBeLessThanOrEqual(TIMEOUT + INTERVAL / 10);
    expect(receiver.getLastHeartbeatFrom('rm')).toBe(clock.now());
    // The wall clock went back and forth by hours between the heartbeats, as reported.
    expect(heardAt.at(-1)! - heardAt[0]).toBe(
      RUN_FOR - INTERVAL + WALL_STEPS.reduce((sum, [, by]) => sum + by, 0),
    );
    expect(events.filter((event) => event.type === 'stalled')).toEqual([]);
    expect(logger.warnings).toEqual([]);
    receiver.stop();
  });
});

describe('a real stall among wall-clock steps', () => {
  it('is still told from them: the stall guard reports the stall, and only it', async () => {
    const { clock, start, listener, services } = rig('fixed');
    const receiver = services.createReceiverManager('tm', listener);
    const events = record(receiver);
    receiver.monitorTarget('rm');

    await runWithWallSteps(clock, start, 3_000, requestEveryInterval(receiver));
    clock.stall(3_000); // the stall threshold is a quarter of the timeout, 1,250 ms
    await runWithWallSteps(clock, start, 10_000, requestEveryInterval(receiver));

    const stalls = events.filter((event) => event.type === 'stalled');
    expect(stalls).toHaveLength(1);
    expect(stalls[0].stallMs).toBeGreaterThanOrEqual(3_000);
    receiver.stop();
  });
});

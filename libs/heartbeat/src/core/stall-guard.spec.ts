import type { HeartbeatListener } from './heartbeat-listener.interface.js';
import type { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
import { HeartbeatServices } from './heartbeat-services.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';
import { StallGuard } from './stall-guard.js';

const TIMEOUT = 1_000;
const STALL_THRESHOLD = 200;

const answeringTarget: HeartbeatTarget<null> = {
  requestHeartbeat: () => Promise.resolve(),
  receiveHeartbeat: () => Promise.resolve(),
};

/** A receiver manager on fake time that records its timeouts (with their time) and warnings. */
function receiverRig(stallThreshold = STALL_THRESHOLD) {
  const clock = new ManualClock();
  const timeouts: Array<{ id: string; at: number }> = [];
  const warnings: string[] = [];
  const listener: HeartbeatListener<null, null> = {
    notifyHeartbeatTimeout: (id) => void timeouts.push({ id, at: clock.now() }),
    notifyTargetUnreachable: () => undefined,
    reportPayload: () => undefined,
    retrievePayload: () => null,
  };
  const manager = HeartbeatServices.fromConfiguration(
    { interval: 100, timeout: TIMEOUT, stallThreshold },
    {
      clock,
      scheduler: clock,
      logger: { warn: (message) => warnings.push(message), error: () => undefined },
    },
  ).createReceiverManager('observer', listener);
  return { clock, manager, timeouts, warnings, t0: clock.now() };
}

describe('ManualClock.stall', () => {
  it('runs nothing on the way, then every overdue task late, in due order, at the new time', () => {
    const clock = new ManualClock(0);
    const ran: Array<[string, number]> = [];
    clock.schedule(() => ran.push(['second', clock.now()]), 300);
    clock.schedule(() => ran.push(['first', clock.now()]), 100);
    clock.schedule(() => ran.push(['later', clock.now()]), 900);

    clock.stall(500);

    expect(ran).toEqual([
      ['first', 500],
      ['second', 500],
    ]);
    expect(clock.pendingTasks).toBe(1);
  });

  it('rejects a negative or non-finite stall', () => {
    const clock = new ManualClock();
    expect(() => clock.stall(-1)).toThrow('ManualClock.stall needs a finite number of ms >= 0');
    expect(() => clock.stall(Number.NaN)).toThrow(RangeError);
  });
});

describe('stall guard in the managers', () => {
  it('declares no target dead when the process itself stalls for twice the timeout', () => {
    const { clock, manager, timeouts, warnings } = receiverRig();
    manager.monitorTarget('tm-1', answeringTarget);
    manager.monitorTarget('tm-2', answeringTarget);
    clock.advance(300);

    clock.stall(2 * TIMEOUT);

    expect(timeouts).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('this process stalled, no timer ran for');
    expect(warnings[0]).toContain(`get a fresh ${TIMEOUT} ms window`);
    manager.stop();
  });

  it('names the length of the stall in its one warning', () => {
    const { clock, manager, warnings } = receiverRig();
    manager.monitorTarget('tm-1', answeringTarget);
    clock.advance(STALL_THRESHOLD / 2); // the guard ticks every half threshold: this is a tick

    clock.stall(1_500);

    expect(warnings).toEqual([expect.stringContaining('no timer ran for 1500 ms')]);
    manager.stop();
  });

  it('gives a fresh window: a target still silent after the stall is declared one timeout after the resume', () => {
    const { clock, manager, timeouts } = receiverRig();
    manager.monitorTarget('dead', answeringTarget);
    clock.advance(300);
    clock.stall(2 * TIMEOUT);
    const resumedAt = clock.now();

    clock.advance(TIMEOUT - 1);
    expect(timeouts).toEqual([]);
    clock.advance(1);

    expect(timeouts).toEqual([{ id: 'dead', at: resumedAt + TIMEOUT }]);
    manager.stop();
  });

  it('keeps a target alive whose heartbeat, held up by the stall, is read after the resume', async () => {
    const { clock, manager, timeouts } = receiverRig();
    manager.monitorTarget('alive', answeringTarget);
    clock.stall(3 * TIMEOUT);
    await manager.receiveHeartbeat('alive', null);

    clock.advance(TIMEOUT - 1);

    expect(timeouts).toEqual([]);
    expect(manager.getLastHeartbeatFrom('alive')).toBe(clock.now() - (TIMEOUT - 1));
    manager.stop();
  });

  it('excuses a timeout that fell due just before the stall ended, though its timer is barely late', () => {
    const { clock, manager, timeouts, warnings } = receiverRig();
    manager.monitorTarget('alive', answeringTarget);
    clock.advance(50);
    // The stall swallows the heartbeats of [50, 1005]; the timeout (due at 1000) runs 5 ms late.
    clock.stall(TIMEOUT - 50 + 5);

    expect(timeouts).toEqual([]);
    expect(warnings).toHaveLength(1);
    manager.stop();
  });

  it('does not delay the verdict on a target that went silent after a stall', async () => {
    const { clock, manager, timeouts } = receiverRig();
    manager.monitorTarget('tm', answeringTarget);
    clock.stall(500);
    clock.advance(10);
    await manager.receiveHeartbeat('tm', null);
    const lastHeartbeat = clock.now();

    clock.advance(2 * TIMEOUT);

    expect(timeouts).toEqual([{ id: 'tm', at: lastHeartbeat + TIMEOUT }]);
    manager.stop();
  });

  it('does not delay the verdict on a hung target when the stall ended well before its deadline', () => {
    const { clock, manager, timeouts, warnings, t0 } = receiverRig();
    manager.monitorTarget('hung', answeringTarget);
    clock.advance(100);
    clock.stall(400); // a stall early in the window: heartbeats it held up were read at 500

    clock.advance(2 * TIMEOUT);

    expect(warnings).toHaveLength(1);
    expect(timeouts).toEqual([{ id: 'hung', at: t0 + TIMEOUT }]);
    manager.stop();
  });

  it('does not count a pause shorter than the threshold as a stall', () => {
    const { clock, manager, timeouts, warnings } = receiverRig();
    manager.monitorTarget('dead', answeringTarget);
    clock.advance(TIMEOUT - 100); // the guard ticks every half threshold: this is a tick

    clock.stall(STALL_THRESHOLD - 10); // across the deadline, but shorter than the threshold

    expect(warnings).toEqual([]);
    expect(timeouts.map(({ id }) => id)).toEqual(['dead']);
    manager.stop();
  });

  it('is off with stallThreshold -1: a stall then reads as silence, as in Flink', () => {
    const { clock, manager, timeouts, warnings } = receiverRig(-1);
    manager.monitorTarget('tm', answeringTarget);
    expect(clock.pendingTasks).toBe(1); // only the timeout

    clock.stall(2 * TIMEOUT);

    expect(timeouts.map(({ id }) => id)).toEqual(['tm']);
    expect(warnings).toEqual([]);
    manager.stop();
  });

  it('ticks only while the manager monitors a target, and not after stop', () => {
    const { clock, manager } = receiverRig();
    expect(clock.pendingTasks).toBe(0);
    manager.monitorTarget('a', answeringTarget);
    manager.monitorTarget('b', answeringTarget);
    expect(clock.pendingTasks).toBe(3); // two timeouts and the guard's tick

    manager.unmonitorTarget('a');
    expect(clock.pendingTasks).toBe(2);
    manager.unmonitorTarget('b');
    expect(clock.pendingTasks).toBe(0);

    manager.monitorTarget('c', answeringTarget);
    manager.stop();
    expect(clock.pendingTasks).toBe(0);
  });

  it.each([
    ['on', STALL_THRESHOLD, []],
    ['off', -1, ['tm']],
  ])(
    'with the guard %s, a sender that stalls asks again on resume, and only the guard waits for the answer',
    (_label, stallThreshold, expected) => {
      const clock = new ManualClock();
      const timeouts: string[] = [];
      let sender: HeartbeatSenderManager<null, null> | undefined;
      const target: HeartbeatTarget<null> = {
        // A live receiver answers each request a few ms later, over the network.
        requestHeartbeat: () => {
          clock.schedule(() => void sender!.receiveHeartbeat('tm', null), 5);
          return Promise.resolve();
        },
        receiveHeartbeat: () => Promise.resolve(),
      };
      sender = HeartbeatServices.fromConfiguration(
        { interval: 100, timeout: TIMEOUT, stallThreshold },
        { clock, scheduler: clock, logger: { warn: () => undefined, error: () => undefined } },
      ).createSenderManager<null, null>('rm', {
        notifyHeartbeatTimeout: (id) => void timeouts.push(id),
        notifyTargetUnreachable: () => undefined,
        reportPayload: () => undefined,
        retrievePayload: () => null,
      });
      sender.start();
      sender.monitorTarget('tm', target);
      clock.advance(250);

      clock.stall(2 * TIMEOUT);
      clock.advance(3 * TIMEOUT);

      expect(timeouts).toEqual(expected);
      sender.stop();
    },
  );
});

/** A guard with a 100 ms threshold (a tick every 50 ms) on fake time from 0, recording its warnings. */
function guardRig() {
  const clock = new ManualClock(0);
  const warnings: string[] = [];
  const guard = new StallGuard({
    clock,
    scheduler: clock,
    logger: { warn: (message) => warnings.push(message), error: () => undefined },
    threshold: 100,
    describeStall: (gap) => `stalled ${gap}`,
  });
  return { clock, guard, warnings };
}

describe('StallGuard', () => {
  it('counts a stall when its tick runs at least the threshold late, and reports when it ended', () => {
    const { clock, guard, warnings } = guardRig();
    guard.start();
    expect(guard.isRunning).toBe(true);
    clock.advance(500);
    expect(guard.stalledAfter(0)).toBe(false);

    clock.stall(120); // its tick runs 70 ms late: less than the threshold
    expect(guard.stalledAfter(0)).toBe(false);

    clock.stall(400);
    expect(guard.stalledAfter(500)).toBe(true);
    expect(guard.stalledAfter(clock.now())).toBe(false);
    expect(warnings).toEqual(['stalled 400']);

    guard.stop();
    expect(guard.isRunning).toBe(false);
    expect(clock.pendingTasks).toBe(0);
  });

  it('measures a late tick from the tick before it, also when a timeout asked in between', () => {
    const { clock, guard, warnings } = guardRig();
    guard.start(); // ticks every 50 ms: the first at 50
    clock.schedule(() => guard.stalledAfter(0), 40); // a monitor's timer, just before a stall

    clock.advance(40);
    clock.stall(125); // the tick due at 50 runs at 165: 115 ms late

    expect(guard.stalledAfter(100)).toBe(true);
    expect(warnings).toEqual(['stalled 165']);
    guard.stop();
  });
});

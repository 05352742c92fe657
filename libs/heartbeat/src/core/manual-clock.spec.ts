import { ManualClock } from './manual-clock.js';

describe('ManualClock', () => {
  it('starts at the given time (1_000_000 by default) and only moves on advance', () => {
    expect(new ManualClock().now()).toBe(1_000_000);

    const clock = new ManualClock(500);
    expect(clock.now()).toBe(500);
    clock.advance(250);
    expect(clock.now()).toBe(750);
    clock.advance(0);
    expect(clock.now()).toBe(750);
  });

  it('runs nothing until advanced, and runs a task once it falls due', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    clock.schedule(() => ran.push(clock.now()), 100);

    expect(ran).toEqual([]);
    clock.advance(99);
    expect(ran).toEqual([]);
    clock.advance(1);
    expect(ran).toEqual([100]);
    clock.advance(1_000);
    expect(ran).toEqual([100]);
  });

  it('runs a task scheduled with delay 0 on advance(0), not at schedule time', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.schedule(() => ran.push('now'), 0);

    expect(ran).toEqual([]);
    clock.advance(0);
    expect(ran).toEqual(['now']);
  });

  it('treats a negative delay as 0', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    clock.schedule(() => ran.push(clock.now()), -50);

    clock.advance(0);
    expect(ran).toEqual([0]);
  });

  it('runs tasks in due order, whatever the order they were scheduled in', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.schedule(() => ran.push('c@30'), 30);
    clock.schedule(() => ran.push('a@10'), 10);
    clock.schedule(() => ran.push('b@20'), 20);

    clock.advance(100);
    expect(ran).toEqual(['a@10', 'b@20', 'c@30']);
  });

  it('runs tasks due at the same time in the order they were scheduled', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.schedule(() => ran.push('first'), 10);
    clock.schedule(() => ran.push('second'), 10);
    clock.schedule(() => ran.push('third'), 10);

    clock.advance(10);
    expect(ran).toEqual(['first', 'second', 'third']);
  });

  it('shows each task the time it fell due, then ends at the target time', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.schedule(() => seen.push(clock.now()), 10);
    clock.schedule(() => seen.push(clock.now()), 25);

    clock.advance(40);
    expect(seen).toEqual([10, 25]);
    expect(clock.now()).toBe(40);
  });

  it('runs a task scheduled during advance in the same call if it falls due, counting from its scheduling time', () => {
    const clock = new ManualClock(0);
    const ran: Array<[string, number]> = [];
    clock.schedule(() => {
      ran.push(['outer', clock.now()]);
      clock.schedule(() => ran.push(['inner', clock.now()]), 15);
      clock.schedule(() => ran.push(['too late', clock.now()]), 100);
    }, 10);
    clock.schedule(() => ran.push(['other', clock.now()]), 20);

    clock.advance(50);
    expect(ran).toEqual([
      ['outer', 10],
      ['other', 20],
      ['inner', 25],
    ]);

    clock.advance(60);
    expect(ran).toContainEqual(['too late', 110]);
  });

  it('runs a chain of self-rescheduling tasks at each due time (fixed delay)', () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    const tick = () => {
      ran.push(clock.now());
      clock.schedule(tick, 10);
    };
    clock.schedule(tick, 0);

    clock.advance(35);
    expect(ran).toEqual([0, 10, 20, 30]);
  });

  it('does not run a cancelled task, and cancelling twice is harmless', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    const cancelled = clock.schedule(() => ran.push('cancelled'), 10);
    clock.schedule(() => ran.push('kept'), 10);

    cancelled.cancel();
    cancelled.cancel();
    clock.advance(20);
    expect(ran).toEqual(['kept']);
  });

  it('lets a running task cancel a later task due in the same advance', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    const later = clock.schedule(() => ran.push('later'), 20);
    clock.schedule(() => {
      ran.push('canceller');
      later.cancel();
    }, 10);

    clock.advance(30);
    expect(ran).toEqual(['canceller']);
  });

  it('cancelling a task that already ran changes nothing', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    const task = clock.schedule(() => ran.push('ran'), 5);

    clock.advance(5);
    task.cancel();
    clock.advance(5);
    expect(ran).toEqual(['ran']);
  });

  it('counts pending tasks: neither run nor cancelled', () => {
    const clock = new ManualClock(0);
    expect(clock.pendingTasks).toBe(0);

    const a = clock.schedule(() => undefined, 10);
    clock.schedule(() => undefined, 20);
    clock.schedule(() => undefined, 30);
    expect(clock.pendingTasks).toBe(3);

    a.cancel();
    expect(clock.pendingTasks).toBe(2);

    clock.advance(20);
    expect(clock.pendingTasks).toBe(1);

    clock.advance(10);
    expect(clock.pendingTasks).toBe(0);
  });

  it('refuses to move time backwards or by a non-number', () => {
    const clock = new ManualClock(100);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(clock.now()).toBe(100);
  });

  it('refreshes a task as Node does: due its first delay from now, also after it ran, not after it was cancelled', () => {
    const clock = new ManualClock(0);
    const runs: number[] = [];
    const task = clock.schedule(() => runs.push(clock.now()), 100);

    clock.advance(60);
    task.refresh?.();
    clock.advance(99);
    expect(runs).toEqual([]);
    clock.advance(1);
    expect(runs).toEqual([160]);

    task.refresh?.(); // after it ran
    clock.advance(100);
    expect(runs).toEqual([160, 260]);
    task.refresh?.();
    task.cancel();
    task.refresh?.(); // after it was cancelled: nothing
    clock.advance(100);
    expect(runs).toEqual([160, 260]);
    expect(clock.pendingTasks).toBe(0);
  });
});

describe('ManualClock: wall clock and monotonic time', () => {
  it('starts both at the same reading and moves both with advance and stall', () => {
    const clock = new ManualClock(5_000);
    expect(clock.monotonicNow()).toBe(5_000);
    clock.advance(100);
    clock.stall(50);
    expect(clock.now()).toBe(5_150);
    expect(clock.monotonicNow()).toBe(5_150);
  });

  it('steps the wall clock alone, back or forward: no time passes and nothing runs', () => {
    const start = 2 * 3_600_000;
    const clock = new ManualClock(start);
    const runs: Array<[number, number]> = [];
    clock.schedule(() => runs.push([clock.now(), clock.monotonicNow()]), 100);

    clock.stepWallClock(-3_600_000);
    expect(clock.now()).toBe(start - 3_600_000);
    expect(clock.monotonicNow()).toBe(start);
    expect(runs).toEqual([]);
    clock.stepWallClock(7_200_000);
    clock.advance(99);
    expect(runs).toEqual([]);
    clock.advance(1);

    // The task fell due by monotonic time; the wall clock kept its offset.
    expect(runs).toEqual([[start + 100 + 3_600_000, start + 100]]);
  });

  it('rejects a step that would leave the wall clock at 0 or below, where the sentinels are', () => {
    const clock = new ManualClock(5_000);
    clock.stepWallClock(-4_000);
    expect(clock.now()).toBe(1_000);

    expect(() => clock.stepWallClock(-1_000)).toThrow(RangeError);
    expect(() => clock.stepWallClock(-1_000)).toThrow(
      'ManualClock.stepWallClock(-1000) would set the wall clock to 0 ms, but it must stay above 0',
    );
    expect(() => clock.stepWallClock(-3_600_000)).toThrow(RangeError);
    // A refused step changes nothing.
    expect(clock.now()).toBe(1_000);
    expect(clock.monotonicNow()).toBe(5_000);
    clock.stepWallClock(-999);
    expect(clock.now()).toBe(1);
  });

  it('rejects a step that is not a finite number of ms', () => {
    const clock = new ManualClock();
    expect(() => clock.stepWallClock(Number.NaN)).toThrow(
      'ManualClock.stepWallClock needs a finite number of ms',
    );
    expect(() => clock.stepWallClock(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

import { jest } from '@jest/globals';
import { SchedulerRegistry } from '@nestjs/schedule';
import { FIRST_RETRY_DELAY_MS, RetryBackoff } from './retry-backoff.js';

describe('RetryBackoff', () => {
  let scheduler: SchedulerRegistry;

  beforeEach(() => {
    jest.useFakeTimers();
    scheduler = new SchedulerRegistry();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('waits 100 ms, then twice as long each time up to the cap, and from 100 ms again after a reset', () => {
    const backoff = new RetryBackoff(scheduler, 'retry', 500);
    const runs: number[] = [];
    const delays: number[] = [];
    const retry = () => {
      runs.push(Date.now());
      if (runs.length < 5) {
        delays.push(backoff.schedule(retry));
      }
    };
    const start = Date.now();
    delays.push(backoff.schedule(retry));
    jest.advanceTimersByTime(100 + 200 + 400 + 500 + 500);
    expect(delays).toEqual([100, 200, 400, 500, 500]);
    expect(runs.map((at) => at - start)).toEqual([100, 300, 700, 1_200, 1_700]);
    expect(backoff.delay).toBe(500);

    backoff.reset();
    expect(backoff.delay).toBe(FIRST_RETRY_DELAY_MS);
  });

  it('keeps one retry pending under its name in the registry, cancelled or replaced by the next', () => {
    const backoff = new RetryBackoff(scheduler, 'retry', 1_000);
    const first = jest.fn();
    const second = jest.fn();
    backoff.schedule(first);
    expect(backoff.pending).toBe(true);
    expect(scheduler.getTimeouts()).toEqual(['retry']);
    backoff.schedule(second); // replaces the first
    jest.advanceTimersByTime(1_000);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    expect(backoff.pending).toBe(false);
    expect(scheduler.getTimeouts()).toEqual([]);

    backoff.schedule(first);
    backoff.cancel();
    backoff.cancel(); // nothing pending: no error
    jest.advanceTimersByTime(1_000);
    expect(first).not.toHaveBeenCalled();
  });

  it('never waits less than the first delay, whatever the cap', () => {
    const backoff = new RetryBackoff(scheduler, 'retry', 10);
    expect(backoff.schedule(() => undefined)).toBe(100);
    expect(backoff.schedule(() => undefined)).toBe(100);
  });
});

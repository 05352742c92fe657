import { jest } from '@jest/globals';
import { runQuickStart } from '../src/examples/quick-start.js';

describe('the README example (src/examples/quick-start.ts)', () => {
  it('logs growing worker payloads, then the stop, then exactly one timeout', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    let events: string[];
    try {
      events = [...(await runQuickStart())];
    } finally {
      log.mockRestore();
    }

    const stop = events.indexOf('worker-1 stops');
    expect(stop).toBeGreaterThan(0);
    expect(events.lastIndexOf('worker-1 stops')).toBe(stop);

    // Before the stop: only payload lines, several, with jobsDone growing one heartbeat at a time.
    const payloadLine = /^supervisor: worker-1 has done (\d+) jobs$/;
    const before = events.slice(0, stop);
    expect(before.length).toBeGreaterThanOrEqual(3);
    const jobsDone = before.map((line) => {
      expect(line).toMatch(payloadLine);
      return Number(payloadLine.exec(line)![1]);
    });
    for (let i = 1; i < jobsDone.length; i++) {
      expect(jobsDone[i]).toBeGreaterThan(jobsDone[i - 1]!);
    }

    // After it: exactly one timeout line (the handler unmonitors, so it cannot fire again), and
    // nothing else but possibly one payload already on the wire when the worker stopped.
    const after = events.slice(stop + 1);
    expect(after.filter((line) => line === 'supervisor: worker-1 timed out')).toHaveLength(1);
    expect(
      after.filter((line) => line !== 'supervisor: worker-1 timed out' && !payloadLine.test(line)),
    ).toEqual([]);
    expect(after.filter((line) => payloadLine.test(line)).length).toBeLessThanOrEqual(1);
    expect(events.at(-1)).toBe('supervisor: worker-1 timed out');
  }, 15_000);
});

import { KillDetections } from './kill-detections.js';

describe('KillDetections (the soak)', () => {
  const ids = ['host-1-target-0', 'host-1-target-1'];

  it("times each of a kill's targets from the kill, and names a loss nobody expected a false alarm", () => {
    const detections = new KillDetections();
    expect(detections.record('host-2-target-0', 'timeout', 5)).toBe(false);
    detections.begin(ids, 1_000);
    expect(detections.record(ids[0], 'unreachable', 1_250)).toBe(true);
    expect(detections.awaiting(ids)).toBe(true);
    expect(detections.record(ids[1], 'timeout', 4_000)).toBe(true);
    expect(detections.awaiting(ids)).toBe(false);
    expect(detections.record(ids[1], 'timeout', 4_100)).toBe(false); // declared twice
    expect(detections.end(ids)).toEqual({
      found: [
        { reason: 'unreachable', latency: 250 },
        { reason: 'timeout', latency: 3_000 },
      ],
      missed: [],
    });
  });

  it('counts for a host killed again only the detections of that kill, not those of the one before', () => {
    const detections = new KillDetections();
    detections.begin(ids, 1_000);
    detections.record(ids[0], 'timeout', 9_000);
    detections.record(ids[1], 'timeout', 9_500);
    expect(detections.end(ids).found).toHaveLength(2);

    // Same host, same target ids: one target is found, the other is missed.
    detections.begin(ids, 20_000);
    detections.record(ids[0], 'unreachable', 20_100);
    expect(detections.end(ids)).toEqual({
      found: [{ reason: 'unreachable', latency: 100 }],
      missed: [ids[1]],
    });
    // A missed target is no longer expected: its late loss is a false alarm.
    expect(detections.record(ids[1], 'timeout', 30_000)).toBe(false);
  });
});

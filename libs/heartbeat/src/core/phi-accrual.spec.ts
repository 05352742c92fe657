import { InterArrivalHistory, phi, PhiAccrualEstimator } from './phi-accrual.js';
import { seededRandom } from '../../../../src/support/seeded-random.js';

/** Mean and population standard deviation, computed directly. */
function statsOf(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

describe('phi', () => {
  // Akka's PhiAccrualFailureDetectorSpec, "return realistic phi values" (mean 1000, deviation 100).
  it.each([
    [0, 0.0],
    [500, 0.1],
    [1_000, 0.3],
    [1_200, 1.6],
    [1_400, 4.7],
    [1_600, 10.8],
    [1_700, 15.3],
  ])(
    'of a silence of %i ms is %d, as in Akka (to within 0.1, as its test has it)',
    (elapsed, expected) => {
      expect(Math.abs(phi(elapsed, 1_000, 100) - expected)).toBeLessThanOrEqual(0.1);
    },
  );

  it('is log10(2) at the mean: an even chance that the heartbeat is still to come', () => {
    expect(phi(1_000, 1_000, 100)).toBeCloseTo(Math.log10(2), 10);
  });

  it('grows with the silence, and stays a number far from the mean on either side', () => {
    const values = [0, 900, 1_000, 1_100, 1_300, 1_500, 2_000].map((t) => phi(t, 1_000, 100));
    expect(values).toEqual(values.toSorted((a, b) => a - b));
    expect(phi(-1e9, 1_000, 100)).toBeCloseTo(0, 12);
    expect(phi(1e9, 1_000, 100)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('InterArrivalHistory', () => {
  it('keeps the mean and population standard deviation of its samples', () => {
    const history = new InterArrivalHistory(10, 1_000);
    for (const interval of [900, 1_000, 1_100, 1_300]) {
      history.add(interval);
    }
    const expected = statsOf([900, 1_000, 1_100, 1_300]);
    expect(history.size).toBe(4);
    expect(history.mean).toBeCloseTo(expected.mean, 9);
    expect(history.stdDeviation).toBeCloseTo(expected.std, 9);
  });

  it('keeps only the latest `capacity` samples, dropping the oldest', () => {
    const history = new InterArrivalHistory(3, 1_000);
    for (const interval of [5_000, 100, 200, 300]) {
      history.add(interval);
    }
    expect(history.size).toBe(3);
    expect(history.mean).toBeCloseTo(200, 9);
    expect(history.stdDeviation).toBeCloseTo(statsOf([100, 200, 300]).std, 9);
  });

  it('does not drift over many samples: its running sums agree with the window computed anew', () => {
    const random = seededRandom(42);
    const history = new InterArrivalHistory(100, 1_000);
    const all: number[] = [];
    for (let index = 0; index < 200_000; index += 1) {
      const interval = 1_000 + (random() - 0.5) * 400 + (random() < 0.01 ? 5_000 : 0);
      all.push(interval);
      history.add(interval);
    }
    const expected = statsOf(all.slice(-100));
    expect(history.mean).toBeCloseTo(expected.mean, 6);
    expect(history.stdDeviation).toBeCloseTo(expected.std, 6);
  });

  it('has a deviation of 0 for equal samples, not NaN from rounding', () => {
    const history = new InterArrivalHistory(1_000, 1_000);
    for (let index = 0; index < 5_000; index += 1) {
      history.add(1_000.1);
    }
    expect(history.stdDeviation).toBeGreaterThanOrEqual(0);
    expect(history.stdDeviation).toBeLessThan(1e-6);
  });
});

describe('PhiAccrualEstimator', () => {
  const AKKA_SPEC = { threshold: 8, minStdDeviation: 10, acceptableHeartbeatPause: 0 };

  it('seeds its history as Akka does: mean = the estimate, deviation = a quarter of it', () => {
    const estimator = new PhiAccrualEstimator({ ...AKKA_SPEC, maxSampleSize: 1_000 }, 1_000);
    expect(estimator.sampleCount).toBe(2);
    // Akka's "return phi based on guess when only one heartbeat" (first estimate 1 s).
    expect(estimator.phi(1_000)).toBeCloseTo(0.3, 0);
    expect(Math.abs(estimator.phi(2_000) - 4.5)).toBeLessThan(0.3);
    expect(estimator.phi(3_000)).toBeGreaterThan(15);
    expect(estimator.phi(1_000)).toBeCloseTo(phi(1_000, 1_000, 250), 12);
  });

  it('adds acceptableHeartbeatPause to the mean and floors the deviation at minStdDeviation', () => {
    const settings = { threshold: 8, minStdDeviation: 100, maxSampleSize: 1_000 };
    const strict = new PhiAccrualEstimator({ ...settings, acceptableHeartbeatPause: 0 }, 1_000);
    const lenient = new PhiAccrualEstimator(
      { ...settings, acceptableHeartbeatPause: 3_000 },
      1_000,
    );
    for (let index = 0; index < 998; index += 1) {
      strict.addInterval(1_000);
      lenient.addInterval(1_000);
    }
    // Nearly all samples are 1 s: the deviation is tiny, floored at 100 ms.
    expect(strict.phi(1_300)).toBeCloseTo(phi(1_300, 1_000, 100), 1);
    expect(lenient.phi(4_300)).toBeCloseTo(strict.phi(1_300), 9);
    expect(strict.suspects(1_600)).toBe(true);
    expect(lenient.suspects(1_600)).toBe(false);
  });

  it('with maxSampleSize 1, judges by the latest interval alone', () => {
    const estimator = new PhiAccrualEstimator(
      { threshold: 8, minStdDeviation: 100, acceptableHeartbeatPause: 0, maxSampleSize: 1 },
      1_000,
    );
    expect(estimator.sampleCount).toBe(1);
    estimator.addInterval(2_000);
    expect(estimator.phi(2_000)).toBeCloseTo(Math.log10(2), 10);
  });

  it('suspects once phi exceeds the threshold, not before', () => {
    const estimator = new PhiAccrualEstimator(
      { threshold: 8, minStdDeviation: 100, acceptableHeartbeatPause: 0, maxSampleSize: 2 },
      1_000,
    );
    estimator.addInterval(1_000);
    estimator.addInterval(1_000);
    // y solves y * (1.5976 + 0.070566 y²) = 8 ln 10: between 5.2 and 5.25 deviations.
    expect(estimator.suspects(1_520)).toBe(false);
    expect(estimator.suspects(1_525)).toBe(true);
  });
});

/**
 * Phi of a silence of `elapsedMs` under a normal distribution of inter-arrival times (`mean`,
 * `stdDeviation`, both in ms): -log10 of the chance that the next heartbeat is still to come. It
 * uses Akka's logistic approximation of the normal CDF (`PhiAccrualFailureDetector.phi`): one
 * `exp` and one `log10`, and no error function to evaluate.
 */
export function phi(elapsedMs: number, mean: number, stdDeviation: number): number {
  const y = (elapsedMs - mean) / stdDeviation;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  // Two forms of the same value, each accurate on its side of the mean.
  return elapsedMs > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}

/**
 * The latest inter-arrival times of one target's heartbeats, at most `capacity` of them, with
 * their mean and standard deviation kept as running sums: O(1) per sample, and no allocation
 * after the ring buffer made at construction.
 *
 * The sums are of the samples' differences from `reference` (the expected interval), which keeps
 * them small: the variance is then not the difference of two large, nearly equal numbers.
 */
export class InterArrivalHistory {
  private readonly samples: Float64Array;
  /** Where the next sample goes: once full, the oldest one's slot. */
  private next = 0;
  private count = 0;
  private sum = 0;
  private sumOfSquares = 0;

  constructor(
    readonly capacity: number,
    private readonly reference: number,
  ) {
    this.samples = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds an inter-arrival time (ms), dropping the oldest one when full. */
  add(intervalMs: number): void {
    const shifted = intervalMs - this.reference;
    if (this.count === this.capacity) {
      const oldest = this.samples[this.next];
      this.sum -= oldest;
      this.sumOfSquares -= oldest * oldest;
    } else {
      this.count += 1;
    }
    this.samples[this.next] = shifted;
    this.sum += shifted;
    this.sumOfSquares += shifted * shifted;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
  }

  /** The mean inter-arrival time (ms); NaN while empty. */
  get mean(): number {
    return this.reference + this.sum / this.count;
  }

  /** The population standard deviation (ms), as Akka's; NaN while empty. */
  get stdDeviation(): number {
    const shiftedMean = this.sum / this.count;
    // Never below 0, which rounding of the running sums could otherwise leave.
    return Math.sqrt(Math.max(0, this.sumOfSquares / this.count - shiftedMean * shiftedMean));
  }
}

/** What the estimator needs of a resolved phi-accrual detector. */
export interface PhiAccrualSettings {
  readonly threshold: number;
  readonly minStdDeviation: number;
  readonly acceptableHeartbeatPause: number;
  readonly maxSampleSize: number;
}

/**
 * Akka's phi-accrual estimate for one target: its inter-arrival history, seeded as Akka seeds it
 * from a first-heartbeat estimate (`expectedIntervalMs`: two samples, the estimate plus and minus
 * a quarter of it, so mean = estimate and standard deviation = estimate / 4), and phi of a silence
 * under it, with `acceptableHeartbeatPause` added to the mean and `minStdDeviation` as the least
 * deviation.
 */
export class PhiAccrualEstimator {
  private readonly history: InterArrivalHistory;

  constructor(
    private readonly settings: PhiAccrualSettings,
    expectedIntervalMs: number,
  ) {
    this.history = new InterArrivalHistory(settings.maxSampleSize, expectedIntervalMs);
    const spread = expectedIntervalMs / 4;
    this.history.add(expectedIntervalMs - spread);
    this.history.add(expectedIntervalMs + spread);
  }

  /** How many inter-arrival times phi is computed from (the two seeds included, while they last). */
  get sampleCount(): number {
    return this.history.size;
  }

  /** Records an inter-arrival time (ms). */
  addInterval(intervalMs: number): void {
    this.history.add(intervalMs);
  }

  /** Phi of a silence of `elapsedMs` since the last heartbeat. */
  phi(elapsedMs: number): number {
    const { history, settings } = this;
    return phi(
      elapsedMs,
      history.mean + settings.acceptableHeartbeatPause,
      Math.max(history.stdDeviation, settings.minStdDeviation),
    );
  }

  /** Whether a silence of `elapsedMs` is past the threshold: the target is suspected. */
  suspects(elapsedMs: number): boolean {
    return this.phi(elapsedMs) > this.settings.threshold;
  }
}

/**
 * What the monitoring process counts: heartbeats (or checks) per target, and failures, over a
 * measurement window.
 */
export class Tally {
  /** Heartbeats in the window, and failures. */
  rounds = 0;
  errors = 0;
  /** Per target: its latest heartbeat. */
  private last = new Float64Array(0);
  /** Per target, the sums of a least-squares fit of heartbeat time t on heartbeat index k. */
  private count = new Uint32Array(0);
  private sumK = new Float64Array(0);
  private sumT = new Float64Array(0);
  private sumKK = new Float64Array(0);
  private sumKT = new Float64Array(0);
  private startedAt = performance.now();

  /** Tracks `targets` targets (indices 0 to targets − 1) from now on. */
  track(targets: number): void {
    this.last = new Float64Array(targets).fill(Number.NaN);
    this.count = new Uint32Array(targets);
    this.sumK = new Float64Array(targets);
    this.sumT = new Float64Array(targets);
    this.sumKK = new Float64Array(targets);
    this.sumKT = new Float64Array(targets);
  }

  /** Starts a window; each target's series starts with its last heartbeat before it. */
  reset(): void {
    this.rounds = 0;
    this.errors = 0;
    this.startedAt = performance.now();
    for (const sums of [this.count, this.sumK, this.sumT, this.sumKK, this.sumKT]) {
      sums.fill(0);
    }
    this.last.forEach((at, index) => {
      if (!Number.isNaN(at)) {
        this.add(index, at);
      }
    });
  }

  heartbeat(index: number): void {
    const now = performance.now();
    this.rounds += 1;
    if (index >= 0 && index < this.last.length) {
      this.last[index] = now;
      this.add(index, now);
    }
  }

  error(): void {
    this.errors += 1;
  }

  /**
   * Heartbeats per second: every target's own rate, summed; a target's rate is the slope of a
   * least-squares fit of its heartbeats' times on their index, from its last heartbeat before
   * the window to its last in it. Heartbeats ÷ window would depend on where the window's edges
   * fall in a round (one round more or less is ±5 % in 20 s); first to last in the window would
   * pick a late first and an early last at the edges (the same rule at both edges cancels that),
   * and two heartbeats alone carry the whole of their rounds' jitter (a fit of all halves it). In
   * a window too short for any target to answer twice, heartbeats ÷ window.
   */
  perSecond(): number {
    let sum = 0;
    for (let index = 0; index < this.count.length; index += 1) {
      const n = this.count[index];
      const k = this.sumK[index];
      const msPerHeartbeat =
        (n * this.sumKT[index] - k * this.sumT[index]) / (n * this.sumKK[index] - k * k);
      if (n > 1 && msPerHeartbeat > 0) {
        sum += 1_000 / msPerHeartbeat;
      }
    }
    return sum > 0 ? sum : (this.rounds * 1_000) / (performance.now() - this.startedAt);
  }

  /** Adds a heartbeat at `at` as the next point of the target's series. */
  private add(index: number, at: number): void {
    const k = this.count[index];
    const t = at - this.startedAt; // small numbers keep the sums precise
    this.count[index] = k + 1;
    this.sumK[index] += k;
    this.sumT[index] += t;
    this.sumKK[index] += k * k;
    this.sumKT[index] += k * t;
  }
}

/** The usual alternative: a terminus ping check of every target at the same interval. */
import { detect } from './detection.js';
import type { WindowResult } from './fleet.js';
import { interval, log, monitorConfig, plan, warmUp, windowMs, withFleet } from './plan.js';
import type { Distribution } from './stats.js';

export interface TerminusResult {
  readonly targets: number;
  readonly result: WindowResult;
  /** Refusing targets: first failed check − kill time. */
  readonly refusedKillToLoss: Distribution;
  /** Hung targets a ping check noticed (it only connects, and a hung process still accepts). */
  readonly hungDetected: number;
}

export async function measureTerminus(): Promise<TerminusResult> {
  const targets = plan.detectionSize;
  log(`terminus: pingCheck of ${targets} targets every ${interval} ms`);
  return withFleet(monitorConfig('terminus'), targets, async (fleet) => {
    await warmUp(interval, targets);
    const result = await fleet.measure(Math.min(windowMs, 10_000));
    const detection = await detect(fleet, plan.kills, 3 * interval);
    const hungIds = new Set(
      fleet.kills.filter((kill) => kill.mode === 'hang').map((kill) => kill.id),
    );
    return {
      targets,
      result,
      refusedKillToLoss: detection.refusedKillToLoss,
      hungDetected: fleet.losses.filter((loss) => hungIds.has(loss.id)).length,
    };
  });
}

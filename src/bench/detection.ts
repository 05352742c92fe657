/** Detection accuracy: targets killed at random moments, and when the monitor declared them lost. */
import type { Fleet, LossReport } from './fleet.js';
import { plan, sleep, timeout } from './plan.js';
import type { KillMode } from './protocol.js';
import { distribution, sample, type Distribution } from './stats.js';

export interface Detection {
  readonly targets: number;
  readonly kills: number;
  /** Hung targets: declared-loss time − last heartbeat − timeout. */
  readonly timeoutError: Distribution;
  /** Hung targets: declared-loss time − kill time. */
  readonly hungKillToLoss: Distribution;
  /** Refusing targets: declared-loss time − kill time. */
  readonly refusedKillToLoss: Distribution;
  /** Killed targets not declared lost by the end of the wait, or declared lost the other way. */
  readonly missed: number;
  readonly falseLosses: number;
}

/**
 * Makes `kills` targets hang and `kills` refuse, each at a random moment within
 * `plan.killSpreadMs`, waits up to `waitMs` after the last kill for their losses, and reports.
 */
export async function detect(fleet: Fleet, kills: number, waitMs: number): Promise<Detection> {
  const lossesBefore = fleet.losses.length;
  const victims = sample(fleet.targets, 2 * kills).map((target, index) => ({
    id: target.id,
    mode: (index < kills ? 'hang' : 'refuse') as KillMode,
  }));
  const timers = victims.map(({ id, mode }) =>
    setTimeout(() => fleet.kill(id, mode), Math.random() * plan.killSpreadMs),
  );
  const deadline = Date.now() + plan.killSpreadMs + waitMs;
  const modeOf = new Map(victims.map(({ id, mode }) => [id, mode]));
  const declared = () => fleet.losses.slice(lossesBefore);
  while (
    Date.now() < deadline &&
    declared().filter((loss) => modeOf.has(loss.id)).length < victims.length
  ) {
    await sleep(50);
  }
  timers.forEach(clearTimeout);
  const killedAt = new Map(fleet.kills.map((kill) => [kill.id, kill.at]));
  const losses = declared();
  const of = (mode: KillMode, kind: LossReport['kind']) =>
    losses.filter((loss) => modeOf.get(loss.id) === mode && loss.kind === kind);
  const hung = of('hang', 'timeout');
  // The library declares a refusing target unreachable; a terminus check simply fails.
  const refused = [...of('refuse', 'unreachable'), ...of('refuse', 'check-failed')];
  const sinceKill = (loss: LossReport) => loss.at - (killedAt.get(loss.id) ?? Number.NaN);
  return {
    targets: fleet.targets.length,
    kills,
    timeoutError: distribution(hung.map((loss) => loss.at - loss.lastHeartbeat - timeout)),
    hungKillToLoss: distribution(hung.map(sinceKill)),
    refusedKillToLoss: distribution(refused.map(sinceKill)),
    missed: victims.length - hung.length - refused.length,
    falseLosses: losses.filter((loss) => !modeOf.has(loss.id)).length,
  };
}

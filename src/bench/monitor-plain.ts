/**
 * The plain Nest floor: what a Nest user writes by hand for the same heartbeat. One `ClientTCP`
 * per target sends the library's request on the library's schedule; the reply's
 * `response.heartbeat` is the heartbeat. As a monitor must, it bounds each request by
 * `requestTimeout` (rxjs `timeout`, as Nest's docs show for `send`) and re-arms a per-target
 * `timeout` timer on every heartbeat, whose firing would be a loss.
 */
import 'reflect-metadata';
import { ClientTCP } from '@nestjs/microservices';
import { timeout as within } from 'rxjs';
import { everyInterval } from './schedule.js';
import {
  MONITOR_ID,
  REQUEST_PATTERN,
  TARGET_MANAGER,
  type HeartbeatResponse,
  type MonitorConfig,
  type TargetAddress,
} from './protocol.js';
import type { Tally } from './tally.js';

export function startPlainNestMonitor(
  config: MonitorConfig,
  tally: Tally,
): (targets: TargetAddress[]) => Promise<string> {
  const fail = () => tally.error();
  return async (targets) => {
    const clients = targets.map(({ host, port }) => new ClientTCP({ host, port }));
    const message = { manager: TARGET_MANAGER, origin: MONITOR_ID, payload: null };
    const silence = targets.map(() => null as NodeJS.Timeout | null);
    const heard = (index: number) => {
      clearTimeout(silence[index] ?? undefined);
      silence[index] = setTimeout(() => tally.error(), config.timeout);
      tally.heartbeat(index);
    };
    everyInterval(clients.length, config.interval, (index) => {
      // The reply completes the observable (isDisposed): its one value is the first reply.
      clients[index]
        .send<HeartbeatResponse>(REQUEST_PATTERN, message)
        .pipe(within(config.requestTimeout))
        .subscribe({
          next: (response) => (response?.heartbeat ? heard(index) : fail()),
          error: fail,
        });
    });
    return 'plain Nest (ClientTCP)';
  };
}

import type { SchedulerRegistry } from '@nestjs/schedule';

/** The first delay of a retry: a peer that is only starting is usually there by then. */
export const FIRST_RETRY_DELAY_MS = 100;

/** Where a `RetryBackoff` keeps its one pending timer: Nest's `SchedulerRegistry`. */
export type TimeoutRegistry = Pick<SchedulerRegistry, 'addTimeout' | 'deleteTimeout' | 'doesExist'>;

/**
 * Capped exponential backoff for an action retried until it succeeds (a registration, a request
 * for slots): FIRST_RETRY_DELAY_MS, doubled after every retry, at most `cap` (the heartbeat
 * interval: a peer that comes back is found within one); `reset` starts from the first delay
 * again. At most one retry is pending. Its timer lives in the `SchedulerRegistry` under `name`,
 * which clears it when the application shuts down, so none outlives the application.
 */
export class RetryBackoff {
  private next = FIRST_RETRY_DELAY_MS;
  private readonly cap: number;

  constructor(
    private readonly scheduler: TimeoutRegistry,
    private readonly name: string,
    cap: number,
  ) {
    this.cap = Math.max(FIRST_RETRY_DELAY_MS, cap);
  }

  /** The delay the next `schedule` waits. */
  get delay(): number {
    return this.next;
  }

  get pending(): boolean {
    return this.scheduler.doesExist('timeout', this.name);
  }

  /** Runs `retry` after the current delay, instead of any retry pending; the one after waits twice as long. */
  schedule(retry: () => void): number {
    const delay = this.next;
    this.cancel(); // one retry at a time: the registry refuses a second under the same name
    const timer = setTimeout(() => {
      this.cancel(); // it fired: the name is free again
      retry();
    }, delay);
    this.scheduler.addTimeout(this.name, timer);
    this.next = Math.min(delay * 2, this.cap);
    return delay;
  }

  /** After a success: the next retry waits the first delay again. */
  reset(): void {
    this.next = FIRST_RETRY_DELAY_MS;
  }

  cancel(): void {
    // The scheduler may have cleared it already, at shutdown.
    if (this.scheduler.doesExist('timeout', this.name)) {
      this.scheduler.deleteTimeout(this.name);
    }
  }
}

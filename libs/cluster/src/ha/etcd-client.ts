import { Etcd3 } from 'etcd3';

/** How long a call to etcd may take: past it, etcd counts as unreachable for that call. */
export const ETCD_CALL_TIMEOUT_MS = 2_000;

/**
 * An etcd client for the election and leader retrieval. Every unary call has a deadline (etcd3
 * sets none), so that a black-holed etcd fails calls instead of holding them, and shutdown with
 * them, for as long as TCP takes to give up; streams (watches, keepalives) have their own timeouts.
 */
export function createEtcdClient(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: ETCD_CALL_TIMEOUT_MS,
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + ETCD_CALL_TIMEOUT_MS },
    faultHandling: { watchBackoff: watchBackoff() },
  });
}

/** A backoff in the shape etcd3 takes (cockatiel's `IBackoff`). */
interface Backoff {
  readonly duration: number;
  next(context: unknown): Backoff;
}

/**
 * How long etcd3 waits before it reconnects a watch: from 100 ms, doubling, up to 1 s. Its default
 * grows to 30 s, so a leader's change could go unseen that long after etcd is back; and its timer
 * outlives `close()`, holding the process that long.
 */
function watchBackoff(duration = 100): Backoff {
  return { duration, next: () => watchBackoff(Math.min(duration * 2, 1_000)) };
}

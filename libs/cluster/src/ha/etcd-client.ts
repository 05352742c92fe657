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
  });
}

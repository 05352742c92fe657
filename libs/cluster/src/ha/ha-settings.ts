import { EnvironmentError, ID_PATTERN, readInteger } from '../env.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Where the ResourceManagers elect their leader, and where the TaskManagers look it up. */
export type HaSettings =
  | { readonly mode: 'none' }
  | {
      readonly mode: 'etcd';
      /** etcd's client URLs (`http://host:port`). */
      readonly endpoints: readonly string[];
      /** The key prefix: several clusters can share one etcd. */
      readonly clusterId: string;
      /** Seconds of the etcd lease behind leadership (at least 2, etcd's own minimum). */
      readonly leaseTtlSeconds: number;
    };

const ENDPOINT_PATTERN = /^https?:\/\/[A-Za-z0-9.:[\]-]{1,253}:\d{1,5}$/;
/** etcd's own minimum: its leases are granted for at least its election timeout. */
export const MIN_LEASE_TTL_SECONDS = 2;

const scheme = (endpoint: string) => endpoint.slice(0, endpoint.indexOf(':'));
const port = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));

function trimmed(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** HA_MODE (none | etcd), HA_ETCD_ENDPOINTS, HA_CLUSTER_ID and HA_LEASE_TTL_S; throws naming a bad one. */
export function readHaSettings(env: Env): HaSettings {
  const mode = trimmed(env, 'HA_MODE') ?? 'none';
  if (mode === 'none') {
    return { mode };
  }
  if (mode !== 'etcd') {
    throw new EnvironmentError(`HA_MODE must be none or etcd, got "${mode}"`);
  }
  const endpointsText = trimmed(env, 'HA_ETCD_ENDPOINTS') ?? 'http://127.0.0.1:2379';
  const endpoints = endpointsText.split(',').map((endpoint) => endpoint.trim());
  if (
    endpoints.length > 32 ||
    endpoints.some(
      (endpoint) =>
        !ENDPOINT_PATTERN.test(endpoint) ||
        port(endpoint) < 1 ||
        port(endpoint) > 65_535 ||
        // etcd3 speaks TLS to all of them or to none.
        scheme(endpoint) !== scheme(endpoints[0]),
    )
  ) {
    throw new EnvironmentError(
      `HA_ETCD_ENDPOINTS must be 1 to 32 comma-separated URLs like http://127.0.0.1:2379 (ports 1 to 65535, all http or all https), got "${endpointsText}"`,
    );
  }
  const clusterId = trimmed(env, 'HA_CLUSTER_ID') ?? 'default';
  if (!ID_PATTERN.test(clusterId)) {
    throw new EnvironmentError(
      `HA_CLUSTER_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got "${clusterId}"`,
    );
  }
  return {
    mode,
    endpoints,
    clusterId,
    leaseTtlSeconds: readInteger(env, 'HA_LEASE_TTL_S', 10, MIN_LEASE_TTL_SECONDS, 3_600),
  };
}

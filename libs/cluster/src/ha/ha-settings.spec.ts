import { EnvironmentError } from '../env.js';
import { MIN_LEASE_TTL_SECONDS, readHaSettings } from './ha-settings.js';

/** The EnvironmentError `readHaSettings` throws for `env`, checked to be one. */
function refusal(env: Record<string, string>): string {
  let thrown: unknown;
  try {
    readHaSettings(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(EnvironmentError);
  return (thrown as Error).message;
}

const etcd = { HA_MODE: 'etcd' };

describe('readHaSettings', () => {
  it('is off by default, whatever else is set', () => {
    expect(readHaSettings({})).toEqual({ mode: 'none' });
    expect(readHaSettings({ HA_MODE: 'none' })).toEqual({ mode: 'none' });
    expect(readHaSettings({ HA_MODE: '  ' })).toEqual({ mode: 'none' });
    // Without HA the other variables are not read, so they cannot be at fault.
    expect(
      readHaSettings({ HA_ETCD_ENDPOINTS: 'nonsense', HA_CLUSTER_ID: 'a/b', HA_LEASE_TTL_S: '1' }),
    ).toEqual({ mode: 'none' });
  });

  it('defaults etcd to a local endpoint, cluster "default" and a 10 s lease', () => {
    expect(readHaSettings(etcd)).toEqual({
      mode: 'etcd',
      endpoints: ['http://127.0.0.1:2379'],
      clusterId: 'default',
      leaseTtlSeconds: 10,
    });
    expect(readHaSettings({ HA_MODE: ' etcd ', HA_ETCD_ENDPOINTS: '', HA_CLUSTER_ID: '' })).toEqual(
      readHaSettings(etcd),
    );
  });

  it('reads the endpoints, the cluster id and the lease TTL', () => {
    expect(
      readHaSettings({
        ...etcd,
        HA_ETCD_ENDPOINTS:
          'http://10.0.0.1:2379, http://etcd-2.example.com:2379,http://[::1]:23790',
        HA_CLUSTER_ID: 'prod.eu-1:a_b',
        HA_LEASE_TTL_S: '30',
      }),
    ).toEqual({
      mode: 'etcd',
      endpoints: ['http://10.0.0.1:2379', 'http://etcd-2.example.com:2379', 'http://[::1]:23790'],
      clusterId: 'prod.eu-1:a_b',
      leaseTtlSeconds: 30,
    });
  });

  it("takes etcd's minimum lease TTL, 2 s, and refuses less", () => {
    expect(MIN_LEASE_TTL_SECONDS).toBe(2);
    expect(readHaSettings({ ...etcd, HA_LEASE_TTL_S: '2' })).toMatchObject({ leaseTtlSeconds: 2 });
    expect(refusal({ ...etcd, HA_LEASE_TTL_S: '1' })).toBe(
      'HA_LEASE_TTL_S must be an integer from 2 to 3600, got "1"',
    );
  });

  it.each(['0', '-5', '3601', '2.5', 'ten'])('refuses HA_LEASE_TTL_S=%s, naming it', (value) => {
    expect(refusal({ ...etcd, HA_LEASE_TTL_S: value })).toBe(
      `HA_LEASE_TTL_S must be an integer from 2 to 3600, got "${value}"`,
    );
  });

  it.each(['zookeeper', 'ETCD', 'true', 'etcd3'])('refuses HA_MODE=%s, naming it', (value) => {
    expect(refusal({ HA_MODE: value })).toBe(`HA_MODE must be none or etcd, got "${value}"`);
  });

  it.each([
    ['a host without a scheme', '127.0.0.1:2379'],
    ['a URL without a port', 'http://127.0.0.1'],
    ['another scheme', 'grpc://127.0.0.1:2379'],
    ['a path', 'http://127.0.0.1:2379/v3'],
    ['an empty entry', 'http://127.0.0.1:2379,,http://127.0.0.2:2379'],
    ['a trailing comma', 'http://127.0.0.1:2379,'],
    ['credentials in the URL', 'http://user:pw@127.0.0.1:2379'],
    ['port 0', 'http://127.0.0.1:0'],
    ['port 99999', 'http://127.0.0.1:99999'],
    [
      'http and https mixed (etcd3 takes TLS for all or none)',
      'https://10.0.0.1:2379,http://10.0.0.2:2379',
    ],
    [
      'more than 32 endpoints',
      Array.from({ length: 33 }, (_, i) => `http://10.0.0.${i + 1}:2379`).join(','),
    ],
  ])('refuses HA_ETCD_ENDPOINTS with %s, naming it and the value', (_case, value) => {
    expect(refusal({ ...etcd, HA_ETCD_ENDPOINTS: value })).toBe(
      `HA_ETCD_ENDPOINTS must be 1 to 32 comma-separated URLs like http://127.0.0.1:2379 (ports 1 to 65535, all http or all https), got "${value}"`,
    );
  });

  it('takes 32 endpoints', () => {
    const endpoints = Array.from({ length: 32 }, (_, i) => `http://10.0.0.${i + 1}:2379`);
    expect(readHaSettings({ ...etcd, HA_ETCD_ENDPOINTS: endpoints.join(',') })).toMatchObject({
      endpoints,
    });
  });

  it.each([
    ['a slash', 'prod/eu'],
    ['a space', 'prod eu'],
    ['129 characters', 'c'.repeat(129)],
    ['a non-ASCII letter', 'prödu'],
  ])('refuses an HA_CLUSTER_ID with %s, naming it and the value', (_case, value) => {
    expect(refusal({ ...etcd, HA_CLUSTER_ID: value })).toBe(
      `HA_CLUSTER_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got "${value}"`,
    );
  });
});

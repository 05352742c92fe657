import { EnvironmentError } from '#cluster';
import { readResourceManagerConfig } from './resource-manager.config.js';

/** The EnvironmentError `readResourceManagerConfig` throws for `env`, checked to be one. */
function refusal(env: NodeJS.ProcessEnv): string {
  let thrown: unknown;
  try {
    readResourceManagerConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(EnvironmentError);
  return (thrown as Error).message;
}

describe('readResourceManagerConfig', () => {
  it('defaults to a ResourceManager on 127.0.0.1:6123 (tcp) and :8081 (http), without HA', () => {
    expect(readResourceManagerConfig({})).toMatchObject({
      host: '127.0.0.1',
      tcpPort: 6_123,
      httpPort: 8_081,
      tls: null,
      ha: { mode: 'none' },
    });
  });

  it('reads the HA variables', () => {
    expect(
      readResourceManagerConfig({
        HA_MODE: 'etcd',
        HA_ETCD_ENDPOINTS: 'http://10.0.0.1:2379,http://10.0.0.2:2379',
        HA_CLUSTER_ID: 'cluster-1',
        HA_LEASE_TTL_S: '5',
      }).ha,
    ).toEqual({
      mode: 'etcd',
      endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      clusterId: 'cluster-1',
      leaseTtlSeconds: 5,
    });
    expect(readResourceManagerConfig({ HA_MODE: 'etcd' }).ha).toEqual({
      mode: 'etcd',
      endpoints: ['http://127.0.0.1:2379'],
      clusterId: 'default',
      leaseTtlSeconds: 10,
    });
  });

  it('refuses a bad HA variable, naming it', () => {
    expect(refusal({ HA_MODE: 'raft' })).toBe('HA_MODE must be none or etcd, got "raft"');
    expect(refusal({ HA_MODE: 'etcd', HA_LEASE_TTL_S: '1' })).toBe(
      'HA_LEASE_TTL_S must be an integer from 2 to 3600, got "1"',
    );
  });

  it.each(['RM_TCP_PORT', 'RM_HTTP_PORT'])(
    'refuses %s=0 with HA_MODE=etcd: a leader publishes its addresses for the others to find',
    (variable) => {
      expect(refusal({ HA_MODE: 'etcd', [variable]: '0' })).toBe(
        `${variable} must be a fixed port (not 0) with HA_MODE=etcd`,
      );
    },
  );

  it('reads JM_HEARTBEAT_TIMEOUT_MS for its jobMasters manager, defaulting to HEARTBEAT_TIMEOUT_MS', () => {
    expect(readResourceManagerConfig({}).jobMasterHeartbeatTimeout).toBe(50_000);
    expect(
      readResourceManagerConfig({ HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TIMEOUT_MS: '1500' })
        .jobMasterHeartbeatTimeout,
    ).toBe(1_500);
    const config = readResourceManagerConfig({
      HEARTBEAT_INTERVAL_MS: '200',
      HEARTBEAT_TIMEOUT_MS: '1500',
      JM_HEARTBEAT_TIMEOUT_MS: ' 4000 ',
    });
    expect(config.jobMasterHeartbeatTimeout).toBe(4_000);
    // The TaskManagers' timeout is its own.
    expect(config.heartbeat.timeout).toBe(1_500);
    expect(
      readResourceManagerConfig({ JM_HEARTBEAT_TIMEOUT_MS: '  ' }).jobMasterHeartbeatTimeout,
    ).toBe(50_000);
    // Equal to the interval is the least it may be.
    expect(
      readResourceManagerConfig({ HEARTBEAT_INTERVAL_MS: '200', JM_HEARTBEAT_TIMEOUT_MS: '200' })
        .jobMasterHeartbeatTimeout,
    ).toBe(200);
  });

  it.each([
    ['abc', 'JM_HEARTBEAT_TIMEOUT_MS must be an integer, got "abc"'],
    ['1.5', 'JM_HEARTBEAT_TIMEOUT_MS must be an integer, got "1.5"'],
    ['0', 'JM_HEARTBEAT_TIMEOUT_MS must be a number of ms > 0 and <= 2147483647, got "0"'],
    ['-5', 'JM_HEARTBEAT_TIMEOUT_MS must be a number of ms > 0 and <= 2147483647, got "-5"'],
    [
      '2147483648',
      'JM_HEARTBEAT_TIMEOUT_MS must be a number of ms > 0 and <= 2147483647, got "2147483648"',
    ],
    ['9999', 'JM_HEARTBEAT_TIMEOUT_MS must be at least HEARTBEAT_INTERVAL_MS (10000), got "9999"'],
  ])('refuses JM_HEARTBEAT_TIMEOUT_MS=%s, naming it', (value, message) => {
    expect(refusal({ JM_HEARTBEAT_TIMEOUT_MS: value })).toBe(message);
  });

  it('takes port 0 (any free port) without HA, and fixed ports with HA', () => {
    expect(readResourceManagerConfig({ RM_TCP_PORT: '0', RM_HTTP_PORT: '0' })).toMatchObject({
      tcpPort: 0,
      httpPort: 0,
    });
    expect(
      readResourceManagerConfig({ HA_MODE: 'etcd', RM_TCP_PORT: '7123', RM_HTTP_PORT: '9081' }),
    ).toMatchObject({ tcpPort: 7_123, httpPort: 9_081, ha: { mode: 'etcd' } });
  });
});

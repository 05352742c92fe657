import { EnvironmentError } from '#cluster';
import {
  largestAnswerToJobMaster,
  largestJobMasterFrame,
  readJobMasterConfig,
} from './job-master.config.js';

/** The EnvironmentError `readJobMasterConfig` throws for `env`, checked to be one. */
function refusal(env: NodeJS.ProcessEnv): string {
  let thrown: unknown;
  try {
    readJobMasterConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(EnvironmentError);
  return (thrown as Error).message;
}

describe('readJobMasterConfig', () => {
  it('defaults to a JobMaster on 127.0.0.1 (any tcp port, http :8082), its ResourceManager at 127.0.0.1:6123, without HA', () => {
    const config = readJobMasterConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      tcpPort: 0,
      httpPort: 8_082,
      resourceManager: { host: '127.0.0.1', port: 6_123 },
      tls: null,
      ha: { mode: 'none' },
      // Flink's defaults.
      heartbeat: { interval: 10_000, timeout: 50_000, rpcFailureThreshold: 2 },
    });
    expect(config.id).toMatch(/^jobmaster-[0-9a-f]{8}$/);
    // A new id for every start.
    expect(readJobMasterConfig({}).id).not.toBe(config.id);
  });

  it('reads its variables, trimmed', () => {
    expect(
      readJobMasterConfig({
        JM_ID: ' jm-1 ',
        JM_HOST: '10.0.0.7',
        JM_TCP_PORT: '6130',
        JM_HTTP_PORT: '0',
        RM_HOST: 'rm.local',
        RM_TCP_PORT: '7123',
        HEARTBEAT_INTERVAL_MS: '200',
        HEARTBEAT_TIMEOUT_MS: '1000',
      }),
    ).toMatchObject({
      id: 'jm-1',
      host: '10.0.0.7',
      tcpPort: 6_130,
      httpPort: 0,
      resourceManager: { host: 'rm.local', port: 7_123 },
      heartbeat: { interval: 200, timeout: 1_000 },
    });
  });

  it('reads the HA variables (the ResourceManager is then the leader etcd names)', () => {
    expect(readJobMasterConfig({ HA_MODE: 'etcd', HA_CLUSTER_ID: 'cluster-1' }).ha).toMatchObject({
      mode: 'etcd',
      clusterId: 'cluster-1',
    });
  });

  it.each([
    [
      'JM_ID',
      { JM_ID: 'job master' },
      'JM_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got "job master"',
    ],
    [
      'a long JM_ID',
      { JM_ID: 'x'.repeat(129) },
      `JM_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got "${'x'.repeat(129)}"`,
    ],
    [
      'JM_HOST',
      { JM_HOST: 'http://host' },
      'JM_HOST must be a host name or IP address, got "http://host"',
    ],
    [
      'JM_TCP_PORT',
      { JM_TCP_PORT: '65536' },
      'JM_TCP_PORT must be an integer from 0 to 65535, got "65536"',
    ],
    [
      'JM_HTTP_PORT',
      { JM_HTTP_PORT: '80a' },
      'JM_HTTP_PORT must be an integer from 0 to 65535, got "80a"',
    ],
    [
      'RM_TCP_PORT',
      { RM_TCP_PORT: '-1' },
      'RM_TCP_PORT must be an integer from 0 to 65535, got "-1"',
    ],
    ['RM_HOST', { RM_HOST: 'rm host' }, 'RM_HOST must be a host name or IP address, got "rm host"'],
    [
      'HEARTBEAT_INTERVAL_MS',
      { HEARTBEAT_INTERVAL_MS: 'soon' },
      'HEARTBEAT_INTERVAL_MS must be an integer, got "soon"',
    ],
    [
      'interval longer than the timeout',
      { HEARTBEAT_INTERVAL_MS: '2000', HEARTBEAT_TIMEOUT_MS: '1000' },
      'HEARTBEAT_INTERVAL_MS must be at most HEARTBEAT_TIMEOUT_MS (1000), got "2000"',
    ],
    ['HA_MODE', { HA_MODE: 'zookeeper' }, 'HA_MODE must be none or etcd, got "zookeeper"'],
  ])('refuses a bad %s, naming the variable', (_what, env, message) => {
    expect(refusal(env)).toBe(message);
  });

  it('refuses a frame limit its largest registration or heartbeat would not fit', () => {
    const needed = largestJobMasterFrame();
    // 256 jobs of 128-character ids fit the default limit (65,536), with room to spare.
    expect(needed).toBeGreaterThan(256 * 128);
    expect(needed).toBeLessThan(65_536);
    expect(refusal({ TCP_MAX_BUFFER_SIZE: String(needed - 1) })).toBe(
      `TCP_MAX_BUFFER_SIZE must be at least ${needed} for a JobMaster (its largest heartbeat or registration), got "${needed - 1}"`,
    );
    expect(readJobMasterConfig({ TCP_MAX_BUFFER_SIZE: String(needed) }).frameLimits).toMatchObject({
      maxBufferSize: needed,
    });
  });

  it('reads answers with limits raised to the largest slot grant, whatever TCP_MAX_BUFFER_SIZE says', () => {
    const needed = largestAnswerToJobMaster();
    expect(needed).toBeGreaterThan(65_536);
    const config = readJobMasterConfig({});
    expect(config.frameLimits.maxBufferSize).toBe(65_536);
    expect(config.answerLimits).toEqual({ ...config.frameLimits, maxBufferSize: needed });
    const roomy = readJobMasterConfig({ TCP_MAX_BUFFER_SIZE: String(needed + 1) });
    expect(roomy.answerLimits.maxBufferSize).toBe(needed + 1);
  });
});

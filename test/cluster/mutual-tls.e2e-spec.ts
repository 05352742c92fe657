import { readFileSync } from 'node:fs';
import { ResourceManagerPatterns } from '#cluster';
import { HEARTBEAT_RECEIVE_PATTERN } from 'nestjs-heartbeat';
import { sendRaw } from '../fixtures/raw-client.js';
import { TestCertificates, type TlsFiles } from '../fixtures/test-certificates.js';
import {
  Cluster,
  RESOURCE_MANAGER_MAIN,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

const REGISTRATION_FAILED =
  /Registration with the ResourceManager at \S+ failed \((.+)\); retrying/;

describe('mutual TLS between the apps (real processes)', () => {
  const cluster = new Cluster();
  let certificates: TestCertificates;
  let resourceManagerFiles: TlsFiles;
  let taskManagerFiles: TlsFiles;
  /** A certificate from another CA, held by a peer that trusts the cluster's CA. */
  let rogueFiles: TlsFiles;
  let rm: ResourceManagerProcess;
  let goodTm: TaskManagerProcess;
  let fencingToken: string;

  beforeAll(async () => {
    certificates = new TestCertificates();
    const clusterCa = certificates.authority('cluster-ca');
    const rogueCa = certificates.authority('rogue-ca');
    resourceManagerFiles = certificates.issue(clusterCa, 'resource-manager');
    taskManagerFiles = certificates.issue(clusterCa, 'taskmanager');
    rogueFiles = certificates.issue(rogueCa, 'rogue', clusterCa);

    rm = await cluster.startResourceManager({ env: TestCertificates.env(resourceManagerFiles) });
    goodTm = cluster.startTaskManager({
      id: 'tm-trusted',
      slots: 2,
      resourceManagerTcpPort: rm.tcpPort,
      env: TestCertificates.env(taskManagerFiles),
    });
    fencingToken = await rm.ready();
    await goodTm.registered(fencingToken);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await cluster.killAll();
    certificates.remove();
  });

  /** The trusted TaskManager is listed, and its heartbeats keep arriving (its last one is fresh). */
  async function expectTrustedTaskManagerServed(): Promise<void> {
    const first = await waitFor(
      async () => (await rm.taskManagers()).find((view) => view.id === 'tm-trusted'),
      { timeoutMs: 5_000, description: 'tm-trusted to be listed' },
    );
    const later = await waitFor(
      async () =>
        (await rm.taskManagers()).find(
          (view) => view.id === 'tm-trusted' && view.lastHeartbeat > first.lastHeartbeat,
        ),
      { timeoutMs: 5_000, description: 'a newer heartbeat from tm-trusted' },
    );
    expect(later.timeSinceLastHeartbeat).toBeLessThan(1_500);
    expect(rm.lostLines('tm-trusted')).toEqual([]);
  }

  it(
    'a TaskManager with a certificate from the configured CA registers and heartbeats',
    async () => {
      expect(rm.findLine(/ready: tcp 127\.0\.0\.1:\d+ \(mutual TLS\)/)).toBeDefined();
      expect(
        goodTm.findLine(/listening on 127\.0\.0\.1:\d+ with 2 slots \(mutual TLS\)/),
      ).toBeDefined();
      await expectTrustedTaskManagerServed();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a TaskManager whose certificate comes from another CA cannot register',
    async () => {
      const rogue = cluster.startTaskManager({
        id: 'tm-rogue',
        slots: 2,
        resourceManagerTcpPort: rm.tcpPort,
        env: TestCertificates.env(rogueFiles),
      });
      await waitFor(() => rogue.linesMatching(REGISTRATION_FAILED).length >= 3, {
        timeoutMs: 10_000,
        description: 'tm-rogue to fail to register three times',
      });
      expect(rogue.registrations()).toEqual([]);
      expect((await rm.taskManagers()).map((view) => view.id)).toEqual(['tm-trusted']);
      expect(
        rm.findLine(
          /WARN \[ResourceManager\] Refused a connection in the TLS handshake \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
        ),
      ).toBeDefined();
      await rogue.kill();
      await expectTrustedTaskManagerServed();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a TaskManager without TLS cannot register',
    async () => {
      const plain = cluster.startTaskManager({
        id: 'tm-plain',
        slots: 2,
        resourceManagerTcpPort: rm.tcpPort,
      });
      await waitFor(() => plain.linesMatching(REGISTRATION_FAILED).length >= 3, {
        timeoutMs: 10_000,
        description: 'tm-plain to fail to register three times',
      });
      expect(plain.registrations()).toEqual([]);
      expect(
        rm.findLine(
          /WARN \[ResourceManager\] Refused a connection from 127\.0\.0\.1:\d+ in the TLS handshake \(ERR_SSL_WRONG_VERSION_NUMBER\)/,
        ),
      ).toBeDefined();
      expect((await rm.taskManagers()).map((view) => view.id)).toEqual(['tm-trusted']);
      await plain.kill();
      await expectTrustedTaskManagerServed();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'plain-TCP and rogue-certificate clients can neither register nor deliver a heartbeat',
    async () => {
      const registration = { taskManagerId: 'tm-raw', host: '127.0.0.1', port: 1, slots: 1 };
      // A heartbeat that would otherwise be accepted (from the origin the RM monitors).
      const heartbeat = {
        manager: 'taskManagers',
        origin: 'tm-trusted',
        payload: null,
      };
      const rogueTls = {
        ca: readFileSync(rogueFiles.ca),
        cert: readFileSync(rogueFiles.cert),
        key: readFileSync(rogueFiles.key),
      };
      const attempts = [
        sendRaw(rm.tcpPort, ResourceManagerPatterns.register, registration, 2_000),
        sendRaw(rm.tcpPort, HEARTBEAT_RECEIVE_PATTERN, heartbeat, 2_000),
        sendRaw(rm.tcpPort, ResourceManagerPatterns.register, registration, 2_000, rogueTls),
        sendRaw(rm.tcpPort, HEARTBEAT_RECEIVE_PATTERN, heartbeat, 2_000, rogueTls),
      ];
      const outcomes = await Promise.allSettled(attempts);
      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'rejected',
        'rejected',
        'rejected',
        'rejected',
      ]);
      expect((await rm.taskManagers()).map((view) => view.id)).toEqual(['tm-trusted']);
      await expectTrustedTaskManagerServed();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'an app with only some of the TLS variables set exits naming them',
    async () => {
      const app = cluster.startRaw('resource-manager-half-tls', RESOURCE_MANAGER_MAIN, {
        RM_HOST: '127.0.0.1',
        RM_TCP_PORT: '0',
        RM_HTTP_PORT: '0',
        TLS_CA: resourceManagerFiles.ca,
        TLS_CERT: resourceManagerFiles.cert,
      });
      await waitForLine(
        app,
        /Invalid environment: TLS_CA, TLS_CERT, TLS_KEY must be set together to enable mutual TLS; TLS_CA, TLS_CERT set but TLS_KEY not/,
      );
      expect((await app.waitForExit()).code).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );
});

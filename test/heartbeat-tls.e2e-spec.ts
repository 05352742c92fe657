import { readFileSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import {
  getHeartbeatManagerToken,
  HeartbeatModule,
  HeartbeatTargetFactory,
  RecipientUnreachableError,
  type HeartbeatManager,
} from 'nestjs-heartbeat';
import { AppPool, type RunningApp } from './fixtures/heartbeat-apps.js';
import { waitFor } from './fixtures/e2e-utils.js';
import { TestCertificates, type TlsFiles } from './fixtures/test-certificates.js';

const pem = (files: TlsFiles) => ({
  ca: readFileSync(files.ca),
  cert: readFileSync(files.cert),
  key: readFileSync(files.key),
});
const mutualServer = (files: TlsFiles): TlsOptions => ({
  ...pem(files),
  requestCert: true,
  rejectUnauthorized: true,
});

/** An app with one heartbeat manager, `manager`, whose TCP endpoint requires mutual TLS. */
function startPeer(
  apps: AppPool,
  resourceId: string,
  manager: string,
  role: 'sender' | 'receiver',
  files: TlsFiles,
): Promise<RunningApp> {
  return apps.start(
    {
      imports: [
        HeartbeatModule.forRoot({
          resourceId,
          managers: { [manager]: role },
          interval: 100,
          timeout: 2_000,
        }),
      ],
    },
    { tlsOptions: mutualServer(files) },
  );
}

const managerOf = (app: RunningApp, name: string) =>
  app.app.get<HeartbeatManager>(getHeartbeatManagerToken(name));

describe('heartbeat targets over mutual TLS (createTcpTarget with tlsOptions)', () => {
  const apps = new AppPool();
  let certificates: TestCertificates;
  let supervisorFiles: TlsFiles;
  let workerFiles: TlsFiles;
  let rogueFiles: TlsFiles;

  beforeAll(() => {
    certificates = new TestCertificates();
    const ca = certificates.authority('library-ca');
    supervisorFiles = certificates.issue(ca, 'supervisor');
    workerFiles = certificates.issue(ca, 'worker');
    rogueFiles = certificates.issue(certificates.authority('library-rogue-ca'), 'rogue', ca);
  });

  afterEach(() => apps.closeAll());
  afterAll(() => certificates.remove());

  it('exchanges heartbeats both ways, while a client without a certificate from the CA is cut off', async () => {
    const supervisor = await startPeer(apps, 'supervisor-1', 'workers', 'sender', supervisorFiles);
    const worker = await startPeer(apps, 'worker-1', 'supervisors', 'receiver', workerFiles);
    const targetTo = (app: RunningApp, remoteManager: string, tlsOptions?: ConnectionOptions) =>
      supervisor.app.get(HeartbeatTargetFactory).createTcpTarget({
        host: '127.0.0.1',
        port: app.port,
        remoteManager,
        tlsOptions,
      });
    managerOf(supervisor, 'workers').monitorTarget(
      'worker-1',
      targetTo(worker, 'supervisors', pem(supervisorFiles)),
    );
    managerOf(worker, 'supervisors').monitorTarget(
      'supervisor-1',
      worker.app.get(HeartbeatTargetFactory).createTcpTarget({
        host: '127.0.0.1',
        port: supervisor.port,
        remoteManager: 'workers',
        tlsOptions: pem(workerFiles),
      }),
    );

    // The worker's answers reach the supervisor, and the supervisor's requests reach the worker.
    const first = await waitFor('a heartbeat from worker-1', () => {
      const last = managerOf(supervisor, 'workers').getLastHeartbeatFrom('worker-1');
      return last > 0 && last;
    });
    await waitFor(
      'a later heartbeat from worker-1',
      () => managerOf(supervisor, 'workers').getLastHeartbeatFrom('worker-1') > first,
    );
    expect(managerOf(worker, 'supervisors').getLastHeartbeatFrom('supervisor-1')).toBeGreaterThan(
      0,
    );

    // A certificate from another CA, or none at all: the handshake fails, so the RPC is unreachable.
    for (const tlsOptions of [pem(rogueFiles), undefined]) {
      const intruder = targetTo(worker, 'supervisors', tlsOptions);
      try {
        await expect(intruder.requestHeartbeat('supervisor-1', null)).rejects.toBeInstanceOf(
          RecipientUnreachableError,
        );
      } finally {
        await intruder.dispose?.();
      }
    }

    const before = managerOf(supervisor, 'workers').getLastHeartbeatFrom('worker-1');
    await waitFor(
      'worker-1 to go on heartbeating',
      () => managerOf(supervisor, 'workers').getLastHeartbeatFrom('worker-1') > before,
    );
  }, 15_000);
});

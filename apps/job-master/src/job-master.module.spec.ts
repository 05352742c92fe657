import { jest } from '@jest/globals';
import { Logger, type INestApplication, type INestMicroservice } from '@nestjs/common';
import { ClientTCP, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import type { AddressInfo, Server } from 'node:net';
import { firstValueFrom, of } from 'rxjs';
import {
  JobMasterToResourceManagerPatterns,
  RESOURCE_MANAGER_HEARTBEATS,
  type RegistrationResponse,
} from '#cluster';
import { createCheckedJsonSocket, HEARTBEAT_REQUEST_PATTERN } from 'nestjs-heartbeat';
import { readJobMasterConfig } from './job-master.config.js';
import { JobMasterModule } from './job-master.module.js';
import { ResourceManagerLink } from './resource-manager-link.service.js';

const REGISTRATION: RegistrationResponse = {
  resourceManagerId: 'rm-1',
  fencingToken: '1001',
  credential: 'credential-1',
};

describe("The JobMaster's endpoints, as main.ts serves them", () => {
  let app: INestApplication;
  let endpoint: INestMicroservice;
  let client: ClientTCP;
  let http: string;
  let tcpPort: number;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // The ResourceManager: registrations are answered here; every other message goes out for real.
    const send = ClientTCP.prototype.send;
    jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(function (
      this: ClientTCP,
      pattern,
      data,
    ) {
      return pattern === JobMasterToResourceManagerPatterns.register
        ? (of(REGISTRATION) as never)
        : send.call(this, pattern, data);
    });
    const config = readJobMasterConfig({ JM_ID: 'jm-a', JM_HTTP_PORT: '0' });
    const moduleRef = await Test.createTestingModule({
      imports: [JobMasterModule.forConfig(config)],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    endpoint = app.connectMicroservice<MicroserviceOptions>({
      transport: Transport.TCP,
      options: {
        host: '127.0.0.1',
        port: 0,
        socketClass: createCheckedJsonSocket({ limits: config.frameLimits, patterns: [] }),
      },
    });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    http = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    tcpPort = (endpoint.unwrap<Server>().address() as AddressInfo).port;
    client = new ClientTCP({ host: '127.0.0.1', port: tcpPort });
  });

  afterEach(async () => {
    await client.close();
    await app.close();
    jest.restoreAllMocks();
  });

  /** The ResourceManager's heartbeat request, as its `jobMasters` sender sends it. */
  const heartbeatRequest = (payload: unknown) =>
    firstValueFrom(
      client.send(HEARTBEAT_REQUEST_PATTERN, {
        manager: RESOURCE_MANAGER_HEARTBEATS,
        origin: REGISTRATION.resourceManagerId,
        payload,
      }),
    );

  it('answers 503 to a job and refuses heartbeats before it is registered', async () => {
    const response = await fetch(`${http}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId: 'job-a', slots: 1 }),
    });
    expect(response.status).toBe(503);
    await expect(response.json()).resolves.toMatchObject({
      message: 'This JobMaster is not registered with a ResourceManager (yet)',
    });
    await expect(
      heartbeatRequest({ fencingToken: '1001', credential: 'credential-1' }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(
        /rm-1 is not the ResourceManager this JobMaster is registered with/,
      ),
    });
  });

  it("registered, it answers its ResourceManager's heartbeats in the reply with its jobs, and only with its proof", async () => {
    app.get(ResourceManagerLink).start(tcpPort);
    await new Promise((resolve) => setImmediate(resolve));

    await expect(
      heartbeatRequest({ fencingToken: '1001', credential: 'credential-1' }),
    ).resolves.toEqual({
      accepted: true,
      heartbeat: {
        origin: 'jm-a',
        payload: { fencingToken: '1001', credential: 'credential-1', jobs: [] },
      },
    });
    await expect(
      heartbeatRequest({ fencingToken: '1001', credential: 'guessed' }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/wrong credential/) });
    await expect((await fetch(`${http}/jobs`)).json()).resolves.toEqual({ jobs: [] });
  });
});

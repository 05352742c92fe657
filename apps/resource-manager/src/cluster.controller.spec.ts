import { jest } from '@jest/globals';
import { ConflictException, Logger } from '@nestjs/common';
import {
  jmA,
  resourceManagerServices,
  type ResourceManagerServices,
} from '../../../test/fixtures/resource-manager-services.js';
import { ClusterController } from './cluster.controller.js';

describe('ClusterController and the jobs of JobMasters', () => {
  let services: ResourceManagerServices;
  let controller: ClusterController;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    services = resourceManagerServices();
    controller = new ClusterController(
      services.views,
      services.slotPool,
      services.jobMasterRegistrations,
    );
  });

  afterEach(() => {
    services.shutdown();
    jest.restoreAllMocks();
  });

  it('refuses to allocate or release over HTTP for a job a JobMaster runs: only that JobMaster may', async () => {
    services.jobMasterRegistrations.register({ ...jmA, jobs: ['job-1'] });
    const refusal = new ConflictException('job job-1 is run by JobMaster jm-a: ask it');

    await expect(controller.allocate({ jobId: 'job-1', count: 1 })).rejects.toEqual(refusal);
    await expect(controller.release({ jobId: 'job-1' })).rejects.toEqual(refusal);
    // Another job id is the HTTP API's as before (no TaskManager: nothing to release).
    await expect(controller.release({ jobId: 'job-2' })).resolves.toEqual({ released: 0 });
  });
});

import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import type { JobView } from './job-table.service.js';
import { JobsController } from './jobs.controller.js';
import {
  JobConflictError,
  JobsService,
  ResourceManagerError,
  UnknownJobError,
} from './jobs.service.js';
import { NotRegisteredError } from './resource-manager-link.service.js';

const running: JobView = {
  jobId: 'job-a',
  state: 'running',
  slots: [{ taskManagerId: 'tm-1', slotIndex: 0, allocationId: 'allocation-1' }],
};

/** An HTTP answer's status and JSON body. */
async function answer(response: Promise<Response>) {
  const { status } = await response;
  return { status, body: await (await response).json() };
}

describe('JobsController over HTTP', () => {
  let app: INestApplication;
  let base: string;
  const jobs = {
    submit: jest.fn<JobsService['submit']>(),
    find: jest.fn<JobsService['find']>(),
    list: jest.fn<JobsService['list']>(),
    cancel: jest.fn<JobsService['cancel']>(),
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [JobsController],
      providers: [{ provide: JobsService, useValue: jobs }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(() => app.close());
  afterEach(() => jest.resetAllMocks());

  const post = (body: unknown, contentType = 'application/json') =>
    fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('POST /jobs: 201 with the job id and its slots', async () => {
    jobs.submit.mockResolvedValue(running);
    await expect(answer(post({ jobId: 'job-a', slots: 1 }))).resolves.toEqual({
      status: 201,
      body: { jobId: 'job-a', slots: running.slots },
    });
    expect(jobs.submit).toHaveBeenCalledWith('job-a', 1);
  });

  it.each([
    [{ jobId: 'job a', slots: 1 }, 'jobId must be 1 to 128 characters of A-Z a-z 0-9 . _ : -'],
    [{ slots: 1 }, 'jobId must be 1 to 128 characters of A-Z a-z 0-9 . _ : -'],
    [{ jobId: 'job-a', slots: 0 }, 'slots must be an integer from 1 to 1024'],
    [{ jobId: 'job-a', slots: '2' }, 'slots must be an integer from 1 to 1024'],
    [{ jobId: 'job-a', slots: 1.5 }, 'slots must be an integer from 1 to 1024'],
    [{ jobId: 'job-a', slots: 1, count: 2 }, 'unknown field count (a job has jobId and slots)'],
    [[1], 'request body must be a JSON object, got an array'],
  ])('POST /jobs %j: 400', async (body, message) => {
    await expect(answer(post(body))).resolves.toMatchObject({ status: 400, body: { message } });
    expect(jobs.submit).not.toHaveBeenCalled();
  });

  it('POST /jobs without JSON: 415', async () => {
    await expect(
      answer(post('jobId=job-a&slots=1', 'application/x-www-form-urlencoded')),
    ).resolves.toMatchObject({ status: 415 });
  });

  it.each([
    [409, new JobConflictError('Not enough free slots: asked for 3, 1 free')],
    [409, new JobConflictError('Job job-a exists already')],
    [503, new NotRegisteredError('This JobMaster is not registered with a ResourceManager (yet)')],
    [
      503,
      new ResourceManagerError('The ResourceManager refused 1 slot for job job-a: not the leader'),
    ],
  ])('POST /jobs: %i with the reason for a %s', async (status, error) => {
    jobs.submit.mockRejectedValue(error);
    await expect(answer(post({ jobId: 'job-a', slots: 1 }))).resolves.toMatchObject({
      status,
      body: { statusCode: status, message: error.message },
    });
  });

  it('GET /jobs/:jobId: the job with its state; 404 for an unknown one', async () => {
    jobs.find.mockImplementation((jobId) => (jobId === 'job-a' ? running : undefined));
    await expect(answer(fetch(`${base}/jobs/job-a`))).resolves.toEqual({
      status: 200,
      body: running,
    });
    await expect(answer(fetch(`${base}/jobs/job-b`))).resolves.toMatchObject({
      status: 404,
      body: { message: 'No job with id job-b' },
    });
  });

  it('GET /jobs: every job', async () => {
    jobs.list.mockReturnValue([running]);
    await expect(answer(fetch(`${base}/jobs`))).resolves.toEqual({
      status: 200,
      body: { jobs: [running] },
    });
  });

  it('DELETE /jobs/:jobId: 200 with what was released; 404, 503', async () => {
    jobs.cancel.mockResolvedValueOnce({ jobId: 'job-a', released: 1 });
    await expect(answer(fetch(`${base}/jobs/job-a`, { method: 'DELETE' }))).resolves.toEqual({
      status: 200,
      body: { jobId: 'job-a', released: 1 },
    });
    jobs.cancel.mockRejectedValueOnce(new UnknownJobError('No job with id job-b'));
    await expect(answer(fetch(`${base}/jobs/job-b`, { method: 'DELETE' }))).resolves.toMatchObject({
      status: 404,
    });
    jobs.cancel.mockRejectedValueOnce(new NotRegisteredError('not registered'));
    await expect(answer(fetch(`${base}/jobs/job-a`, { method: 'DELETE' }))).resolves.toMatchObject({
      status: 503,
    });
  });
});

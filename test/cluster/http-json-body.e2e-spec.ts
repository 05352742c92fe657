import {
  Cluster,
  HOST,
  TEST_TIMEOUT_MS,
  waitFor,
  type Allocation,
  type ResourceManagerProcess,
} from './cluster-harness.js';

interface ErrorAnswer {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
}

const JSON_REQUIRED = 'request body must be JSON (content-type: application/json)';

// The slot endpoints take a JSON body; a body sent as anything else must be refused for what it is,
// not reported as a missing jobId.
describe("the ResourceManager's HTTP API: request bodies that are not JSON (real processes)", () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;

  /** A POST with exactly these headers (fetch adds content-type text/plain for a string body unless told). */
  const post = async (path: string, body: string | undefined, contentType?: string) => {
    const response = await fetch(`http://${HOST}:${rm.httpPort}${path}`, {
      method: 'POST',
      body,
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      signal: AbortSignal.timeout(5_000),
    });
    return { status: response.status, body: (await response.json()) as ErrorAnswer };
  };

  beforeAll(async () => {
    rm = await cluster.startResourceManager();
    cluster.startTaskManager({ id: 'tm-json', slots: 2, resourceManagerTcpPort: rm.tcpPort });
    await waitFor(async () => (await rm.overview()).slotsTotal === 2, {
      timeoutMs: 15_000,
      description: 'a TaskManager with 2 slots to register',
    });
  }, TEST_TIMEOUT_MS);

  afterAll(() => cluster.killAll());

  it(
    'answers 415 naming the content type for a body that is not application/json, and allocates nothing',
    async () => {
      const body = JSON.stringify({ jobId: 'job-1', count: 1 });
      for (const path of ['/slots/allocate', '/slots/release']) {
        // What `curl -d '{...}'` sends without -H 'content-type: application/json'.
        expect(await post(path, body, 'application/x-www-form-urlencoded')).toEqual({
          status: 415,
          body: {
            statusCode: 415,
            error: 'Unsupported Media Type',
            message: `${JSON_REQUIRED}, got content-type application/x-www-form-urlencoded (what curl -d sends unless given -H 'content-type: application/json')`,
          },
        });
        expect(await post(path, body, 'text/plain;charset=UTF-8')).toEqual({
          status: 415,
          body: expect.objectContaining({
            message: `${JSON_REQUIRED}, got content-type text/plain;charset=UTF-8`,
          }),
        });
        expect(await post(path, undefined)).toEqual({
          status: 415,
          body: expect.objectContaining({ message: `${JSON_REQUIRED}, got no content-type` }),
        });
        // JSON, but no body, or not an object.
        expect(await post(path, undefined, 'application/json')).toEqual({
          status: 400,
          body: expect.objectContaining({
            message: 'request body must be a JSON object, got no body',
          }),
        });
        expect(await post(path, '[{"jobId":"job-1","count":1}]', 'application/json')).toEqual({
          status: 400,
          body: expect.objectContaining({
            message: 'request body must be a JSON object, got an array',
          }),
        });
      }
      expect(await rm.overview()).toMatchObject({ slotsTotal: 2, slotsAvailable: 2 });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'takes application/json with parameters or in another case',
    async () => {
      const body = JSON.stringify({ jobId: 'job-2', count: 1 });
      const allocated = await fetch(`http://${HOST}:${rm.httpPort}/slots/allocate`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'Application/JSON; charset=utf-8' },
        signal: AbortSignal.timeout(5_000),
      });
      expect(allocated.status).toBe(200);
      const { allocations } = (await allocated.json()) as { allocations: Allocation[] };
      expect(allocations).toEqual([
        expect.objectContaining({ taskManagerId: 'tm-json', jobId: 'job-2' }),
      ]);
      expect(await rm.http('POST', '/slots/release', { jobId: 'job-2' })).toEqual({
        status: 200,
        body: { released: 1 },
      });
    },
    TEST_TIMEOUT_MS,
  );
});

import { Test } from '@nestjs/testing';
import { HeartbeatModule, HeartbeatRegistry, type HeartbeatEvent } from 'nestjs-heartbeat';
import { INSTALL_TIMEOUT_MS, startNats, type LocalServer } from '../src/services/local-servers.js';
import { waitFor } from './fixtures/e2e-utils.js';

// The README's NATS example (src/examples/nats-heartbeats.ts, shown verbatim), against a real
// nats-server on loopback: the ResourceManager's sender reaches a TaskManager through it.

describe('the NATS example', () => {
  let nats: LocalServer;

  beforeAll(async () => {
    nats = await startNats();
    process.env.NATS_URL = nats.url; // read when the example is loaded
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    delete process.env.NATS_URL;
    await nats?.stop();
  });

  it('heartbeats a TaskManager through NATS, and declares it unreachable once it is gone', async () => {
    const { startTaskManager, TaskManagerWatch } =
      await import('../src/examples/nats-heartbeats.js');
    const resourceManager = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'resource-manager',
          managers: { taskManagers: 'sender' },
          interval: 100,
          timeout: 2_000,
          rpcFailureThreshold: 2,
        }),
      ],
      providers: [TaskManagerWatch],
    })
      .setLogger({ log() {}, warn() {}, error() {} })
      .compile();
    const taskManager = await startTaskManager('tm-1');
    let taskManagerUp = true;
    const events: HeartbeatEvent[] = [];
    try {
      await resourceManager.init();
      resourceManager
        .get(HeartbeatRegistry)
        .events()
        .subscribe((event) => events.push(event));
      resourceManager.get(TaskManagerWatch).watch('tm-1');
      await waitFor(
        'heartbeats from tm-1',
        () =>
          events.filter((event) => event.type === 'heartbeat' && event.target === 'tm-1').length >=
          3,
      );

      await taskManager.close();
      taskManagerUp = false;
      const lost = await waitFor('tm-1 to be lost', () =>
        events.find((event) => event.type === 'unreachable' || event.type === 'timeout'),
      );
      expect(lost).toMatchObject({ type: 'unreachable', target: 'tm-1' });
    } finally {
      if (taskManagerUp) {
        await taskManager.close();
      }
      await resourceManager.close();
    }
  }, 15_000);
});

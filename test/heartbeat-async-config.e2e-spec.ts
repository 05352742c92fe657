import { jest } from '@jest/globals';
import { HeartbeatModule, type HeartbeatModuleOptions } from 'nestjs-heartbeat';
import { AppPool } from './fixtures/heartbeat-apps.js';
import { waitFor } from './fixtures/e2e-utils.js';
import {
  HEARTBEAT_SETTINGS,
  SettingsModule,
  type HeartbeatSettings,
} from './fixtures/settings.module.js';
import {
  RECEIVER_MANAGER,
  ReceiverPeer,
  SENDER_MANAGER,
  SenderPeer,
} from './fixtures/sender-receiver.js';

describe('HeartbeatModule.forRootAsync', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it('heartbeats end to end like forRoot, with the settings its factory returns', async () => {
    const settings: HeartbeatSettings = {
      nodeId: 'async-sender',
      intervalMs: 100,
      timeoutMs: 1_000,
      requestTimeoutMs: 500,
    };
    // The sender's options come from an injected configuration provider, through an async factory.
    const senderFactory = jest.fn(
      async (config: HeartbeatSettings): Promise<HeartbeatModuleOptions> => ({
        resourceId: config.nodeId,
        interval: config.intervalMs,
        timeout: config.timeoutMs,
        requestTimeout: config.requestTimeoutMs,
        rpcFailureThreshold: -1,
      }),
    );
    const senderApp = await apps.start({
      imports: [
        HeartbeatModule.forRootAsync({
          managers: { [SENDER_MANAGER]: 'sender' },
          imports: [SettingsModule.register(settings)],
          inject: [HEARTBEAT_SETTINGS],
          useFactory: senderFactory,
        }),
      ],
      providers: [SenderPeer],
    });
    // The receiver's from a plain synchronous factory, with one setting given per manager.
    const receiverApp = await apps.start({
      imports: [
        HeartbeatModule.forRootAsync({
          managers: { [RECEIVER_MANAGER]: { role: 'receiver', timeout: 1_000 } },
          useFactory: () => ({ resourceId: 'async-receiver', interval: 100, requestTimeout: 500 }),
        }),
      ],
      providers: [ReceiverPeer],
    });
    expect(senderFactory).toHaveBeenCalledTimes(1);
    expect(senderFactory).toHaveBeenCalledWith(settings);

    const sender = senderApp.get(SenderPeer);
    const receiver = receiverApp.get(ReceiverPeer);
    expect(sender.ownId).toBe('async-sender');
    expect(receiver.ownId).toBe('async-receiver');
    receiver.monitor('async-sender', senderApp.port);
    sender.monitor('async-receiver', receiverApp.port);

    // With Flink's defaults (10 s interval) five heartbeats would take 40 s: the factory's interval is used.
    await waitFor(
      'five payloads each way',
      () => sender.of('payload').length >= 5 && receiver.of('payload').length >= 5,
      { timeout: 3_000 },
    );
    for (const event of sender.of('payload')) {
      expect(event).toMatchObject({
        id: 'async-receiver',
        payload: { from: 'async-receiver', to: 'async-sender' },
      });
    }
    for (const event of receiver.of('payload')) {
      expect(event).toMatchObject({
        id: 'async-sender',
        payload: { from: 'async-sender', to: 'async-receiver' },
      });
    }

    // And its timeout (Flink's default is 50 s).
    await receiverApp.close();
    const [timeout] = await waitFor(
      'the sender to time out the receiver',
      () => sender.of('timeout').length > 0 && sender.of('timeout'),
      { timeout: settings.timeoutMs + 3_000 },
    );
    expect(timeout.id).toBe('async-receiver');
  }, 15_000);
});

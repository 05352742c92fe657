import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  HeartbeatModule,
  HeartbeatRegistry,
  ManualClock,
  RecipientUnreachableError,
  type HeartbeatAnswer,
} from 'nestjs-heartbeat';
import { LossAlerts } from '../src/examples/loss-alerts.js';

// The README's event-stream example (src/examples/loss-alerts.ts, shown verbatim), run on fake time.

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the LossAlerts example', () => {
  afterEach(() => jest.restoreAllMocks());

  it('logs each lost target with its reason, and unsubscribes when the module is destroyed', async () => {
    const warnings: string[] = [];
    jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => void warnings.push(String(message)));
    const clock = new ManualClock(1_000_000);
    const moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'rm',
          managers: { taskManagers: 'sender' },
          interval: 100,
          timeout: 500,
          rpcFailureThreshold: 2,
          clock,
        }),
      ],
      providers: [LossAlerts],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const manager = moduleRef.get(HeartbeatRegistry).getManager('taskManagers');

    let answers = 1;
    manager.monitorTarget('tm-silent', {
      // One answer, then silence: lost by the timeout.
      requestHeartbeat: () =>
        answers-- > 0
          ? Promise.resolve<HeartbeatAnswer>({ origin: 'tm-silent', payload: null })
          : new Promise<never>(() => undefined),
      receiveHeartbeat: () => Promise.resolve(),
    });
    manager.monitorTarget('tm-gone', {
      requestHeartbeat: () => Promise.reject(new RecipientUnreachableError('tm-gone', 'refused')),
      receiveHeartbeat: () => Promise.resolve(),
    });
    for (let step = 0; step < 7; step += 1) {
      clock.advance(100);
      await flush();
    }

    const alerts = warnings.filter((line) => line.includes(' lost: '));
    expect(alerts).toEqual([
      'tm-gone lost: unreachable (Heartbeat recipient tm-gone is unreachable: refused)',
      'tm-silent lost: silent for 500 ms',
    ]);
    await app.close();
  });
});

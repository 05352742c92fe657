import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatAnswer, HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { HeartbeatModule } from '../nest/heartbeat.module.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import { HeartbeatHealthIndicator } from './heartbeat-health.indicator.js';
import type { HeartbeatHealthIndicatorResult } from './interfaces/heartbeat-health.interface.js';

/* HeartbeatHealthIndicator on fake time: up and down, and why, as terminus would report them. */

/** Epoch ms: late enough that the wall-clock steps back by hours below keep it above 0. */
const START = 24 * 3_600_000;
const INTERVAL = 1_000;
const TIMEOUT = 5_000;
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Its result is terminus's HealthIndicatorResult: the compiler checks it against the terminus
 * installed (12; 11's type is the same).
 */
const asTerminusResult = (
  result: HeartbeatHealthIndicatorResult<'heartbeat'>,
): HealthIndicatorResult => result;

/** Answers each request at once while `answering`; else never (a silent peer) or as unreachable. */
class SwitchableTarget implements HeartbeatTarget {
  mode: 'answering' | 'silent' | 'unreachable' = 'answering';

  constructor(private readonly id: string) {}

  requestHeartbeat(): Promise<HeartbeatAnswer | void> {
    if (this.mode === 'silent') {
      return new Promise(() => undefined);
    }
    if (this.mode === 'unreachable') {
      return Promise.reject(new RecipientUnreachableError(this.id, 'connection refused'));
    }
    return Promise.resolve({ origin: this.id, payload: null });
  }

  receiveHeartbeat(): Promise<void> {
    return Promise.resolve();
  }
}

describe('HeartbeatHealthIndicator', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;

  beforeEach(() => {
    clock = new ManualClock(START);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    jest.restoreAllMocks();
  });

  async function compile(stallThreshold = -1) {
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'rm-1',
          managers: { workers: 'sender', supervisor: 'receiver' },
          interval: INTERVAL,
          timeout: TIMEOUT,
          rpcFailureThreshold: 2,
          stallThreshold,
          clock,
        }),
      ],
    }).compile();
    const registry = moduleRef.get(HeartbeatRegistry);
    return {
      moduleRef,
      registry,
      indicator: moduleRef.get(HeartbeatHealthIndicator),
      workers: registry.getManager('workers'),
    };
  }

  async function start(stallThreshold = -1) {
    const started = await compile(stallThreshold);
    await started.moduleRef.init(); // bootstraps: the senders start
    return started;
  }

  /** Advances fake time by `ms` in interval steps, letting the RPC outcomes settle after each. */
  async function run(ms: number): Promise<void> {
    clock.advance(0);
    await flush();
    for (let elapsed = 0; elapsed < ms; elapsed += INTERVAL) {
      clock.advance(Math.min(INTERVAL, ms - elapsed));
      await flush();
    }
  }

  it('is up, with its details, while the manager runs and enough targets answer', async () => {
    const { indicator, workers } = await start();
    workers.monitorTarget('tm-1', new SwitchableTarget('tm-1'));
    workers.monitorTarget('tm-2', new SwitchableTarget('tm-2'));
    await run(2 * INTERVAL);

    const result = await indicator.isHealthy('heartbeat', {
      manager: 'workers',
      minLiveTargets: 2,
    });
    expect(asTerminusResult(result)).toEqual({
      heartbeat: { status: 'up', targets: 2, liveTargets: 2, lostInWindow: 0, lastStall: null },
    });
  });

  it('goes down when too few targets are live, counts the losses in the window, and comes back up', async () => {
    const { indicator, workers } = await start();
    const silent = new SwitchableTarget('tm-1');
    const refusing = new SwitchableTarget('tm-2');
    workers.monitorTarget('tm-1', silent);
    workers.monitorTarget('tm-2', refusing);
    await run(INTERVAL);
    const check = () =>
      indicator.isHealthy('workers-alive', {
        manager: 'workers',
        minLiveTargets: 1,
        window: 30_000,
      });
    expect((await check())['workers-alive'].status).toBe('up');

    silent.mode = 'silent';
    refusing.mode = 'unreachable';
    await run(TIMEOUT + INTERVAL); // tm-2 unreachable after two refusals, tm-1 silent past its timeout

    expect(await check()).toEqual({
      'workers-alive': {
        status: 'down',
        targets: 2,
        liveTargets: 0,
        lostInWindow: 2,
        lastStall: null,
        reason: '0 live target(s) (a heartbeat within the last 5000 ms), fewer than the 1 required',
      },
    });

    // The losses leave the window. A target declared lost, still monitored, is not live again
    // for answering: only once monitored afresh (as a listener does when it registers again).
    silent.mode = 'answering';
    await run(30_000);
    expect((await check())['workers-alive']).toMatchObject({
      status: 'down',
      liveTargets: 0,
      lostInWindow: 0,
    });
    workers.unmonitorTarget('tm-1');
    workers.monitorTarget('tm-1', silent);
    await run(2 * INTERVAL);
    const recovered = await check();
    expect(recovered['workers-alive']).toMatchObject({
      status: 'up',
      liveTargets: 1,
      lostInWindow: 0,
    });
  });

  it('counts no target phi-accrual declared lost as live, though silent for less than the timeout', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'rm-1',
          managers: { workers: 'sender' },
          interval: INTERVAL,
          timeout: TIMEOUT,
          stallThreshold: -1,
          detector: { kind: 'phi-accrual', acceptableHeartbeatPause: 0 },
          clock,
        }),
      ],
    }).compile();
    await moduleRef.init();
    const registry = moduleRef.get(HeartbeatRegistry);
    const indicator = moduleRef.get(HeartbeatHealthIndicator);
    const workers = registry.getManager('workers');
    const dying = new SwitchableTarget('tm-1');
    workers.monitorTarget('tm-1', dying);
    workers.monitorTarget('tm-2', new SwitchableTarget('tm-2'));
    await run(20 * INTERVAL);
    const check = () =>
      indicator.isHealthy('heartbeat', { manager: 'workers', minLiveTargets: 2, window: 30_000 });
    expect((await check()).heartbeat).toMatchObject({ status: 'up', liveTargets: 2 });

    dying.mode = 'silent';
    await run(3 * INTERVAL); // phi (no acceptable pause) declares it within about 1.5 intervals

    expect(workers.getMonitoredTargets()).toEqual(['tm-1', 'tm-2']);
    expect(registry.findEntry('workers')!.manager.millisSinceLastHeartbeat('tm-1')).toBeLessThan(
      TIMEOUT,
    );
    expect((await check()).heartbeat).toMatchObject({
      status: 'down',
      targets: 2,
      liveTargets: 1,
      lostInWindow: 1,
    });
  });

  it('is down after a stall of the process within the window, and up once it is older', async () => {
    const { indicator, workers } = await start(200);
    workers.monitorTarget('tm-1', new SwitchableTarget('tm-1'));
    await run(INTERVAL);
    const check = () => indicator.isHealthy('heartbeat', { manager: 'workers', window: 10_000 });
    expect((await check()).heartbeat.status).toBe('up'); // the first check starts watching

    clock.stall(3_000);
    await flush();
    const stalledAt = clock.now();
    clock.advance(100);

    const down = (await check()).heartbeat;
    expect(down).toMatchObject({ status: 'down', lastStall: { at: stalledAt } });
    expect(down.lastStall!.stallMs).toBeGreaterThanOrEqual(3_000);
    expect(down.reason).toBe(
      `this process stalled for ${down.lastStall!.stallMs} ms, 100 ms ago (within the last 10000 ms)`,
    );

    await run(10_000);
    const later = (await check()).heartbeat;
    expect(later).toMatchObject({ status: 'up', lastStall: down.lastStall });
    expect(later.reason).toBeUndefined();
  });

  it('measures its windows and silences on the monotonic clock: wall-clock steps change no verdict', async () => {
    const { indicator, workers } = await start(200);
    const silent = new SwitchableTarget('tm-2');
    workers.monitorTarget('tm-1', new SwitchableTarget('tm-1'));
    workers.monitorTarget('tm-2', silent);
    await run(INTERVAL);
    const check = () =>
      indicator.isHealthy('heartbeat', { manager: 'workers', minLiveTargets: 2, window: 10_000 });
    expect((await check()).heartbeat.status).toBe('up'); // the first check starts watching

    // Hours forward: the targets are no more silent than they were.
    clock.stepWallClock(3 * 3_600_000);
    expect((await check()).heartbeat).toMatchObject({ status: 'up', liveTargets: 2 });

    silent.mode = 'silent';
    clock.stall(3_000);
    await flush();
    await run(TIMEOUT + INTERVAL); // tm-2 timed out, after the stall's fresh window
    // Hours back: the stall and the loss are still within the window, tm-2 no longer live.
    clock.stepWallClock(-5 * 3_600_000);
    const down = (await check()).heartbeat;
    expect(down).toMatchObject({ status: 'down', liveTargets: 1, lostInWindow: 1 });
    expect(down.reason).toContain('this process stalled for');

    clock.stepWallClock(-3_600_000);
    await run(10_000);
    expect((await check()).heartbeat).toMatchObject({ lostInWindow: 0, liveTargets: 1 });
    expect((await check()).heartbeat.reason).not.toContain('stalled');
  });

  it('is down for a sender not started yet, and for a stopped manager', async () => {
    const { moduleRef: app, indicator, registry } = await compile(); // not bootstrapped
    await expect(indicator.isHealthy('heartbeat', { manager: 'workers' })).resolves.toMatchObject({
      heartbeat: {
        status: 'down',
        reason:
          'heartbeat sender "workers" has not started (it starts when the application bootstraps)',
      },
    });
    // A receiver has nothing to start.
    await expect(
      indicator.isHealthy('heartbeat', { manager: 'supervisor' }),
    ).resolves.toMatchObject({ heartbeat: { status: 'up' } });

    await app.init();
    registry.getManager('supervisor').stop();
    await expect(
      indicator.isHealthy('heartbeat', { manager: 'supervisor' }),
    ).resolves.toMatchObject({
      heartbeat: { status: 'down', reason: 'heartbeat manager "supervisor" is stopped' },
    });
  });

  it('gives every reason it is down at once', async () => {
    const { indicator } = await compile(); // not bootstrapped, no target
    const result = await indicator.isHealthy('heartbeat', {
      manager: 'workers',
      minLiveTargets: 3,
    });
    expect(result.heartbeat.reason).toBe(
      'heartbeat sender "workers" has not started (it starts when the application bootstraps); ' +
        '0 live target(s) (a heartbeat within the last 5000 ms), fewer than the 3 required',
    );
  });

  it('watches the events only from its first check: an app that never checks pays nothing', async () => {
    const { moduleRef: app, indicator, registry, workers } = await compile();
    // Its changes only: a health check costs the managers nothing per heartbeat.
    const events = jest.spyOn(registry, 'changes');
    const heartbeats = jest.spyOn(registry, 'events');
    await app.init();
    workers.monitorTarget('tm-1', new SwitchableTarget('tm-1'));
    await run(INTERVAL);
    expect(events).not.toHaveBeenCalled();

    await indicator.isHealthy('a', { manager: 'workers' });
    await indicator.isHealthy('b', { manager: 'supervisor' });
    expect(events).toHaveBeenCalledTimes(1);
    expect(heartbeats).not.toHaveBeenCalled();
  });

  it('rejects a check of an unknown manager or with a bad option, naming it', async () => {
    const { indicator } = await start();
    await expect(indicator.isHealthy('heartbeat', { manager: 'ghost' })).rejects.toThrow(
      'No heartbeat manager named "ghost"; declared managers: workers, supervisor',
    );
    const bad = async (options: object) =>
      indicator.isHealthy('heartbeat', { manager: 'workers', ...options }).catch((e: Error) => e);
    const negative = await bad({ minLiveTargets: -1 });
    expect(negative).toBeInstanceOf(HeartbeatConfigurationError);
    expect((negative as Error).message).toBe(
      'Invalid HeartbeatHealthIndicator.isHealthy option minLiveTargets: must be an integer >= 0, got -1',
    );
    expect(((await bad({ window: 0 })) as Error).message).toBe(
      'Invalid HeartbeatHealthIndicator.isHealthy option window: must be a number of ms > 0, got 0',
    );
    expect(((await bad({ manager: '' })) as Error).message).toBe(
      'Invalid HeartbeatHealthIndicator.isHealthy option manager: must be the name of a declared manager, got ""',
    );
  });
});

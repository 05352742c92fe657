import { jest } from '@jest/globals';
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import { HeartbeatReceiverManager } from '../core/heartbeat-receiver-manager.js';
import { HeartbeatSenderManager } from '../core/heartbeat-sender-manager.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { OnHeartbeatTimeout } from './decorators/heartbeat-handler.decorator.js';
import { InjectHeartbeatManager } from './decorators/inject-heartbeat-manager.decorator.js';
import { getHeartbeatManagerToken } from './heartbeat.constants.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type { HeartbeatModuleOptions } from './interfaces/heartbeat-module-options.interface.js';

/** A heartbeat target whose RPCs succeed at once and are recorded. */
function fakeTarget() {
  return {
    requestHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    dispose: jest.fn(() => undefined),
  } satisfies HeartbeatTarget;
}

/** Lets the promise callbacks the managers chain on RPC outcomes run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

@Injectable()
class Consumer {
  // Property injection works as well as constructor injection.
  @InjectHeartbeatManager('supervisor') readonly supervisorByProperty!: HeartbeatManager;

  constructor(
    @InjectHeartbeatManager('workers') readonly workers: HeartbeatManager<{ jobs: number }, null>,
    @InjectHeartbeatManager('supervisor') readonly supervisor: HeartbeatManager,
    readonly registry: HeartbeatRegistry,
  ) {}
}

@Injectable()
class TimeoutRecorder {
  readonly timeouts: string[] = [];

  @OnHeartbeatTimeout('fast')
  onFast(id: string): void {
    this.timeouts.push(`fast:${id}`);
  }

  @OnHeartbeatTimeout('slow')
  onSlow(id: string): void {
    this.timeouts.push(`slow:${id}`);
  }
}

/** A provider of the app that monitors a target as soon as it can: while the modules initialise. */
@Injectable()
class EarlyMonitor implements OnModuleInit {
  readonly target = fakeTarget();

  constructor(@InjectHeartbeatManager('workers') readonly workers: HeartbeatManager) {}

  onModuleInit(): void {
    this.workers.monitorTarget('w1', this.target);
  }
}

/** A provider whose initialisation fails, so the application never bootstraps. */
@Injectable()
class BrokenAtInit implements OnModuleInit {
  onModuleInit(): void {
    throw new Error('cannot connect to the database');
  }
}

/** A provider whose bootstrap counts how many requests went out before the app's own bootstrap ran. */
@Injectable()
class BootstrapProbe implements OnApplicationBootstrap {
  requestsAtBootstrap = -1;

  constructor(private readonly early: EarlyMonitor) {}

  onApplicationBootstrap(): void {
    this.requestsAtBootstrap = this.early.target.requestHeartbeat.mock.calls.length;
  }
}

const SETTINGS = Symbol('SETTINGS');

/** A module of the app that provides the heartbeat settings (as a ConfigModule would). */
function settingsModule(settings: HeartbeatModuleOptions): DynamicModule {
  @Module({})
  class SettingsModule {}
  return {
    module: SettingsModule,
    providers: [{ provide: SETTINGS, useValue: settings }],
    exports: [SETTINGS],
  };
}

describe('HeartbeatModule', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;

  beforeEach(() => {
    clock = new ManualClock();
    moduleRef = undefined;
  });

  afterEach(async () => {
    await moduleRef?.close();
  });

  async function start(
    imports: DynamicModule[],
    providers: (new (...args: never[]) => unknown)[] = [Consumer],
  ) {
    moduleRef = await Test.createTestingModule({ imports, providers }).compile();
    await moduleRef.init();
    return moduleRef;
  }

  async function startBoth(options: Partial<HeartbeatModuleOptions> = {}) {
    const ref = await start([
      HeartbeatModule.forRoot({
        resourceId: 'node-a',
        managers: { workers: 'sender', supervisor: 'receiver' },
        interval: 1_000,
        timeout: 5_000,
        clock,
        scheduler: clock,
        ...options,
      }),
    ]);
    return ref.get(Consumer);
  }

  describe('forRoot', () => {
    it('creates the named managers, injectable by name and found by the registry', async () => {
      const ref = await start([
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: {
            workers: 'sender',
            supervisor: { role: 'receiver', resourceId: 'node-a/tm' },
          },
          clock,
          scheduler: clock,
        }),
      ]);
      const consumer = ref.get(Consumer);
      const registry = ref.get(HeartbeatRegistry);

      expect(registry.getManagerNames()).toEqual(['workers', 'supervisor']);
      expect(consumer.workers).toBe(registry.getManager('workers'));
      expect(consumer.supervisor).toBe(registry.getManager('supervisor'));
      expect(consumer.supervisorByProperty).toBe(consumer.supervisor);
      expect(ref.get(getHeartbeatManagerToken('workers'))).toBe(consumer.workers);
      expect(consumer.registry).toBe(registry);

      expect(consumer.workers).toBeInstanceOf(HeartbeatSenderManager);
      expect(consumer.supervisor).toBeInstanceOf(HeartbeatReceiverManager);
      expect(consumer.supervisor).not.toBeInstanceOf(HeartbeatSenderManager);
      expect(registry.findEntry('workers')?.role).toBe('sender');
      expect(registry.findEntry('supervisor')?.role).toBe('receiver');

      expect(consumer.workers.ownResourceId).toBe('node-a');
      expect(consumer.supervisor.ownResourceId).toBe('node-a/tm');
    });

    it('getManager names the declared managers when asked for an unknown one', async () => {
      const ref = await start([
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender', supervisor: 'receiver' },
          clock,
          scheduler: clock,
        }),
      ]);
      const registry = ref.get(HeartbeatRegistry);

      expect(() => registry.getManager('ghost')).toThrow(
        'No heartbeat manager named "ghost"; declared managers: workers, supervisor',
      );
      expect(registry.findEntry('ghost')).toBeUndefined();
    });

    it('exposes the managers to other modules when isGlobal is set', async () => {
      @Module({ providers: [Consumer], exports: [Consumer] })
      class FeatureModule {}

      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRoot({
            resourceId: 'node-a',
            managers: { workers: 'sender', supervisor: 'receiver' },
            isGlobal: true,
            clock,
            scheduler: clock,
          }),
          FeatureModule,
        ],
      }).compile();
      await moduleRef.init();

      expect(moduleRef.get(Consumer).workers).toBe(
        moduleRef.get(HeartbeatRegistry).getManager('workers'),
      );
    });
  });

  describe('forRootAsync', () => {
    it('creates the managers from options made by a factory that injects a provider of an imported module', async () => {
      const factory = jest.fn((settings: HeartbeatModuleOptions) => ({
        ...settings,
        interval: 250,
      }));
      const ref = await start([
        HeartbeatModule.forRootAsync({
          managers: { workers: 'sender', supervisor: { role: 'receiver', timeout: 900 } },
          imports: [
            settingsModule({ resourceId: 'async-node', timeout: 1_000, clock, scheduler: clock }),
          ],
          inject: [SETTINGS],
          useFactory: factory,
        }),
      ]);
      const consumer = ref.get(Consumer);
      const registry = ref.get(HeartbeatRegistry);

      expect(factory).toHaveBeenCalledTimes(1);
      expect(registry.getManagerNames()).toEqual(['workers', 'supervisor']);
      expect(consumer.workers).toBe(registry.getManager('workers'));
      expect(consumer.supervisor).toBe(registry.getManager('supervisor'));
      expect(consumer.workers).toBeInstanceOf(HeartbeatSenderManager);
      expect(consumer.supervisor).not.toBeInstanceOf(HeartbeatSenderManager);
      expect(consumer.workers.ownResourceId).toBe('async-node');
      expect((consumer.workers as HeartbeatSenderManager).configuration).toEqual({
        interval: 250,
        timeout: 1_000,
        rpcFailureThreshold: 2,
        stallThreshold: 250,
      });
      expect((consumer.supervisor as HeartbeatReceiverManager).configuration).toEqual({
        interval: 250,
        timeout: 900,
        rpcFailureThreshold: 2,
        stallThreshold: 225,
      });

      // The factory's clock and scheduler drive the managers.
      const target = fakeTarget();
      consumer.workers.monitorTarget('w1', target);
      clock.advance(0);
      clock.advance(250);
      expect(target.requestHeartbeat).toHaveBeenCalledTimes(2);
    });

    it('accepts an async factory', async () => {
      const ref = await start([
        HeartbeatModule.forRootAsync({
          managers: { workers: 'sender', supervisor: 'receiver' },
          useFactory: async () => ({ resourceId: 'late-node', clock, scheduler: clock }),
        }),
      ]);

      expect(ref.get(Consumer).supervisor.ownResourceId).toBe('late-node');
    });
  });

  describe('roles', () => {
    it('a sender requests a heartbeat from each target right away, then every interval', async () => {
      const { workers } = await startBoth();
      const w1 = fakeTarget();
      const w2 = fakeTarget();
      workers.monitorTarget('w1', w1);
      workers.monitorTarget('w2', w2);

      expect(w1.requestHeartbeat).not.toHaveBeenCalled();
      clock.advance(0);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(1);
      expect(w1.requestHeartbeat).toHaveBeenLastCalledWith('node-a', null);
      expect(w2.requestHeartbeat).toHaveBeenCalledTimes(1);

      clock.advance(999);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(1);
      clock.advance(1);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(2);
      expect(w2.requestHeartbeat).toHaveBeenCalledTimes(2);
      expect(w1.receiveHeartbeat).not.toHaveBeenCalled();
    });

    it('a receiver sends nothing on its own, and times out a silent target', async () => {
      const { supervisor } = await startBoth();
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      clock.advance(0);
      clock.advance(4_999);
      expect(rm.requestHeartbeat).not.toHaveBeenCalled();
      expect(rm.receiveHeartbeat).not.toHaveBeenCalled();
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(0);

      // It answers a request from a monitored target.
      await supervisor.requestHeartbeat('rm', null);
      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('node-a', null);
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
    });
  });

  describe('senders start at application bootstrap', () => {
    const options = {
      resourceId: 'node-a',
      managers: { workers: 'sender', supervisor: 'receiver' },
      interval: 1_000,
      timeout: 5_000,
    } as const;

    it('sends nothing before the application bootstraps, then its first round at once', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [HeartbeatModule.forRoot({ ...options, clock, scheduler: clock })],
        providers: [Consumer],
      }).compile();
      const { workers } = moduleRef.get(Consumer);
      const w1 = fakeTarget();
      workers.monitorTarget('w1', w1);

      clock.advance(0);
      clock.advance(2_500); // two and a half intervals: a started sender would have asked thrice
      expect(w1.requestHeartbeat).not.toHaveBeenCalled();
      expect((workers as HeartbeatSenderManager).isStarted).toBe(false);

      await moduleRef.init();
      expect(w1.requestHeartbeat).not.toHaveBeenCalled();
      clock.advance(0);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(1);
      clock.advance(1_000);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(2);
    });

    it('sends nothing while the modules initialise, even to a target monitored in onModuleInit', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [HeartbeatModule.forRoot({ ...options, clock, scheduler: clock })],
        providers: [EarlyMonitor, BootstrapProbe],
      }).compile();
      await moduleRef.init();

      expect(moduleRef.get(BootstrapProbe).requestsAtBootstrap).toBe(0);
      clock.advance(0);
      expect(moduleRef.get(EarlyMonitor).target.requestHeartbeat).toHaveBeenCalledTimes(1);
    });

    it('a start-up that fails before bootstrap leaves no timer and no request behind', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [HeartbeatModule.forRoot({ ...options, clock, scheduler: clock })],
        providers: [BrokenAtInit, Consumer],
      }).compile();

      await expect(moduleRef.init()).rejects.toThrow('cannot connect to the database');
      const { workers } = moduleRef.get(Consumer);
      expect((workers as HeartbeatSenderManager).isStarted).toBe(false);
      expect(clock.pendingTasks).toBe(0);

      await moduleRef.close();
      moduleRef = undefined;
      expect(workers.isStopped).toBe(true);
      expect(clock.pendingTasks).toBe(0);
    });

    it('a receiver has nothing to start: it answers before bootstrap too', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [HeartbeatModule.forRoot({ ...options, clock, scheduler: clock })],
        providers: [Consumer],
      }).compile();
      const { supervisor } = moduleRef.get(Consumer);
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await supervisor.requestHeartbeat('rm', null);
      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('node-a', null);
    });
  });

  describe('configuration', () => {
    it("uses Flink's defaults module-wide: interval 10 s, timeout 50 s, threshold 2", async () => {
      const ref = await start([
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender', supervisor: 'receiver' },
          clock,
          scheduler: clock,
        }),
      ]);
      const { workers, supervisor } = ref.get(Consumer);
      expect((workers as HeartbeatSenderManager).configuration).toEqual({
        interval: 10_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });
      expect((supervisor as HeartbeatReceiverManager).configuration).toEqual({
        interval: 10_000,
        timeout: 50_000,
        rpcFailureThreshold: 2,
        stallThreshold: 2_000,
      });

      // ... and they are the ones in effect.
      const w1 = fakeTarget();
      workers.monitorTarget('w1', w1);
      clock.advance(0);
      clock.advance(9_999);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(1);
      clock.advance(1);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(2);
    });

    it('applies per-manager overrides over the module-wide settings', async () => {
      const ref = await start(
        [
          HeartbeatModule.forRoot({
            resourceId: 'node-a',
            managers: {
              fast: { role: 'sender', interval: 100, timeout: 300 },
              slow: 'sender',
              lenient: { role: 'receiver', rpcFailureThreshold: -1 },
            },
            interval: 1_000,
            timeout: 5_000,
            rpcFailureThreshold: 3,
            clock,
            scheduler: clock,
          }),
        ],
        [TimeoutRecorder],
      );
      const registry = ref.get(HeartbeatRegistry);
      const configurationOf = (name: string) =>
        (registry.getManager(name) as HeartbeatReceiverManager).configuration;
      expect(configurationOf('fast')).toEqual({
        interval: 100,
        timeout: 300,
        rpcFailureThreshold: 3,
        stallThreshold: 100,
      });
      expect(configurationOf('slow')).toEqual({
        interval: 1_000,
        timeout: 5_000,
        rpcFailureThreshold: 3,
        stallThreshold: 1_250,
      });
      expect(configurationOf('lenient')).toEqual({
        interval: 1_000,
        timeout: 5_000,
        rpcFailureThreshold: -1,
        stallThreshold: 1_250,
      });

      const fastTarget = fakeTarget();
      const slowTarget = fakeTarget();
      registry.getManager('fast').monitorTarget('t', fastTarget);
      registry.getManager('slow').monitorTarget('t', slowTarget);
      clock.advance(0);
      clock.advance(200);
      expect(fastTarget.requestHeartbeat).toHaveBeenCalledTimes(3);
      expect(slowTarget.requestHeartbeat).toHaveBeenCalledTimes(1);

      const recorder = ref.get(TimeoutRecorder);
      clock.advance(100);
      expect(recorder.timeouts).toEqual(['fast:t']);
      clock.advance(4_700);
      expect(recorder.timeouts).toEqual(['fast:t', 'slow:t']);
    });
  });

  describe('shutdown', () => {
    it('close() stops every manager, cancels every timer and disposes every target', async () => {
      const ref = await start([
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender', supervisor: 'receiver' },
          clock,
          scheduler: clock,
        }),
      ]);
      const { workers, supervisor } = ref.get(Consumer);
      const w1 = fakeTarget();
      const w2 = fakeTarget();
      const rm = fakeTarget();
      workers.monitorTarget('w1', w1);
      workers.monitorTarget('w2', w2);
      supervisor.monitorTarget('rm', rm);
      clock.advance(0);
      await flush();
      expect(clock.pendingTasks).toBeGreaterThan(0);

      await ref.close();
      moduleRef = undefined;

      expect(workers.isStopped).toBe(true);
      expect(supervisor.isStopped).toBe(true);
      expect(clock.pendingTasks).toBe(0);
      for (const target of [w1, w2, rm]) {
        expect(target.dispose).toHaveBeenCalledTimes(1);
      }
      expect(workers.getMonitoredTargets()).toEqual([]);
      expect(workers.getLastHeartbeatFrom('w1')).toBe(-1);

      // Nothing happens any more, and a target given now is released at once.
      clock.advance(60_000);
      expect(w1.requestHeartbeat).toHaveBeenCalledTimes(1);
      const late = fakeTarget();
      workers.monitorTarget('late', late);
      expect(late.dispose).toHaveBeenCalledTimes(1);
      expect(workers.getMonitoredTargets()).toEqual([]);
    });

    it('close() stops the managers even when nothing was ever monitored', async () => {
      const ref = await start([
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender', supervisor: 'receiver' },
          clock,
          scheduler: clock,
        }),
      ]);
      const registry = ref.get(HeartbeatRegistry);
      expect(clock.pendingTasks).toBe(1); // the sender's first run

      await ref.close();
      moduleRef = undefined;

      expect(registry.getManagerNames().map((name) => registry.getManager(name).isStopped)).toEqual(
        [true, true],
      );
      expect(clock.pendingTasks).toBe(0);
    });
  });

  it('is usable from an @Inject()ed token, as getHeartbeatManagerToken documents', async () => {
    @Injectable()
    class ByToken {
      constructor(
        @Inject(getHeartbeatManagerToken('workers')) readonly workers: HeartbeatManager,
      ) {}
    }
    const ref = await start(
      [
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender' },
          clock,
          scheduler: clock,
        }),
      ],
      [ByToken],
    );

    expect(ref.get(ByToken).workers).toBe(ref.get(HeartbeatRegistry).getManager('workers'));
  });
});

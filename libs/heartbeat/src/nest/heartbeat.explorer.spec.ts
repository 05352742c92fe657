import { jest } from '@jest/globals';
import { Controller, Injectable, Logger, Scope, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  OnTargetLost,
  OnTargetUnreachable,
  ProvideHeartbeatPayload,
} from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type {
  IncomingHeartbeat,
  TargetLossReason,
} from './interfaces/heartbeat-handler.interface.js';
import { HeartbeatIngress } from '../transport/heartbeat-ingress.js';

type Outcome = 'ok' | 'unreachable' | 'other';

/** A heartbeat target whose RPC outcome the test decides. */
function fakeTarget(outcome: () => Outcome = () => 'ok') {
  const rpc = jest.fn((_origin: string, _payload: unknown): Promise<void> => {
    switch (outcome()) {
      case 'ok':
        return Promise.resolve();
      case 'unreachable':
        return Promise.reject(new RecipientUnreachableError('fake', 'ECONNREFUSED'));
      case 'other':
        return Promise.reject(new Error('ask timed out'));
    }
  });
  return {
    requestHeartbeat: rpc,
    receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    dispose: jest.fn(() => undefined),
  } satisfies HeartbeatTarget;
}

/**
 * Three targets, one for each way to be lost: workers' "dead" refuses connections (unreachable at
 * the second request), workers' "silent" fails otherwise (timeout), supervisor's "rm" answers
 * nothing (timeout).
 */
function monitorDeadSilentAndRm(
  workers: HeartbeatManager<unknown, unknown>,
  supervisor: HeartbeatManager<unknown, unknown>,
): void {
  workers.monitorTarget(
    'dead',
    fakeTarget(() => 'unreachable'),
  );
  workers.monitorTarget(
    'silent',
    fakeTarget(() => 'other'),
  );
  supervisor.monitorTarget('rm', fakeTarget());
}

/** Lets the promise callbacks the managers chain on RPC outcomes and async handlers run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

// Managers used by the fixtures: "workers" (a sender) and "supervisor" (a receiver).
const INTERVAL = 1_000;
const TIMEOUT = 5_000;

@Injectable()
class WorkersWatcher {
  readonly calls: unknown[][] = [];

  @OnHeartbeatTimeout('workers')
  onTimeout(id: string): void {
    this.calls.push(['timeout', id, this instanceof WorkersWatcher]);
  }

  @OnTargetUnreachable('workers')
  onUnreachable(id: string): void {
    this.calls.push(['unreachable', id]);
  }

  @OnHeartbeatPayload('workers')
  onPayload(id: string, payload: unknown): void {
    this.calls.push(['payload', id, payload]);
  }

  @ProvideHeartbeatPayload('workers')
  payloadFor(id: string): string {
    this.calls.push(['retrieve', id]);
    return `to ${id}`;
  }
}

@Injectable()
class SupervisorWatcher {
  readonly calls: unknown[][] = [];

  @OnHeartbeatTimeout('supervisor')
  onTimeout(id: string): void {
    this.calls.push(['timeout', id]);
  }

  @OnHeartbeatPayload('supervisor')
  onPayload(id: string, payload: unknown): void {
    this.calls.push(['payload', id, payload]);
  }

  @ProvideHeartbeatPayload('supervisor')
  async payloadFor(id: string): Promise<{ for: string }> {
    return { for: id };
  }

  @OnIncomingHeartbeat('supervisor')
  vet(heartbeat: IncomingHeartbeat): boolean {
    this.calls.push(['incoming', heartbeat]);
    return true;
  }
}

/** Vetting handlers declared in an order that is neither alphabetical nor its reverse. */
class BaseVetting {
  readonly order: string[] = [];

  @OnIncomingHeartbeat('supervisor')
  inherited(): void {
    this.order.push('inherited');
  }
}

@Injectable()
class OrderedVetting extends BaseVetting {
  @OnIncomingHeartbeat('supervisor')
  check(): void {
    this.order.push('check');
  }

  @OnIncomingHeartbeat('supervisor')
  parse(): void {
    this.order.push('parse');
  }

  @OnIncomingHeartbeat('supervisor')
  audit(): void {
    this.order.push('audit');
  }
}

@Injectable()
class LostTargets {
  readonly lost: string[] = [];

  @OnHeartbeatTimeout('workers')
  @OnTargetUnreachable('workers')
  @OnHeartbeatTimeout('supervisor')
  onLost(id: string): void {
    this.lost.push(id);
  }
}

/** One handler for both kinds of loss, on both managers. */
@Injectable()
class LossWatcher {
  readonly losses: Array<[string, TargetLossReason]> = [];

  @OnTargetLost('workers')
  @OnTargetLost('supervisor')
  onLost(id: string, reason: TargetLossReason): void {
    this.losses.push([id, reason]);
  }
}

@Injectable()
class UnknownLossManagerUser {
  @OnTargetLost('ghost')
  onLost(): void {}
}

@Injectable()
class UnknownVettingManagerUser {
  @OnIncomingHeartbeat('ghost')
  vet(): void {}
}

@Controller()
class StatusController {
  readonly timeouts: string[] = [];

  @OnHeartbeatTimeout('workers')
  onTimeout(id: string): void {
    this.timeouts.push(id);
  }
}

@Injectable()
class UnknownManagerUser {
  @OnTargetUnreachable('ghost')
  onUnreachable(): void {}
}

@Injectable()
class TwoPayloads {
  @ProvideHeartbeatPayload('workers')
  first(): number {
    return 1;
  }

  @ProvideHeartbeatPayload('workers')
  second(): number {
    return 2;
  }
}

@Injectable()
class FirstPayload {
  @ProvideHeartbeatPayload('supervisor')
  provide(): number {
    return 1;
  }
}

@Injectable()
class SecondPayload {
  @ProvideHeartbeatPayload('supervisor')
  provide(): number {
    return 2;
  }
}

@Injectable()
class FaultyHandlers {
  @OnHeartbeatTimeout('workers')
  throwsOnTimeout(): void {
    throw new Error('timeout handler broke');
  }

  @OnHeartbeatTimeout('workers')
  async rejectsOnTimeout(): Promise<void> {
    throw new Error('async timeout handler broke');
  }

  @OnTargetUnreachable('workers')
  throwsOnUnreachable(): void {
    throw new Error('unreachable handler broke');
  }

  @OnHeartbeatPayload('workers')
  throwsOnPayload(): void {
    throw new Error('payload handler broke');
  }

  @ProvideHeartbeatPayload('workers')
  throwsOnRetrieve(): never {
    throw new Error('payload provider broke');
  }
}

@Injectable()
class RejectingPayloadProvider {
  @ProvideHeartbeatPayload('supervisor')
  async provide(): Promise<never> {
    throw new Error('async payload provider broke');
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedWatcher {
  static calls = 0;

  @OnHeartbeatTimeout('workers')
  onTimeout(): void {
    RequestScopedWatcher.calls += 1;
  }
}

describe('HeartbeatExplorer', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule | undefined;
  let errorLog: jest.SpiedFunction<Logger['error']>;
  let warnLog: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    clock = new ManualClock();
    moduleRef = undefined;
    errorLog = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    warnLog = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await moduleRef?.close();
    jest.restoreAllMocks();
  });

  async function start(providers: Type[], controllers: Type[] = []) {
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'node-a',
          managers: { workers: 'sender', supervisor: 'receiver' },
          interval: INTERVAL,
          timeout: TIMEOUT,
          clock,
          scheduler: clock,
        }),
      ],
      providers,
      controllers,
    }).compile();
    await moduleRef.init();
    const registry = moduleRef.get(HeartbeatRegistry);
    return {
      ref: moduleRef,
      workers: registry.getManager('workers'),
      supervisor: registry.getManager('supervisor'),
    };
  }

  /** Start-up error of a module with these providers, or null. */
  async function startupError(providers: Type[]): Promise<Error | null> {
    try {
      await start(providers);
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  describe('binds each decorated method to its own manager', () => {
    it('binds a provider once even when a useExisting alias points at it', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          HeartbeatModule.forRoot({
            resourceId: 'node-a',
            managers: { workers: 'sender' },
            interval: INTERVAL,
            timeout: TIMEOUT,
            clock,
          }),
        ],
        providers: [WorkersWatcher, { provide: 'WATCHER_ALIAS', useExisting: WorkersWatcher }],
      }).compile();
      await moduleRef.init();
      moduleRef.get(HeartbeatRegistry).getManager('workers').monitorTarget('w1', fakeTarget());

      clock.advance(TIMEOUT);

      const timeouts = moduleRef.get(WorkersWatcher).calls.filter(([kind]) => kind === 'timeout');
      expect(timeouts).toEqual([['timeout', 'w1', true]]);
    });

    it('@OnHeartbeatTimeout gets the id of the silent target, on the right manager only, bound to its instance', async () => {
      const { ref, workers, supervisor } = await start([WorkersWatcher, SupervisorWatcher]);
      const w1 = fakeTarget();
      workers.monitorTarget('w1', w1);
      supervisor.monitorTarget('rm', fakeTarget());
      clock.advance(TIMEOUT - 1);
      await supervisor.receiveHeartbeat('rm', null); // keeps "rm" alive

      clock.advance(1);
      const watcher = ref.get(WorkersWatcher);
      expect(watcher.calls.filter(([kind]) => kind === 'timeout')).toEqual([
        ['timeout', 'w1', true],
      ]);
      expect(ref.get(SupervisorWatcher).calls.filter(([kind]) => kind === 'timeout')).toEqual([]);

      clock.advance(TIMEOUT);
      expect(ref.get(SupervisorWatcher).calls.filter(([kind]) => kind === 'timeout')).toEqual([
        ['timeout', 'rm'],
      ]);
      expect(watcher.calls.filter(([kind]) => kind === 'timeout')).toHaveLength(1); // fires once
    });

    it('@OnTargetUnreachable gets the id after rpcFailureThreshold (2) unreachable requests', async () => {
      const { ref, workers } = await start([WorkersWatcher]);
      let outcome: Outcome = 'unreachable';
      workers.monitorTarget(
        'w1',
        fakeTarget(() => outcome),
      );
      workers.monitorTarget(
        'w2',
        fakeTarget(() => 'other'),
      );
      const watcher = ref.get(WorkersWatcher);
      const unreachable = () => watcher.calls.filter(([kind]) => kind === 'unreachable');

      clock.advance(0);
      await flush();
      expect(unreachable()).toEqual([]);
      clock.advance(INTERVAL);
      await flush();
      expect(unreachable()).toEqual([['unreachable', 'w1']]);

      // A failure that is not "unreachable" (w2) never counts.
      outcome = 'ok';
      clock.advance(INTERVAL * 3);
      await flush();
      expect(unreachable()).toEqual([['unreachable', 'w1']]);
    });

    it('@ProvideHeartbeatPayload gives the payload of each request, asked with the target id', async () => {
      const { ref, workers } = await start([WorkersWatcher]);
      const w1 = fakeTarget();
      const w2 = fakeTarget();
      workers.monitorTarget('w1', w1);
      workers.monitorTarget('w2', w2);

      clock.advance(0);
      expect(w1.requestHeartbeat).toHaveBeenCalledWith('node-a', 'to w1');
      expect(w2.requestHeartbeat).toHaveBeenCalledWith('node-a', 'to w2');
      expect(ref.get(WorkersWatcher).calls).toEqual([
        ['retrieve', 'w1'],
        ['retrieve', 'w2'],
      ]);
    });

    it('an async @ProvideHeartbeatPayload gives the payload of a receiver’s replies', async () => {
      const { supervisor } = await start([SupervisorWatcher]);
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await supervisor.requestHeartbeat('rm', null);
      await flush();
      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('node-a', { for: 'rm' });
    });

    it('@OnHeartbeatPayload gets the id and the payload, and is not called without payload', async () => {
      const { ref, workers, supervisor } = await start([WorkersWatcher, SupervisorWatcher]);
      workers.monitorTarget('w1', fakeTarget());
      supervisor.monitorTarget('rm', fakeTarget());

      await workers.receiveHeartbeat('w1', { jobs: 3 });
      await workers.receiveHeartbeat('w1', null);
      await workers.receiveHeartbeat('w1', 0);
      await supervisor.requestHeartbeat('rm', ['slot-1']);

      expect(ref.get(WorkersWatcher).calls).toEqual([
        ['payload', 'w1', { jobs: 3 }],
        ['payload', 'w1', 0],
      ]);
      expect(ref.get(SupervisorWatcher).calls).toEqual([['payload', 'rm', ['slot-1']]]);
    });

    it('@OnIncomingHeartbeat sees the heartbeats of its manager that come through the transport', async () => {
      const { ref, supervisor } = await start([SupervisorWatcher]);
      supervisor.monitorTarget('rm', fakeTarget());
      const ingress = ref.get(HeartbeatIngress);

      await ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: 7 });
      await ingress.handle('receive', { manager: 'workers', origin: 'w1', payload: null });

      expect(ref.get(SupervisorWatcher).calls).toEqual([
        ['incoming', { manager: 'supervisor', kind: 'request', origin: 'rm', payload: 7 }],
        ['payload', 'rm', 7],
      ]);
    });

    it("runs one class's @OnIncomingHeartbeat handlers in the order its methods are declared, inherited ones last", async () => {
      const { ref, supervisor } = await start([OrderedVetting]);
      supervisor.monitorTarget('rm', fakeTarget());

      await ref
        .get(HeartbeatIngress)
        .handle('request', { manager: 'supervisor', origin: 'rm', payload: null });

      expect(ref.get(OrderedVetting).order).toEqual(['check', 'parse', 'audit', 'inherited']);
    });

    it('one method with several decorators gets every event it is declared for', async () => {
      const { ref, workers, supervisor } = await start([LostTargets]);
      monitorDeadSilentAndRm(workers, supervisor);

      clock.advance(0);
      await flush();
      clock.advance(INTERVAL);
      await flush();
      expect(ref.get(LostTargets).lost).toEqual(['dead']);

      clock.advance(TIMEOUT - INTERVAL);
      expect(ref.get(LostTargets).lost).toEqual(['dead', 'silent', 'rm']);
    });

    it('@OnTargetLost gets the id and "unreachable" or "timeout", once per monitor, on each manager', async () => {
      const { ref, workers, supervisor } = await start([LossWatcher]);
      monitorDeadSilentAndRm(workers, supervisor);
      const watcher = ref.get(LossWatcher);

      clock.advance(0);
      await flush();
      expect(watcher.losses).toEqual([]);
      clock.advance(INTERVAL); // the second refused request: rpcFailureThreshold (2) reached
      await flush();
      expect(watcher.losses).toEqual([['dead', 'unreachable']]);

      clock.advance(TIMEOUT - INTERVAL);
      expect(watcher.losses).toEqual([
        ['dead', 'unreachable'],
        ['silent', 'timeout'],
        ['rm', 'timeout'],
      ]);

      clock.advance(TIMEOUT * 2);
      await flush();
      expect(watcher.losses).toHaveLength(3); // terminal states stick: no second loss
    });

    it('@OnTargetLost runs beside @OnHeartbeatTimeout and @OnTargetUnreachable, not instead of them', async () => {
      const { ref, workers } = await start([WorkersWatcher, LossWatcher]);
      workers.monitorTarget(
        'dead',
        fakeTarget(() => 'unreachable'),
      );
      workers.monitorTarget('silent', fakeTarget());

      clock.advance(0);
      await flush();
      clock.advance(INTERVAL);
      await flush();
      clock.advance(TIMEOUT);

      const specific = ref
        .get(WorkersWatcher)
        .calls.filter(([kind]) => kind === 'timeout' || kind === 'unreachable');
      expect(specific).toEqual([
        ['unreachable', 'dead'],
        ['timeout', 'silent', true],
      ]);
      expect(ref.get(LossWatcher).losses).toEqual([
        ['dead', 'unreachable'],
        ['silent', 'timeout'],
      ]);
    });

    it("binds controllers' decorated methods too", async () => {
      const { ref, workers } = await start([], [StatusController]);
      workers.monitorTarget('w1', fakeTarget());

      clock.advance(TIMEOUT);
      expect(ref.get(StatusController).timeouts).toEqual(['w1']);
    });

    it('binds nothing twice: each handler runs once per event', async () => {
      const { ref, workers } = await start([WorkersWatcher, LostTargets], [StatusController]);
      workers.monitorTarget('w1', fakeTarget());

      clock.advance(TIMEOUT);
      expect(ref.get(WorkersWatcher).calls.filter(([kind]) => kind === 'timeout')).toHaveLength(1);
      expect(ref.get(LostTargets).lost).toEqual(['w1']);
      expect(ref.get(StatusController).timeouts).toEqual(['w1']);
    });
  });

  describe('start-up errors', () => {
    it('a decorator naming an unknown manager fails start-up, naming the manager, the method and the declared managers', async () => {
      const error = await startupError([UnknownManagerUser]);
      expect(error?.message).toBe(
        'Unknown heartbeat manager "ghost" in UnknownManagerUser.onUnreachable; declared managers: workers, supervisor',
      );
    });

    it.each([
      ['@OnTargetLost', UnknownLossManagerUser, 'UnknownLossManagerUser.onLost'],
      ['@OnIncomingHeartbeat', UnknownVettingManagerUser, 'UnknownVettingManagerUser.vet'],
    ])('%s naming an unknown manager fails start-up too', async (_decorator, provider, where) => {
      const error = await startupError([provider]);
      expect(error?.message).toBe(
        `Unknown heartbeat manager "ghost" in ${where}; declared managers: workers, supervisor`,
      );
    });

    it('two payload providers in one class fail start-up, naming both', async () => {
      const error = await startupError([TwoPayloads]);
      expect(error?.message).toBe(
        'Heartbeat manager "workers" has two payload providers, TwoPayloads.first and TwoPayloads.second; keep one',
      );
    });

    it('two payload providers in two classes fail start-up, naming both', async () => {
      const error = await startupError([FirstPayload, SecondPayload]);
      expect(error?.message).toMatch(/^Heartbeat manager "supervisor" has two payload providers, /);
      expect(error?.message).toContain('FirstPayload.provide');
      expect(error?.message).toContain('SecondPayload.provide');
    });

    it('a failed start-up leaves no sender timer behind; close() still stops the managers', async () => {
      const error = await startupError([UnknownManagerUser]);
      expect(error).not.toBeNull();
      const registry = moduleRef!.get(HeartbeatRegistry);
      expect(registry.getManager('workers').isStopped).toBe(false);
      // Senders start at bootstrap, which a failed start never reaches: nothing would keep the process alive.
      expect(clock.pendingTasks).toBe(0);

      await moduleRef!.close();
      moduleRef = undefined;

      expect(registry.getManager('workers').isStopped).toBe(true);
      expect(registry.getManager('supervisor').isStopped).toBe(true);
      expect(clock.pendingTasks).toBe(0);
    });

    it('one payload provider per manager is fine', async () => {
      expect(await startupError([WorkersWatcher, SupervisorWatcher])).toBeNull();
    });
  });

  describe('failing handlers', () => {
    it('a handler that throws or rejects is logged; the other handlers and targets keep working', async () => {
      const { ref, workers } = await start([FaultyHandlers, LostTargets]);
      const ok = fakeTarget();
      const dead = fakeTarget(() => 'unreachable');
      workers.monitorTarget('ok', ok);
      workers.monitorTarget('dead', dead);

      // The payload provider throws: the requests still go out, without payload.
      clock.advance(0);
      await flush();
      expect(ok.requestHeartbeat).toHaveBeenCalledWith('node-a', null);
      expect(dead.requestHeartbeat).toHaveBeenCalledWith('node-a', null);

      // The payload handler throws: the heartbeat still counts.
      await workers.receiveHeartbeat('ok', { jobs: 1 });
      expect(workers.getLastHeartbeatFrom('ok')).toBe(clock.now());

      // The unreachable handler throws: the other handler of the event still runs.
      clock.advance(INTERVAL);
      await flush();
      expect(ref.get(LostTargets).lost).toEqual(['dead']);

      // The timeout handlers throw and reject: the other handler still runs; the loop goes on.
      clock.advance(TIMEOUT);
      await flush();
      expect(ref.get(LostTargets).lost).toEqual(['dead', 'ok']);
      clock.advance(INTERVAL);
      expect(ok.requestHeartbeat.mock.calls.length).toBeGreaterThanOrEqual(TIMEOUT / INTERVAL + 2);

      const logged = errorLog.mock.calls.map(([message]) => String(message));
      expect(logged).toEqual(
        expect.arrayContaining([
          expect.stringContaining('payload provider broke'),
          'FaultyHandlers.throwsOnPayload failed: payload handler broke',
          'FaultyHandlers.throwsOnUnreachable failed: unreachable handler broke',
          'FaultyHandlers.throwsOnTimeout failed: timeout handler broke',
          'FaultyHandlers.rejectsOnTimeout failed: async timeout handler broke',
        ]),
      );
      // The stack goes with the message.
      const [, stack] = errorLog.mock.calls.find(([message]) =>
        String(message).includes('handler broke'),
      )!;
      expect(String(stack)).toMatch(/^Error: .*handler broke/);
    });

    it('a payload provider that rejects is logged and the reply goes out without payload', async () => {
      const { supervisor } = await start([RejectingPayloadProvider]);
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await supervisor.requestHeartbeat('rm', null);
      await flush();

      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('node-a', null);
      expect(errorLog.mock.calls.map(([message]) => String(message))).toEqual([
        expect.stringContaining('async payload provider broke'),
      ]);
    });
  });

  it('warns about and skips the handlers of request-scoped providers', async () => {
    RequestScopedWatcher.calls = 0;
    const { workers } = await start([RequestScopedWatcher]);
    workers.monitorTarget('w1', fakeTarget());
    clock.advance(TIMEOUT);

    expect(RequestScopedWatcher.calls).toBe(0);
    expect(warnLog).toHaveBeenCalledWith(
      'Cannot bind heartbeat handler RequestScopedWatcher.onTimeout: it belongs to a request-scoped provider; it is ignored',
    );
  });

  it('binds handlers to managers that the app uses through injection (sanity check of the fixture wiring)', async () => {
    const { ref, workers } = await start([WorkersWatcher]);
    expect(ref.get(HeartbeatRegistry).getManager('workers')).toBe(workers as HeartbeatManager);
    expect(ref.get(HeartbeatRegistry).findEntry('workers')?.listener.managerName).toBe('workers');
  });
});

import { jest } from '@jest/globals';
import { Injectable, Logger, type Type } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { ManualClock } from '../core/manual-clock.js';
import {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  ProvideHeartbeatPayload,
} from './decorators/heartbeat-handler.decorator.js';
import { acceptHeartbeat, type AcceptedHeartbeat } from './accepted-heartbeat.js';
import { HeartbeatModule } from './heartbeat.module.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type {
  IncomingHeartbeat,
  IncomingHeartbeatVerdict,
} from './interfaces/heartbeat-handler.interface.js';
import { HeartbeatIngress } from '../transport/heartbeat-ingress.js';
import { HeartbeatTransportController } from '../transport/heartbeat-transport.controller.js';

function fakeTarget() {
  return {
    requestHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    dispose: jest.fn(() => undefined),
  } satisfies HeartbeatTarget;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const TIMEOUT = 5_000;

/** The app side of a TaskManager-like node: a "supervisor" receiver and a "workers" sender. */
@Injectable()
class Node {
  readonly payloads: unknown[][] = [];
  readonly timeouts: string[] = [];

  @OnHeartbeatPayload('supervisor')
  @OnHeartbeatPayload('workers')
  onPayload(id: string, payload: unknown): void {
    this.payloads.push([id, payload]);
  }

  @OnHeartbeatTimeout('supervisor')
  @OnHeartbeatTimeout('workers')
  onTimeout(id: string): void {
    this.timeouts.push(id);
  }

  @ProvideHeartbeatPayload('supervisor')
  report(id: string): { slotsFor: string } {
    return { slotsFor: id };
  }
}

type Verdict = (
  heartbeat: IncomingHeartbeat,
) => IncomingHeartbeatVerdict | Promise<IncomingHeartbeatVerdict>;

/** Vets incoming heartbeats of "supervisor": only origins on its list, with a configurable verdict. */
@Injectable()
class Gatekeeper {
  readonly seen: IncomingHeartbeat[] = [];
  verdict: Verdict = () => true;

  @OnIncomingHeartbeat('supervisor')
  vet(heartbeat: IncomingHeartbeat): IncomingHeartbeatVerdict | Promise<IncomingHeartbeatVerdict> {
    this.seen.push(heartbeat);
    return this.verdict(heartbeat);
  }
}

interface Lease {
  readonly leader: string;
  readonly term: number;
}

/**
 * Parses "supervisor" heartbeats once (text to a `Lease`), then checks the parsed form: the
 * payload handlers get the `Lease`. Its two handlers run in the order they are declared.
 */
@Injectable()
class LeaseParser {
  readonly checked: unknown[] = [];

  @OnIncomingHeartbeat<string, Lease>('supervisor')
  parse({ payload }: IncomingHeartbeat<string>): AcceptedHeartbeat<Lease> {
    const [leader, term] = String(payload).split('@');
    if (!leader || !/^\d+$/.test(term ?? '')) {
      throw new Error(`not a lease: ${JSON.stringify(payload)}`);
    }
    return acceptHeartbeat({ leader, term: Number(term) });
  }

  @OnIncomingHeartbeat<Lease>('supervisor')
  check({ payload }: IncomingHeartbeat<Lease>): boolean {
    this.checked.push(payload);
    return payload !== null && payload.term >= 7;
  }
}

/** The RpcException a call rejects with (null if it resolves). */
async function rejection(call: Promise<unknown>): Promise<RpcException> {
  return call.then(
    () => null as never,
    (error: unknown) => error as RpcException,
  );
}

const badField = (field: string) =>
  `heartbeat message field "${field}" must be a string of 1 to 256 characters`;
const notAnObject = 'heartbeat message must be an object { manager, origin, payload }';

describe('HeartbeatIngress', () => {
  let clock: ManualClock;
  let moduleRef: TestingModule;
  let ingress: HeartbeatIngress;
  let supervisor: HeartbeatManager;
  let workers: HeartbeatManager;
  let warnLog: jest.SpiedFunction<Logger['warn']>;

  async function start(providers: Type[] = [Node]) {
    moduleRef = await Test.createTestingModule({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: 'tm-1',
          managers: { supervisor: 'receiver', workers: 'sender' },
          interval: 1_000,
          timeout: TIMEOUT,
          clock,
          scheduler: clock,
        }),
      ],
      providers,
    }).compile();
    await moduleRef.init();
    ingress = moduleRef.get(HeartbeatIngress);
    const registry = moduleRef.get(HeartbeatRegistry);
    supervisor = registry.getManager('supervisor');
    workers = registry.getManager('workers');
  }

  beforeEach(async () => {
    clock = new ManualClock();
    warnLog = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.restoreAllMocks();
  });

  describe('valid heartbeats', () => {
    beforeEach(() => start([Node]));

    it('a request from a monitored origin reaches the manager, which replies through the target', async () => {
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);
      clock.advance(1_234);

      await expect(
        ingress.handle('request', {
          manager: 'supervisor',
          origin: 'rm',
          payload: { leader: true },
        }),
      ).resolves.toEqual({
        accepted: true,
      });

      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('tm-1', { slotsFor: 'rm' });
      expect(rm.requestHeartbeat).not.toHaveBeenCalled();
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
      expect(moduleRef.get(Node).payloads).toEqual([['rm', { leader: true }]]);
    });

    it('a request re-arms the timeout; once requests stop, the target times out', async () => {
      supervisor.monitorTarget('rm', fakeTarget());
      clock.advance(TIMEOUT - 1);
      await ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: null });
      clock.advance(TIMEOUT - 1);
      expect(moduleRef.get(Node).timeouts).toEqual([]);
      clock.advance(1);
      expect(moduleRef.get(Node).timeouts).toEqual(['rm']);
    });

    it('a reply ("receive") to a sender records the heartbeat and reports the payload', async () => {
      const w1 = fakeTarget();
      workers.monitorTarget('w1', w1);
      clock.advance(0);
      expect(w1.requestHeartbeat).toHaveBeenCalledWith('tm-1', null);
      clock.advance(500);

      await expect(
        ingress.handle('receive', { manager: 'workers', origin: 'w1', payload: { jobs: 2 } }),
      ).resolves.toEqual({
        accepted: true,
      });

      expect(workers.getLastHeartbeatFrom('w1')).toBe(clock.now());
      expect(moduleRef.get(Node).payloads).toEqual([['w1', { jobs: 2 }]]);
      expect(w1.receiveHeartbeat).not.toHaveBeenCalled();
    });

    it('a request from an unmonitored origin is acknowledged but ignored, as in Flink (no report, no reply)', async () => {
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'stranger', payload: 1 }),
      ).resolves.toEqual({
        accepted: true,
      });

      expect(rm.receiveHeartbeat).not.toHaveBeenCalled();
      expect(moduleRef.get(Node).payloads).toEqual([]);
      expect(supervisor.getLastHeartbeatFrom('stranger')).toBe(-1);
    });

    it('a reply from an unmonitored origin still reports its payload, as in Flink', async () => {
      await ingress.handle('receive', { manager: 'workers', origin: 'stranger', payload: 'hello' });
      expect(moduleRef.get(Node).payloads).toEqual([['stranger', 'hello']]);
    });

    it.each([
      ['a null payload', { payload: null }],
      ['an undefined payload', { payload: undefined }],
      ['a missing payload', {}],
    ])('treats %s as "nothing to report"', async (_case, payload) => {
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', ...payload }),
      ).resolves.toEqual({ accepted: true });

      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
      expect(rm.receiveHeartbeat).toHaveBeenCalledTimes(1);
      expect(moduleRef.get(Node).payloads).toEqual([]);
    });

    it.each([0, false, ''])('keeps a falsy payload (%p) and reports it', async (payload) => {
      supervisor.monitorTarget('rm', fakeTarget());
      await ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload });
      expect(moduleRef.get(Node).payloads).toEqual([['rm', payload]]);
    });

    it('the transport controller hands both patterns to the ingress', async () => {
      const controller = moduleRef.get(HeartbeatTransportController);
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);
      workers.monitorTarget('w1', fakeTarget());

      await expect(
        controller.requestHeartbeat({ manager: 'supervisor', origin: 'rm', payload: null }),
      ).resolves.toEqual({
        accepted: true,
      });
      expect(rm.receiveHeartbeat).toHaveBeenCalledTimes(1);

      clock.advance(10);
      await expect(
        controller.receiveHeartbeat({ manager: 'workers', origin: 'w1', payload: null }),
      ).resolves.toEqual({
        accepted: true,
      });
      expect(workers.getLastHeartbeatFrom('w1')).toBe(clock.now());

      await expect(controller.receiveHeartbeat('junk')).rejects.toBeInstanceOf(RpcException);
    });
  });

  describe('rejected heartbeats', () => {
    beforeEach(() => start([Node]));

    it.each<[string, unknown, string]>([
      ['a string', 'heartbeat', notAnObject],
      ['null', null, notAnObject],
      ['undefined', undefined, notAnObject],
      ['an array', ['supervisor', 'rm', null], notAnObject],
      ['a message without origin', { manager: 'supervisor', payload: 1 }, badField('origin')],
      ['an empty origin', { manager: 'supervisor', origin: '', payload: 1 }, badField('origin')],
      [
        'a 257-character origin',
        { manager: 'supervisor', origin: 'r'.repeat(257), payload: 1 },
        badField('origin'),
      ],
      ['a numeric origin', { manager: 'supervisor', origin: 42, payload: 1 }, badField('origin')],
      [
        'a non-string manager',
        { manager: ['supervisor'], origin: 'rm', payload: 1 },
        badField('manager'),
      ],
      ['a missing manager', { origin: 'rm', payload: 1 }, badField('manager')],
      [
        'an unknown manager',
        { manager: 'jobmaster', origin: 'rm', payload: 1 },
        'unknown heartbeat manager "jobmaster" (from rm)',
      ],
    ])('rejects %s with an RpcException naming the problem', async (_case, data, reason) => {
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      for (const kind of ['request', 'receive'] as const) {
        const error = await rejection(ingress.handle(kind, data));
        expect(error).toBeInstanceOf(RpcException);
        expect(error.getError()).toBe(reason);
        expect(error.message).toBe(reason);
        expect(warnLog).toHaveBeenLastCalledWith(`Rejected heartbeat ${kind}: ${reason}`);
      }

      expect(rm.receiveHeartbeat).not.toHaveBeenCalled();
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(0);
      expect(moduleRef.get(Node).payloads).toEqual([]);
    });

    it('accepts names of exactly 256 characters', async () => {
      const origin = 'o'.repeat(256);
      supervisor.monitorTarget(origin, fakeTarget());
      await expect(
        ingress.handle('request', { manager: 'supervisor', origin, payload: null }),
      ).resolves.toEqual({ accepted: true });
      expect(supervisor.getLastHeartbeatFrom(origin)).toBe(clock.now());
    });
  });

  describe('@OnIncomingHeartbeat', () => {
    let gatekeeper: Gatekeeper;
    let rm: ReturnType<typeof fakeTarget>;

    beforeEach(async () => {
      await start([Node, Gatekeeper]);
      gatekeeper = moduleRef.get(Gatekeeper);
      rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);
    });

    it('sees each heartbeat of its manager, with kind, origin and payload (null for none), before the manager', async () => {
      const repliesWhenVetted: number[] = [];
      gatekeeper.verdict = () => {
        repliesWhenVetted.push(rm.receiveHeartbeat.mock.calls.length);
        return undefined; // neither true nor false: accepted
      };
      await ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: [1] });
      await ingress.handle('receive', { manager: 'supervisor', origin: 'rm' });
      await ingress.handle('receive', { manager: 'workers', origin: 'w1', payload: 3 });

      expect(gatekeeper.seen).toEqual([
        { manager: 'supervisor', kind: 'request', origin: 'rm', payload: [1] },
        { manager: 'supervisor', kind: 'receive', origin: 'rm', payload: null },
      ]);
      expect(repliesWhenVetted).toEqual([0, 1]);
      expect(rm.receiveHeartbeat).toHaveBeenCalledTimes(1);
    });

    it.each<[string, Verdict, string]>([
      ['returns false', () => false, 'rejected by Gatekeeper.vet'],
      ['resolves to false', async () => false, 'rejected by Gatekeeper.vet'],
      [
        'throws',
        ({ origin }) => {
          throw new Error(`${origin} is fenced off`);
        },
        'rm is fenced off',
      ],
      [
        'rejects',
        async () => {
          throw new Error('stale leader');
        },
        'stale leader',
      ],
      [
        'throws a non-Error',
        () => {
          throw 'nope';
        },
        'nope',
      ],
      [
        'returns a plain { payload } (a message of a protocol with a payload field)',
        () => ({ payload: { x: 1 } }) as never,
        'Gatekeeper.vet returned neither true, false, undefined nor acceptHeartbeat(payload)',
      ],
    ])(
      'rejects the heartbeat when the handler %s, before it reaches the manager',
      async (_case, verdict, why) => {
        gatekeeper.verdict = verdict;
        clock.advance(100);

        const error = await rejection(
          ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: { x: 1 } }),
        );
        expect(error).toBeInstanceOf(RpcException);

        expect(error.message).toBe(`heartbeat from rm to "supervisor" rejected: ${why}`);
        await flush();
        expect(rm.receiveHeartbeat).not.toHaveBeenCalled();
        expect(supervisor.getLastHeartbeatFrom('rm')).toBe(0);
        expect(moduleRef.get(Node).payloads).toEqual([]);
      },
    );

    it('accepts with the payload replaced when the handler returns acceptHeartbeat(payload)', async () => {
      // A parsed form with a `payload` field of its own is taken as it is: the marker says which.
      const parsed = { payload: 'inner', meta: { version: 2 } };
      gatekeeper.verdict = async () => acceptHeartbeat(parsed);
      clock.advance(10);
      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: 'raw' }),
      ).resolves.toEqual({ accepted: true });

      expect(moduleRef.get(Node).payloads).toEqual([['rm', parsed]]);
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
    });

    it('accepts again once the handler does', async () => {
      gatekeeper.verdict = () => false;
      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: null }),
      ).rejects.toBeInstanceOf(RpcException);
      gatekeeper.verdict = () => true;
      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: null }),
      ).resolves.toEqual({
        accepted: true,
      });
      expect(rm.receiveHeartbeat).toHaveBeenCalledTimes(1);
    });
  });

  describe('@OnIncomingHeartbeat handlers that return acceptHeartbeat(payload)', () => {
    let rm: ReturnType<typeof fakeTarget>;

    beforeEach(async () => {
      await start([Node, LeaseParser]);
      rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);
    });

    it('hand the parsed payload to the later handlers, the manager and @OnHeartbeatPayload', async () => {
      clock.advance(10);
      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: 'rm-1@7' }),
      ).resolves.toEqual({ accepted: true });

      expect(moduleRef.get(LeaseParser).checked).toEqual([{ leader: 'rm-1', term: 7 }]);
      expect(moduleRef.get(Node).payloads).toEqual([['rm', { leader: 'rm-1', term: 7 }]]);
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('tm-1', { slotsFor: 'rm' });
    });

    it('reject with the reason of the handler that throws; the later ones do not run', async () => {
      const error = await rejection(
        ingress.handle('receive', { manager: 'supervisor', origin: 'rm', payload: 'garbage' }),
      );

      expect(error.message).toBe(
        'heartbeat from rm to "supervisor" rejected: not a lease: "garbage"',
      );
      expect(moduleRef.get(LeaseParser).checked).toEqual([]);
      expect(moduleRef.get(Node).payloads).toEqual([]);
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(0);
    });

    it('reject when a later handler returns false on the parsed form', async () => {
      const error = await rejection(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: 'rm-0@6' }),
      );

      expect(error.message).toBe(
        'heartbeat from rm to "supervisor" rejected: rejected by LeaseParser.check',
      );
      expect(moduleRef.get(LeaseParser).checked).toEqual([{ leader: 'rm-0', term: 6 }]);
      expect(rm.receiveHeartbeat).not.toHaveBeenCalled();
      expect(moduleRef.get(Node).payloads).toEqual([]);
    });

    it('leave the heartbeats of other managers alone', async () => {
      workers.monitorTarget('w1', fakeTarget());
      await expect(
        ingress.handle('receive', { manager: 'workers', origin: 'w1', payload: 'raw' }),
      ).resolves.toEqual({ accepted: true });
      expect(moduleRef.get(Node).payloads).toEqual([['w1', 'raw']]);
    });
  });
});

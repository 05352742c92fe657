import { jest } from '@jest/globals';
import { Injectable, Logger, type Type } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import type { HeartbeatManager } from '../core/heartbeat-manager.interface.js';
import type { HeartbeatAnswer, HeartbeatTarget } from '../core/heartbeat-target.interface.js';
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
import {
  HEARTBEAT_ROUTES,
  HeartbeatIngress,
  type HeartbeatRoute,
  type HeartbeatRoutes,
} from '../transport/heartbeat-ingress.js';
import { HeartbeatTransportController } from '../transport/heartbeat-transport.controller.js';

function fakeTarget() {
  return {
    requestHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    dispose: jest.fn(() => undefined),
  } satisfies HeartbeatTarget;
}

/** A sender's target whose every request comes back with `answer` in its reply. */
function answeringTarget(answer: () => HeartbeatAnswer) {
  return {
    requestHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve(answer())),
    receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
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

/** Vets incoming heartbeats of the "workers" sender: the answers its requests bring back. */
@Injectable()
class SenderGate {
  readonly seen: IncomingHeartbeat[] = [];
  verdict: Verdict = () => true;

  @OnIncomingHeartbeat('workers')
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

  describe('answers in the reply', () => {
    beforeEach(() => start([Node]));

    it('a request from an origin monitored without a target gets the answer in the reply, with the @ProvideHeartbeatPayload payload', async () => {
      supervisor.monitorTarget('rm');
      clock.advance(1_234);

      await expect(
        ingress.handle('request', {
          manager: 'supervisor',
          origin: 'rm',
          payload: { leader: true },
        }),
      ).resolves.toStrictEqual({
        accepted: true,
        heartbeat: { origin: 'tm-1', payload: { slotsFor: 'rm' } },
      });

      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(clock.now());
      expect(moduleRef.get(Node).payloads).toEqual([['rm', { leader: true }]]);
    });

    it('the transport controller returns that reply as it is', async () => {
      supervisor.monitorTarget('rm');
      await expect(
        moduleRef
          .get(HeartbeatTransportController)
          .requestHeartbeat({ manager: 'supervisor', origin: 'rm', payload: null }),
      ).resolves.toStrictEqual({
        accepted: true,
        heartbeat: { origin: 'tm-1', payload: { slotsFor: 'rm' } },
      });
    });

    it('a request from an origin the manager does not monitor gets { accepted: true } only', async () => {
      supervisor.monitorTarget('rm');

      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'stranger', payload: 1 }),
      ).resolves.toStrictEqual({ accepted: true });

      expect(moduleRef.get(Node).payloads).toEqual([]);
      expect(supervisor.getLastHeartbeatFrom('rm')).toBe(0);
    });

    it('a request from an origin monitored with a target gets { accepted: true } only: the answer goes to the target', async () => {
      const rm = fakeTarget();
      supervisor.monitorTarget('rm', rm);

      await expect(
        ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: null }),
      ).resolves.toStrictEqual({ accepted: true });
      expect(rm.receiveHeartbeat).toHaveBeenCalledWith('tm-1', { slotsFor: 'rm' });
    });

    it('a sender answers requests only through its targets: { accepted: true }, never an answer in the reply', async () => {
      const w1 = fakeTarget();
      workers.monitorTarget('w1', w1);

      await expect(
        ingress.handle('request', { manager: 'workers', origin: 'w1', payload: null }),
      ).resolves.toStrictEqual({ accepted: true });

      expect(w1.receiveHeartbeat).toHaveBeenCalledWith('tm-1', null);
      // It cannot monitor an origin without a target, to answer it in the replies.
      expect(() => workers.monitorTarget('w2')).toThrow(TypeError);
    });
  });

  describe('@OnIncomingHeartbeat on a sender: the answers its requests bring back', () => {
    let gate: SenderGate;
    let w1: ReturnType<typeof answeringTarget>;

    beforeEach(async () => {
      await start([Node, SenderGate]);
      gate = moduleRef.get(SenderGate);
      w1 = answeringTarget(() => ({ origin: 'w1', payload: 'lease@7' }));
      workers.monitorTarget('w1', w1);
    });

    it('vets each answer as a "receive" heartbeat of its manager before the manager takes it', async () => {
      clock.advance(0);
      await flush();

      expect(w1.requestHeartbeat).toHaveBeenCalledWith('tm-1', null);
      expect(gate.seen).toEqual([
        { manager: 'workers', kind: 'receive', origin: 'w1', payload: 'lease@7' },
      ]);
      expect(workers.getLastHeartbeatFrom('w1')).toBe(clock.now());
      expect(moduleRef.get(Node).payloads).toEqual([['w1', 'lease@7']]);
    });

    it.each<[string, Verdict, string]>([
      ['returns false', () => false, 'rejected by SenderGate.vet'],
      [
        'throws',
        () => {
          throw new Error('stale lease');
        },
        'stale lease',
      ],
    ])(
      'keeps the target from being refreshed when the handler %s, and logs a warning',
      async (_case, verdict, reason) => {
        gate.verdict = verdict;

        for (let elapsed = 0; elapsed < TIMEOUT; elapsed += 1_000) {
          clock.advance(elapsed === 0 ? 0 : 1_000);
          await flush();
        }

        expect(gate.seen).toHaveLength(TIMEOUT / 1_000);
        expect(workers.getLastHeartbeatFrom('w1')).toBe(0);
        expect(moduleRef.get(Node).payloads).toEqual([]);
        expect(warnLog).toHaveBeenCalledWith(
          `Heartbeat manager workers: rejected the answer of w1: ${reason}`,
        );
        expect(moduleRef.get(Node).timeouts).toEqual([]);
        clock.advance(1_000); // a timeout after the start, with every answer rejected
        expect(moduleRef.get(Node).timeouts).toEqual(['w1']);
      },
    );

    it('hands the payload as the handler replaced it (acceptHeartbeat) to the manager', async () => {
      gate.verdict = ({ payload }) => {
        const [leader, term] = String(payload).split('@');
        return acceptHeartbeat({ leader, term: Number(term) });
      };
      clock.advance(0);
      await flush();

      expect(moduleRef.get(Node).payloads).toEqual([['w1', { leader: 'lease', term: 7 }]]);
      expect(workers.getLastHeartbeatFrom('w1')).toBe(clock.now());
    });

    it('accepts again once the handler does', async () => {
      gate.verdict = () => false;
      clock.advance(0);
      await flush();
      expect(workers.getLastHeartbeatFrom('w1')).toBe(0);

      gate.verdict = async () => true;
      clock.advance(1_000);
      await flush();
      expect(workers.getLastHeartbeatFrom('w1')).toBe(clock.now());
    });

    it('does not vet the heartbeats of the other managers', async () => {
      supervisor.monitorTarget('rm');
      await ingress.handle('request', { manager: 'supervisor', origin: 'rm', payload: null });
      expect(gate.seen).toEqual([]);
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
      }
      // Logged once: the second rejection has the same peer and reason within the interval.
      expect(warnLog.mock.calls).toEqual([[`Rejected heartbeat request: ${reason}`]]);

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

/** A route whose manager answers requests with `answer`, and whose vetting passes `vetted` on. */
function routeWith(answer: HeartbeatAnswer | void, vetted: unknown = 'vetted') {
  const route = {
    manager: {
      requestHeartbeat: jest.fn((_origin: string, _payload: unknown) =>
        Promise.resolve<HeartbeatAnswer | void>(answer),
      ),
      receiveHeartbeat: jest.fn((_origin: string, _payload: unknown) => Promise.resolve()),
    },
    vet: jest.fn((_kind: string, _origin: string, _payload: unknown) => ({
      accepted: true as const,
      payload: vetted,
    })),
  } satisfies HeartbeatRoute;
  const routes = {
    routeTo: (name: string) => (name === 'm' ? route : undefined),
    rejectMessage: jest.fn<HeartbeatRoutes['rejectMessage']>(),
  } satisfies HeartbeatRoutes;
  return { route, routes, ingress: new HeartbeatIngress(routes) };
}

describe('HeartbeatIngress over a narrow HeartbeatRoutes (no registry)', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('is provided with the registry as its routes (HEARTBEAT_ROUTES)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [HeartbeatModule.forRoot({ resourceId: 'tm-1', managers: { m: 'receiver' } })],
    }).compile();
    try {
      expect(moduleRef.get(HEARTBEAT_ROUTES)).toBe(moduleRef.get(HeartbeatRegistry));
    } finally {
      await moduleRef.close();
    }
  });

  it("puts the manager's answer to a request in the reply, handing it the vetted payload", async () => {
    const { route, ingress } = routeWith({ origin: 'tm-1', payload: { slots: 2 } });

    await expect(
      ingress.handle('request', { manager: 'm', origin: 'rm', payload: 'raw' }),
    ).resolves.toStrictEqual({
      accepted: true,
      heartbeat: { origin: 'tm-1', payload: { slots: 2 } },
    });

    expect(route.vet).toHaveBeenCalledWith('request', 'rm', 'raw');
    expect(route.manager.requestHeartbeat).toHaveBeenCalledWith('rm', 'vetted');
  });

  it('acknowledges a request the manager does not answer in the reply with { accepted: true } only', async () => {
    const { ingress } = routeWith(undefined);
    await expect(
      ingress.handle('request', { manager: 'm', origin: 'rm', payload: null }),
    ).resolves.toStrictEqual({ accepted: true });
  });

  it('hands a separate heartbeat ("receive") to receiveHeartbeat and acknowledges it', async () => {
    const { route, ingress } = routeWith({ origin: 'tm-1', payload: 1 });
    await expect(
      ingress.handle('receive', { manager: 'm', origin: 'rm', payload: 'raw' }),
    ).resolves.toStrictEqual({ accepted: true });
    expect(route.manager.receiveHeartbeat).toHaveBeenCalledWith('rm', 'vetted');
    expect(route.manager.requestHeartbeat).not.toHaveBeenCalled();
  });

  it('rejects a heartbeat its route refuses, or for a manager it has no route to, without calling a manager', async () => {
    const { route, routes, ingress } = routeWith({ origin: 'tm-1', payload: 1 });
    route.vet.mockReturnValueOnce({ accepted: false, reason: 'fenced' } as never);

    await expect(
      rejection(ingress.handle('request', { manager: 'm', origin: 'rm', payload: null })),
    ).resolves.toMatchObject({ message: 'heartbeat from rm to "m" rejected: fenced' });
    await expect(
      rejection(ingress.handle('request', { manager: 'other', origin: 'rm', payload: null })),
    ).resolves.toMatchObject({ message: 'unknown heartbeat manager "other" (from rm)' });

    expect(route.manager.requestHeartbeat).not.toHaveBeenCalled();
    // Each goes to the routes to be counted and (rate-limited) logged, with a bounded reason.
    expect(routes.rejectMessage.mock.calls).toEqual([
      [
        'm',
        'rm',
        'vetoed',
        'heartbeat from rm to "m" rejected: fenced',
        'Rejected heartbeat request: heartbeat from rm to "m" rejected: fenced',
      ],
      [
        null,
        'rm',
        'unknown-manager',
        'unknown heartbeat manager "other" (from rm)',
        'Rejected heartbeat request: unknown heartbeat manager "other" (from rm)',
      ],
    ]);
  });
});

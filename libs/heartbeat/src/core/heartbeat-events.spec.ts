import { jest } from '@jest/globals';
import type { HeartbeatEvent } from './heartbeat-events.js';
import { failureMessage, payloadBytesOf, rpcFailureKindOf } from './heartbeat-events.js';
import {
  flush,
  RecordingLogger,
  ScriptedTarget,
  silentListener,
} from '../../../../test/fixtures/scripted-heartbeats.js';
import { HeartbeatServices } from './heartbeat-services.js';
import { ManualClock } from './manual-clock.js';
import { RecipientUnreachableError } from './recipient-unreachable.error.js';

/*
 * The managers' event streams, on fake time with in-process targets: what each event says and
 * when it comes, and that nothing is built for a stream nobody watches.
 */

const INTERVAL = 100;
const TIMEOUT = 400;
const START = 1_000_000;

function setUp(stallThreshold = -1) {
  const clock = new ManualClock(START);
  const logger = new RecordingLogger();
  const services = HeartbeatServices.fromConfiguration(
    { interval: INTERVAL, timeout: TIMEOUT, rpcFailureThreshold: 2, stallThreshold },
    { clock, logger },
  );
  const sender = services.createSenderManager('rm-1', silentListener, { name: 'taskManagers' });
  const events: HeartbeatEvent[] = [];
  const subscription = sender.events.subscribe((event) => events.push(event));
  return { clock, logger, services, sender, events, subscription };
}

// Each event reads the clock once (its `at`), a measured round trip twice: counting the reads
// of one round shows what was built.
async function clockReadsOfOneRound(watch: 'nothing' | 'changes' | 'everything') {
  const { clock, sender, subscription } = setUp();
  subscription.unsubscribe();
  if (watch !== 'nothing') {
    (watch === 'changes' ? sender.changes : sender.events).subscribe(() => undefined);
  }
  // Both readings: events stamp the wall clock, round trips are measured on the monotonic one.
  const wallReads = jest.spyOn(clock, 'now');
  const monotonicReads = jest.spyOn(clock, 'monotonicNow');
  sender.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));
  sender.start();
  clock.advance(0);
  await flush();
  expect(sender.getLastHeartbeatFrom('tm-1')).toBe(START);
  return wallReads.mock.calls.length + monotonicReads.mock.calls.length;
}

describe('heartbeat events', () => {
  it('reports monitored, each heartbeat with its round trip and payload size, and unmonitored', async () => {
    const { clock, sender, events } = setUp();
    const target = new ScriptedTarget(clock, 'tm-1');
    target.payload = { slots: [1, 2] };
    target.delayMs = 7;
    sender.monitorTarget('tm-1', target);
    sender.start();

    clock.advance(0); // the first round's request
    clock.advance(7); // its reply
    await flush();
    sender.unmonitorTarget('tm-1');

    const payloadBytes = Buffer.byteLength(JSON.stringify(target.payload));
    expect(events).toEqual([
      { type: 'monitored', manager: 'taskManagers', at: START, target: 'tm-1' },
      {
        type: 'heartbeat',
        manager: 'taskManagers',
        at: START + 7,
        target: 'tm-1',
        roundTripMs: 7,
        payloadBytes,
      },
      { type: 'unmonitored', manager: 'taskManagers', at: START + 7, target: 'tm-1' },
    ]);
  });

  it("reports a timeout with the target's last heartbeat, and counts each failed RPC by kind", async () => {
    const { clock, sender, events } = setUp();
    const target = new ScriptedTarget(clock, 'tm-1');
    sender.monitorTarget('tm-1', target);
    sender.start();
    clock.advance(0);
    await flush(); // one heartbeat at START
    target.reply = () =>
      Promise.reject(
        Object.assign(new Error('no reply in time'), { heartbeatFailureKind: 'timeout' }),
      );

    for (let elapsed = 0; elapsed < TIMEOUT; elapsed += INTERVAL) {
      clock.advance(INTERVAL);
      await flush();
    }

    const failures = events.filter((event) => event.type === 'rpc-failed');
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]).toMatchObject({
      target: 'tm-1',
      kind: 'timeout',
      failure: 'no reply in time',
    });
    expect(events.filter((event) => event.type === 'timeout')).toEqual([
      {
        type: 'timeout',
        manager: 'taskManagers',
        at: START + TIMEOUT,
        target: 'tm-1',
        lastHeartbeat: START,
      },
    ]);
  });

  it('reports unreachable with the failure that crossed the threshold', async () => {
    const { clock, sender, events } = setUp();
    const target = new ScriptedTarget(clock, 'tm-1');
    let attempt = 0;
    target.reply = () => {
      attempt += 1;
      return Promise.reject(new RecipientUnreachableError('tm-1', `refused #${attempt}`));
    };
    sender.monitorTarget('tm-1', target);
    sender.start();
    clock.advance(0);
    await flush();
    clock.advance(INTERVAL);
    await flush();

    expect(events.map((event) => event.type)).toEqual([
      'monitored',
      'rpc-failed',
      'rpc-failed',
      'unreachable',
    ]);
    expect(events[1]).toMatchObject({ kind: 'unreachable' });
    expect(events[3]).toMatchObject({
      target: 'tm-1',
      failure: 'Heartbeat recipient tm-1 is unreachable: refused #2',
    });
  });

  it('reports a stall of the process with its length', () => {
    const { clock, sender, events } = setUp(1_000);
    sender.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));
    clock.stall(5_000); // a blocked loop: no timer runs until the end

    const stall = events.find((event) => event.type === 'stalled');
    expect(stall).toMatchObject({ manager: 'taskManagers', at: START + 5_000 });
    expect(stall && stall.type === 'stalled' && stall.stallMs).toBe(5_000);
  });

  it('reports a rejected answer with its peer and reason, and logs it once per peer, reason and interval', async () => {
    const clock = new ManualClock(START);
    const logger = new RecordingLogger();
    const services = HeartbeatServices.fromConfiguration(
      { interval: INTERVAL, timeout: 10 * INTERVAL },
      { clock, logger },
    );
    const sender = services.createSenderManager('rm-1', silentListener, {
      name: 'taskManagers',
      admitAnswer: () => ({ accepted: false, reason: 'stale fencing token' }),
    });
    const events: HeartbeatEvent[] = [];
    sender.events.subscribe((event) => events.push(event));
    sender.monitorTarget('tm-1', new ScriptedTarget(clock, 'tm-1'));
    sender.start();

    // Three rounds inside one log interval (the heartbeat interval), then one after it.
    clock.advance(0);
    await flush();
    clock.advance(INTERVAL / 2);
    sender.rejectMessage('tm-1', 'vetoed', 'rejected the answer of tm-1: stale fencing token');
    clock.advance(INTERVAL / 2);
    await flush();

    const rejected = events.filter((event) => event.type === 'rejected');
    expect(rejected).toHaveLength(3);
    expect(rejected[0]).toMatchObject({
      manager: 'taskManagers',
      peer: 'tm-1',
      reason: 'vetoed',
      detail: 'rejected the answer of tm-1: stale fencing token',
    });
    expect(logger.warnings).toEqual([
      'Heartbeat manager taskManagers: rejected the answer of tm-1: stale fencing token',
      'Heartbeat manager taskManagers: rejected the answer of tm-1: stale fencing token ' +
        `(1 more like it from this peer suppressed since its last line)`,
    ]);
  });

  it("reports a receiver's heartbeats without a round trip, and a request from an origin it does not monitor as rejected", async () => {
    const clock = new ManualClock(START);
    const logger = new RecordingLogger();
    const services = HeartbeatServices.fromConfiguration(
      { interval: INTERVAL, timeout: TIMEOUT },
      { clock, logger },
    );
    const receiver = services.createReceiverManager('tm-1', silentListener);
    const events: HeartbeatEvent[] = [];
    receiver.events.subscribe((event) => events.push(event));
    receiver.monitorTarget('rm-1');

    await receiver.requestHeartbeat('rm-1', 'ab');
    await receiver.requestHeartbeat('rm-2', null);

    expect(events).toEqual([
      { type: 'monitored', manager: 'tm-1', at: START, target: 'rm-1' },
      {
        type: 'heartbeat',
        manager: 'tm-1',
        at: START,
        target: 'rm-1',
        roundTripMs: null,
        payloadBytes: 4,
      },
      {
        type: 'rejected',
        manager: 'tm-1',
        at: START,
        peer: 'rm-2',
        reason: 'unknown-origin',
        detail: 'ignored a heartbeat request from rm-2, which it does not monitor',
      },
    ]);
  });

  it('completes the stream when the manager stops', () => {
    const { sender, subscription } = setUp();
    sender.stop();
    expect(subscription.closed).toBe(true);
  });

  it('builds no event and measures no round trip for nobody, and no heartbeat for a watcher of changes only', async () => {
    const unwatched = await clockReadsOfOneRound('nothing');
    expect(await clockReadsOfOneRound('changes')).toBe(unwatched + 1); // the `monitored` event
    expect(await clockReadsOfOneRound('everything')).toBe(unwatched + 1 + 3); // + round trip, `heartbeat`
  });
});

describe('rpcFailureKindOf', () => {
  it.each<[string, unknown, string]>([
    ['an unreachable recipient', new RecipientUnreachableError('x', 'refused'), 'unreachable'],
    [
      'a transport timeout',
      Object.assign(new Error('late'), { heartbeatFailureKind: 'timeout' }),
      'timeout',
    ],
    [
      'an error reply',
      Object.assign(new Error('no'), { heartbeatFailureKind: 'rejected' }),
      'rejected',
    ],
    [
      "rxjs's TimeoutError",
      Object.assign(new Error('Timeout has occurred'), { name: 'TimeoutError' }),
      'timeout',
    ],
    ["a ClientProxy's error reply", { status: 'error', message: 'fenced' }, 'rejected'],
    ['anything else', 'boom', 'other'],
    ['null', null, 'other'],
  ])('names %s', (_case, error, kind) => {
    expect(rpcFailureKindOf(error)).toBe(kind);
  });
});

describe('payloadBytesOf', () => {
  it('counts UTF-8 bytes of the JSON, 0 for no payload or one JSON cannot write', () => {
    expect(payloadBytesOf(null)).toBe(0);
    expect(payloadBytesOf(undefined)).toBe(0);
    expect(payloadBytesOf({ a: 'é' })).toBe(Buffer.byteLength('{"a":"é"}'));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(payloadBytesOf(cyclic)).toBe(0);
  });
});

describe('failureMessage', () => {
  it('describes any failure without throwing', () => {
    expect(failureMessage(new Error('refused'))).toBe('refused');
    expect(failureMessage({ message: 'an error reply', status: 'error' })).toBe('an error reply');
    expect(failureMessage('boom')).toBe('boom');
    expect(failureMessage(Object.create(null))).toBe('an error that cannot be described');
  });
});

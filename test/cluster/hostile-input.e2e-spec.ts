import { readFileSync } from 'node:fs';
import { exchangeRaw, frame, framesOf, type RawExchange } from '../fixtures/raw-client.js';
import {
  Cluster,
  FAST_HEARTBEATS,
  resourceManagerIdOf,
  sleep,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type AppProcess,
  type ResourceManagerProcess,
  type TaskManagerProcess,
  type TaskManagerView,
} from './cluster-harness.js';

// A live ResourceManager and two live TaskManagers; a hostile client throws every kind of bad
// input at their TCP ports. Each input must be answered with an error reply or a closed
// connection, with a logged reason, while the TaskManagers stay registered and heartbeating.
const INCOMPLETE_MESSAGE_TIMEOUT_MS = 1_000;
const FRAME_ENV = { TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS: String(INCOMPLETE_MESSAGE_TIMEOUT_MS) };
/** Long enough for the incomplete-frame timeout to fire, with a margin for a loaded machine. */
const WAIT_MS = INCOMPLETE_MESSAGE_TIMEOUT_MS + 3_000;
/** The ResourceManager's resident memory may grow by at most this much under the attack. */
const RSS_GROWTH_BOUND_MB = 32;
const FLOOD_CONNECTIONS = 8;
const FLOOD_MB_PER_CONNECTION = 8;
/**
 * A fencing token older than any leadership: tokens are digit strings that grow with each one
 * (without HA, the ResourceManager's start time in ms).
 */
const STALE_TOKEN = '1';
/** A token that is not one: the schemas refuse anything but 1 to 20 digits. */
const NOT_A_TOKEN = 'an-old-token';
const NOT_A_TOKEN_REASON = 'fencingToken: must be a string of 1 to 20 digits';
/** A token newer than `token` (a leadership the receiver has not registered with). */
const newerThan = (token: string) => String(BigInt(token) + 1n);

type Outcome = 'closed' | 'error reply';

interface HostileCase {
  readonly name: string;
  readonly chunks: ReadonlyArray<string | Buffer>;
  readonly outcome: Outcome;
  /** What the process logs about it; a function gets the hostile connection's port. */
  readonly log: RegExp | ((localPort: number) => RegExp);
}

const closedLog = (reason: string) => (localPort: number) =>
  new RegExp(`Closed the connection from 127\\.0\\.0\\.1:${localPort}: ${reason}`);

let nextId = 0;
const request = (pattern: string, data: unknown) => frame({ pattern, data, id: `h-${++nextId}` });

/** The error reply's message, if the exchange holds one. */
function errorReply(exchange: RawExchange): string | undefined {
  const reply = framesOf(exchange.received)[0] as
    { err?: { message?: string } | string } | undefined;
  const err = reply?.err;
  return typeof err === 'string' ? err : err?.message;
}

function rssMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  if (!match) {
    throw new Error(`no VmRSS for pid ${pid}`);
  }
  return Number(match[1]) / 1_024;
}

/** Runs every case at once, each on its own connection; checks each outcome and log line. */
async function attack(target: AppProcess, port: number, cases: readonly HostileCase[]) {
  const exchanges = await Promise.all(cases.map((c) => exchangeRaw(port, c.chunks, WAIT_MS)));
  for (const [i, hostile] of cases.entries()) {
    const exchange = exchanges[i];
    const described = `${hostile.name}: ${JSON.stringify(exchange)}`;
    if (hostile.outcome === 'closed') {
      expect({ case: hostile.name, closed: exchange.closed }).toEqual({
        case: hostile.name,
        closed: true,
      });
    } else {
      expect({ case: hostile.name, error: typeof errorReply(exchange) }).toEqual({
        case: hostile.name,
        error: 'string',
      });
    }
    const log = typeof hostile.log === 'function' ? hostile.log(exchange.localPort) : hostile.log;
    await waitForLine(target, log, { timeoutMs: 5_000, description: described });
  }
}

const listeningPort = async (tm: TaskManagerProcess) =>
  Number((await waitForLine(tm, /listening on 127\.0\.0\.1:(\d+) /))[1]);

describe('hostile input against a live cluster (real processes)', () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;
  let fencingToken: string;
  let tmA: TaskManagerProcess;
  let tmB: TaskManagerProcess;

  const views = async () =>
    Object.fromEntries((await rm.taskManagers()).map((view) => [view.id, view])) as Record<
      string,
      TaskManagerView
    >;

  beforeAll(async () => {
    rm = await cluster.startResourceManager({ env: FRAME_ENV });
    const start = (id: string) =>
      cluster.startTaskManager({
        id,
        slots: 2,
        resourceManagerTcpPort: rm.tcpPort,
        env: FRAME_ENV,
      });
    tmA = start('tm-a');
    tmB = start('tm-b');
    fencingToken = await rm.ready();
    await Promise.all([tmA.registered(fencingToken), tmB.registered(fencingToken)]);
    await waitFor(async () => Object.keys(await views()).length === 2, {
      description: 'both TaskManagers listed',
    });
  }, TEST_TIMEOUT_MS);

  afterAll(() => cluster.killAll());

  it(
    'the ResourceManager rejects every bad input with a reason, keeps both TaskManagers, and its memory stays bounded',
    async () => {
      await sleep(1_000); // let memory settle after start-up
      const rssBefore = rssMb(rm.pid as number);
      const before = await views();
      const slotReport = { version: 0, slots: [] };
      const heartbeat = (origin: string, payload: unknown) =>
        request('heartbeat.receive', { manager: 'taskManagers', origin, payload });
      const goodRegistration = { taskManagerId: 'tm-x', host: '127.0.0.1', port: 1, slots: 1 };

      const cases: HostileCase[] = [
        {
          name: 'garbage bytes, then silence',
          chunks: [Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x0d, 0x0a])],
          outcome: 'closed',
          log: closedLog('The remote peer stopped sending in the middle of a packet'),
        },
        {
          name: 'an HTTP request',
          chunks: ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
          outcome: 'closed',
          log: closedLog('The remote peer stopped sending'),
        },
        {
          name: 'a non-numeric length prefix',
          chunks: ['abc#{"pattern":"rm.register-task-manager"}'],
          outcome: 'closed',
          log: closedLog('Corrupted length value \\\\"abc\\\\"'),
        },
        {
          name: 'a huge declared length, then silence',
          chunks: ['999999999#{"pattern":"rm.register-task-manager","data":'],
          outcome: 'closed',
          log: closedLog('The remote peer stopped sending'),
        },
        {
          name: 'a huge declared length, then more data than any heartbeat',
          chunks: ['999999999#', 'x'.repeat(200_000)],
          outcome: 'closed',
          log: closedLog('The packet length \\(\\d+\\) exceeds the maximum allowed length'),
        },
        {
          name: 'a frame cut off, then silence',
          chunks: [request('rm.register-task-manager', goodRegistration).slice(0, 40)],
          outcome: 'closed',
          log: closedLog('The remote peer stopped sending'),
        },
        {
          name: 'invalid JSON',
          chunks: ['9#{"pattern'],
          outcome: 'closed',
          log: closedLog('invalid JSON in a frame of 9 characters'),
        },
        {
          name: 'JSON that is not a message (an array)',
          chunks: [frame([1, 2, 3])],
          outcome: 'closed',
          log: closedLog('bad message: a message must be an object \\{ pattern, data, id \\}'),
        },
        {
          name: 'JSON null',
          chunks: [frame(null)],
          outcome: 'closed',
          log: closedLog('bad message: a message must be an object'),
        },
        {
          name: 'a message with extra junk fields',
          chunks: [frame({ pattern: 'rm.register-task-manager', data: {}, id: 'j-1', junk: 1 })],
          outcome: 'error reply',
          log: closedLog('bad message: unknown field\\(s\\) \\\\"junk\\\\"'),
        },
        {
          name: 'an unknown pattern',
          chunks: [request('rm.drop-all-tables', {})],
          outcome: 'error reply',
          log: closedLog('bad message: unknown pattern \\\\"rm.drop-all-tables\\\\"'),
        },
        {
          name: 'a pattern of the wrong type',
          chunks: [frame({ pattern: 42, data: {}, id: 'p-1' })],
          outcome: 'error reply',
          log: closedLog('bad message: pattern must be a string'),
        },
        {
          name: 'an oversized payload',
          chunks: [
            request('rm.register-task-manager', { ...goodRegistration, host: 'h'.repeat(100_000) }),
          ],
          outcome: 'closed',
          log: closedLog('The packet length'),
        },
        {
          name: 'a registration with a missing field',
          chunks: [
            request('rm.register-task-manager', {
              taskManagerId: 'tm-x',
              host: '127.0.0.1',
              port: 1,
            }),
          ],
          outcome: 'error reply',
          log: /Rejected a message: registration\.slots: /,
        },
        {
          name: 'a registration with a wrongly typed field',
          chunks: [request('rm.register-task-manager', { ...goodRegistration, port: '6123' })],
          outcome: 'error reply',
          log: /Rejected a message: registration\.port: /,
        },
        {
          name: 'a registration with an invalid id',
          chunks: [
            request('rm.register-task-manager', { ...goodRegistration, taskManagerId: 'tm x/../' }),
          ],
          outcome: 'error reply',
          log: /Rejected a message: registration\.taskManagerId: must be 1 to 128 characters/,
        },
        {
          name: 'a registration with an invalid slot count',
          chunks: [request('rm.register-task-manager', { ...goodRegistration, slots: 100_000 })],
          outcome: 'error reply',
          log: /Rejected a message: registration\.slots: /,
        },
        {
          name: 'a registration with extra junk',
          chunks: [request('rm.register-task-manager', { ...goodRegistration, isAdmin: true })],
          outcome: 'error reply',
          log: /Rejected a message: registration: Unrecognized key: "isAdmin"/,
        },
        {
          name: 'a heartbeat message of the wrong shape',
          chunks: [request('heartbeat.receive', { manager: 'taskManagers', origin: 7 })],
          outcome: 'error reply',
          log: /Rejected heartbeat receive: heartbeat message field "origin" must be a string/,
        },
        {
          name: 'a heartbeat for a TaskManager that is not registered',
          chunks: [heartbeat('tm-ghost', { fencingToken, credential: 'c', slotReport })],
          outcome: 'error reply',
          log: /Rejected heartbeat receive: .*tm-ghost is not registered/,
        },
        {
          name: "a heartbeat in tm-a's name without its credential",
          chunks: [heartbeat('tm-a', { fencingToken, credential: 'guessed', slotReport })],
          outcome: 'error reply',
          log: /Rejected heartbeat receive: .*wrong credential for tm-a/,
        },
        {
          name: "a heartbeat request in tm-b's name with a stale fencing token",
          chunks: [
            request('heartbeat.request', {
              manager: 'taskManagers',
              origin: 'tm-b',
              payload: { fencingToken: STALE_TOKEN, credential: 'c', slotReport },
            }),
          ],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat request: .*fencing token ${STALE_TOKEN} is not this leadership's \\(${fencingToken}\\)`,
          ),
        },
        {
          name: "a heartbeat in tm-b's name with a fencing token newer than the leadership's",
          chunks: [
            heartbeat('tm-b', {
              fencingToken: newerThan(fencingToken),
              credential: 'c',
              slotReport,
            }),
          ],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat receive: .*fencing token ${newerThan(fencingToken)} is not this leadership's \\(${fencingToken}\\)`,
          ),
        },
        {
          name: "a heartbeat in tm-b's name with a fencing token that is not digits",
          chunks: [heartbeat('tm-b', { fencingToken: NOT_A_TOKEN, credential: 'c', slotReport })],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat receive: .*heartbeat payload\\.${NOT_A_TOKEN_REASON}`,
          ),
        },
        {
          name: 'a heartbeat without payload',
          chunks: [heartbeat('tm-a', null)],
          outcome: 'error reply',
          log: /Rejected heartbeat receive: .*heartbeat payload: /,
        },
        {
          name: "a registration taking over tm-a's id without its credential",
          chunks: [
            request('rm.register-task-manager', {
              ...goodRegistration,
              taskManagerId: 'tm-a',
              credential: 'guessed',
            }),
          ],
          outcome: 'error reply',
          log: /Refused the registration of TaskManager tm-a from 127\.0\.0\.1:1: tm-a is registered from .* lacks that registration's credential/,
        },
      ];
      await attack(rm, rm.tcpPort, cases);

      // A goodbye in tm-a's name without its credential is answered { released: false }.
      const goodbye = await exchangeRaw(
        rm.tcpPort,
        [
          request('rm.unregister-task-manager', {
            taskManagerId: 'tm-a',
            fencingToken,
            credential: 'guessed',
          }),
        ],
        WAIT_MS,
        1,
      );
      expect(framesOf(goodbye.received)[0]).toMatchObject({ response: { released: false } });
      await waitForLine(rm, /Ignored a goodbye from tm-a: wrong credential for tm-a/, {
        timeoutMs: 5_000,
      });

      // A flood: connections that declare a huge frame and push megabytes are cut off early.
      const flood = await Promise.all(
        Array.from({ length: FLOOD_CONNECTIONS }, () =>
          exchangeRaw(
            rm.tcpPort,
            [
              '999999999#',
              ...Array.from({ length: FLOOD_MB_PER_CONNECTION }, () => 'y'.repeat(1_048_576)),
            ],
            WAIT_MS,
          ),
        ),
      );
      expect(flood.every((exchange) => exchange.closed)).toBe(true);
      const rssAfter = rssMb(rm.pid as number);
      if (process.env.CLUSTER_E2E_TIMINGS === '1') {
        process.stderr.write(
          `[cluster-e2e] ResourceManager RSS ${rssBefore.toFixed(1)} MB before the attack, ${rssAfter.toFixed(1)} MB after (bound: +${RSS_GROWTH_BOUND_MB} MB)\n`,
        );
      }
      expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_BOUND_MB);

      // Both TaskManagers are still registered, their heartbeats still advancing; nobody was lost.
      await sleep(4 * FAST_HEARTBEATS.interval);
      const after = await views();
      for (const id of ['tm-a', 'tm-b']) {
        expect(after[id]).toBeDefined();
        expect(after[id].lastHeartbeat).toBeGreaterThan(before[id].lastHeartbeat);
        expect(after[id].timeSinceLastHeartbeat).toBeLessThan(FAST_HEARTBEATS.timeout);
      }
      expect(rm.linesMatching(/ lost: /)).toEqual([]);
      expect(rm.alive).toBe(true);
      expect(rm.findLine(/registered from .* tm-x|TaskManager tm-x registered/)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a TaskManager's port rejects bad frames and heartbeat requests that are not from its ResourceManager",
    async () => {
      const port = await listeningPort(tmA);
      const rmId = resourceManagerIdOf(fencingToken);
      const heartbeatRequest = (origin: string, payload: unknown) =>
        request('heartbeat.request', { manager: 'resourceManager', origin, payload });
      const before = (await views())['tm-a'];

      await attack(tmA, port, [
        {
          name: 'garbage bytes',
          chunks: ['#garbage'],
          outcome: 'closed',
          log: closedLog('Corrupted length value'),
        },
        {
          name: 'invalid JSON',
          chunks: ['3#{{{'],
          outcome: 'closed',
          log: closedLog('invalid JSON'),
        },
        {
          name: 'a huge declared length, then silence',
          chunks: ['123456789#{'],
          outcome: 'closed',
          log: closedLog('The remote peer stopped sending'),
        },
        {
          name: 'a heartbeat request with a stale fencing token (a deposed leader)',
          chunks: [heartbeatRequest(rmId, { fencingToken: STALE_TOKEN, credential: 'c' })],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat request: .*stale fencing token ${STALE_TOKEN}: from a deposed leader \\(this TaskManager is registered with leadership ${fencingToken}\\)`,
          ),
        },
        {
          name: 'a heartbeat request with a newer fencing token (a leader it has not registered with)',
          chunks: [
            heartbeatRequest(rmId, { fencingToken: newerThan(fencingToken), credential: 'c' }),
          ],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat request: .*fencing token ${newerThan(fencingToken)} is newer than this TaskManager's registration \\(${fencingToken}\\)`,
          ),
        },
        {
          name: 'a heartbeat request with a fencing token that is not digits',
          chunks: [heartbeatRequest(rmId, { fencingToken: NOT_A_TOKEN, credential: 'c' })],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected heartbeat request: .*heartbeat payload\\.${NOT_A_TOKEN_REASON}`,
          ),
        },
        {
          name: 'a heartbeat request from another ResourceManager',
          chunks: [
            heartbeatRequest('resource-manager-impostor', { fencingToken, credential: 'c' }),
          ],
          outcome: 'error reply',
          log: /Rejected heartbeat request: .*resource-manager-impostor is not the ResourceManager/,
        },
        {
          name: 'a heartbeat request with the fencing token (anyone may learn it) but a guessed credential',
          chunks: [heartbeatRequest(rmId, { fencingToken, credential: 'guessed' })],
          outcome: 'error reply',
          log: /Rejected heartbeat request: .*wrong credential/,
        },
        {
          name: 'a heartbeat request without a fencing token',
          chunks: [heartbeatRequest(rmId, null)],
          outcome: 'error reply',
          log: /Rejected heartbeat request: .*heartbeat payload: /,
        },
        {
          name: 'a slot allocation with a stale fencing token',
          chunks: [
            request('tm.allocate-slots', {
              fencingToken: STALE_TOKEN,
              credential: 'c',
              allocations: [{ slotIndex: 0, allocationId: 'a', jobId: 'j' }],
            }),
          ],
          outcome: 'error reply',
          log: new RegExp(
            `Rejected a command: stale fencing token ${STALE_TOKEN}: from a deposed leader \\(this TaskManager is registered with leadership ${fencingToken}\\)`,
          ),
        },
        {
          name: 'a slot allocation with a fencing token that is not digits',
          chunks: [
            request('tm.allocate-slots', {
              fencingToken: NOT_A_TOKEN,
              credential: 'c',
              allocations: [{ slotIndex: 0, allocationId: 'a', jobId: 'j' }],
            }),
          ],
          outcome: 'error reply',
          log: new RegExp(`Rejected a message: slot allocation\\.${NOT_A_TOKEN_REASON}`),
        },
        {
          name: 'a slot release with the fencing token but a guessed credential',
          chunks: [
            request('tm.release-slots', { fencingToken, credential: 'guessed', jobId: 'j' }),
          ],
          outcome: 'error reply',
          log: /Rejected a command: wrong credential/,
        },
        {
          name: 'a slot allocation of the wrong shape',
          chunks: [
            request('tm.allocate-slots', { fencingToken, credential: 'c', allocations: 'all' }),
          ],
          outcome: 'error reply',
          log: /Rejected a message: slot allocation\.allocations: /,
        },
      ]);

      // A disconnect order with the fencing token but a guessed credential is ignored.
      const disconnect = await exchangeRaw(
        port,
        [request('tm.disconnect', { fencingToken, credential: 'guessed', reason: 'go away' })],
        WAIT_MS,
        1,
      );
      expect(framesOf(disconnect.received)[0]).toMatchObject({ response: { accepted: false } });
      await waitForLine(tmA, /Ignored a disconnect order \(go away\): wrong credential/, {
        timeoutMs: 5_000,
      });

      await sleep(4 * FAST_HEARTBEATS.interval);
      const after = (await views())['tm-a'];
      expect(after.lastHeartbeat).toBeGreaterThan(before.lastHeartbeat);
      expect(after.freeSlots).toBe(2);
      expect(tmA.linesMatching(/ResourceManager .* lost|disconnected us/)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  /** Sends heartbeats in `id`'s name, with the real fencing token and a guessed credential, until `until` settles. */
  async function spoof(id: string, until: Promise<unknown>): Promise<number> {
    let done = false;
    const stop = () => (done = true);
    until.then(stop, stop);
    let rejected = 0;
    for (let i = 0; i < 200; i++) {
      if (done) {
        break;
      }
      const exchange = await exchangeRaw(
        rm.tcpPort,
        [
          request('heartbeat.receive', {
            manager: 'taskManagers',
            origin: id,
            payload: {
              fencingToken,
              credential: `guess-${i}`,
              slotReport: { version: 1e6, slots: [] },
            },
          }),
        ],
        1_000,
        1,
      );
      rejected += errorReply(exchange) === undefined ? 0 : 1;
      await sleep(50);
    }
    return rejected;
  }

  it(
    'heartbeats in the name of a hung TaskManager do not keep it alive: it times out',
    async () => {
      const lost = waitForLine(rm, /TaskManager tm-b lost: heartbeat timeout/, {
        timeoutMs: 10_000,
      });
      process.kill(tmB.pid as number, 'SIGSTOP'); // hung: connections stay open, nothing answers
      const [rejected] = await Promise.all([spoof('tm-b', lost), lost]);
      expect(rejected).toBeGreaterThan(0);
      expect(rm.findLine(/wrong credential for tm-b/)).toBeDefined();
      expect((await views())['tm-b']).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'heartbeats in the name of a killed TaskManager do not keep it alive: it is declared lost',
    async () => {
      const lost = waitForLine(rm, /TaskManager tm-a lost: /, { timeoutMs: 10_000 });
      await tmA.kill('SIGKILL');
      const [rejected] = await Promise.all([spoof('tm-a', lost), lost]);
      expect(rejected).toBeGreaterThan(0);
      expect((await views())['tm-a']).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});

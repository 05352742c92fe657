import { Etcd3, type IOptions } from 'etcd3';
import { createHook } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import {
  electionPrefix,
  LeaderElection,
  LeaderWatch,
  type Leader,
  type LeaderRecord,
  type Leadership,
} from '../../libs/cluster/src/ha/index.js';
import { startEtcdCluster, type EtcdCluster } from '../../src/services/local-servers.js';
import {
  resourcesLeftAbove,
  settledResourceCounts,
  sleep,
  waitFor,
} from '../fixtures/e2e-utils.js';

// LeaderElection and LeaderWatch against a real etcd on loopback: who leads, how leadership
// passes on (resign, a revoked lease, a deleted key), what a TaskManager-like watch sees, junk
// under the election prefix, a frozen etcd and a dead one.

/** Installing Debian's etcd (when missing) and starting it. */
const SETUP_TIMEOUT_MS = 600_000;
const TEARDOWN_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;
/** Long, so that a handover that waited for the old leader's lease to expire would show. */
const LONG_TTL_S = 10;
/** Bound for an election with etcd up (a grant, a transaction, a watch event, a read). */
const ELECT_MS = 5_000;
/** Bound for each resign or stop in the cleanup, so that a hanging one cannot hang the suite. */
const CLEANUP_STEP_MS = 5_000;

/** A logger that keeps what it is given, so that tests can assert log lines. */
interface RecordingLogger {
  readonly lines: string[];
  log(message: unknown): void;
  warn(message: unknown): void;
}

function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  return {
    lines,
    log: (message) => void lines.push(String(message)),
    warn: (message) => void lines.push(String(message)),
  };
}

const recordOf = (id: string, n: number): LeaderRecord => ({
  resourceManagerId: id,
  host: '127.0.0.1',
  tcpPort: 7_000 + n,
  httpUrl: `http://127.0.0.1:${8_000 + n}`,
});

interface Candidate {
  readonly id: string;
  readonly record: LeaderRecord;
  readonly election: LeaderElection;
  readonly logger: RecordingLogger;
  /** Every leadership its `leadership$` emitted, with when (performance.now()). */
  readonly changes: { readonly at: number; readonly leadership: Leadership }[];
}

/** `promise`, or a rejection naming `what` once `ms` have passed (the timer is cleared). */
async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Clients, candidates, watches and subscriptions of one test, all ended in `cleanUp()`. */
class Fixture {
  readonly clients: Etcd3[] = [];
  readonly candidates: Candidate[] = [];
  readonly watches: LeaderWatch[] = [];
  readonly subscriptions: Subscription[] = [];
  readonly resigned = new Set<LeaderElection>();
  readonly stopped = new Set<LeaderWatch>();
  readonly clusterId = `le-${randomUUID().slice(0, 8)}`;
  readonly prefix = electionPrefix(this.clusterId);

  constructor(
    private readonly endpoints: () => string,
    private readonly options: Partial<IOptions> = {},
  ) {}

  client(): Etcd3 {
    const client = new Etcd3({
      ...this.options,
      hosts: this.endpoints().split(','),
      dialTimeout: 2_000,
    });
    this.clients.push(client);
    return client;
  }

  /** A candidate with a client of its own, not started. */
  candidate(id: string, leaseTtlSeconds = LONG_TTL_S): Candidate {
    const logger = recordingLogger();
    const record = recordOf(id, this.candidates.length + 1);
    const election = new LeaderElection({
      client: this.client(),
      clusterId: this.clusterId,
      leaseTtlSeconds,
      record,
      logger,
    });
    const changes: Candidate['changes'] = [];
    this.subscriptions.push(
      election.leadership$.subscribe((leadership) =>
        changes.push({ at: performance.now(), leadership }),
      ),
    );
    const candidate = { id, record, election, logger, changes };
    this.candidates.push(candidate);
    return candidate;
  }

  /** A candidate, started. */
  async started(id: string, leaseTtlSeconds = LONG_TTL_S): Promise<Candidate> {
    const candidate = this.candidate(id, leaseTtlSeconds);
    await candidate.election.start();
    return candidate;
  }

  watch(logger: RecordingLogger): LeaderWatch {
    const watch = new LeaderWatch(this.client(), this.clusterId, logger);
    this.watches.push(watch);
    return watch;
  }

  async resign(candidate: Candidate): Promise<void> {
    this.resigned.add(candidate.election);
    await candidate.election.resign();
  }

  async stop(watch: LeaderWatch): Promise<void> {
    this.stopped.add(watch);
    await watch.stop();
  }

  /** The election's keys in etcd, oldest first, with their leases and values. */
  async keys(): Promise<{ key: string; lease: string; createRevision: string; value: string }[]> {
    const admin = this.clients[0] ?? this.client();
    const { kvs } = await admin.getAll().prefix(this.prefix).sort('Create', 'Ascend').exec();
    return kvs.map((kv) => ({
      key: kv.key.toString(),
      lease: kv.lease,
      createRevision: kv.create_revision,
      value: kv.value.toString(),
    }));
  }

  /** Waits until etcd holds a key for each of `candidates` (each has campaigned). */
  async campaigned(...candidates: Candidate[]): Promise<void> {
    await waitFor(
      `election keys of ${candidates.map((c) => c.id).join(', ')}`,
      async () => {
        const values = (await this.keys()).map((kv) => kv.value);
        return candidates.every((c) => values.includes(JSON.stringify(c.record)));
      },
      { timeout: ELECT_MS, every: 20 },
    );
  }

  async cleanUp(): Promise<void> {
    const problems: string[] = [];
    for (const subscription of this.subscriptions) {
      subscription.unsubscribe();
    }
    await Promise.all([
      ...this.candidates
        .filter(({ election }) => !this.resigned.has(election))
        .map(({ id, election }) =>
          within(`resign() of ${id}`, election.resign(), CLEANUP_STEP_MS).catch((error) =>
            problems.push(String(error)),
          ),
        ),
      ...this.watches
        .filter((watch) => !this.stopped.has(watch))
        .map((watch) =>
          within('stop() of a watch', watch.stop(), CLEANUP_STEP_MS).catch((error) =>
            problems.push(String(error)),
          ),
        ),
    ]);
    for (const client of this.clients) {
      client.close();
    }
    if (problems.length > 0) {
      throw new Error(`Cleanup failed: ${problems.join('; ')}`);
    }
  }
}

/** The candidates that lead now, by their own account. */
const leadersAmong = (candidates: readonly Candidate[]) =>
  candidates.filter(({ election }) => election.isLeader());

/** The ids of the candidates that lead now (ids, so that a failed assertion prints well). */
const leaderIdsAmong = (candidates: readonly Candidate[]) =>
  leadersAmong(candidates).map(({ id }) => id);

/** Waits until `candidate` is the only one of `candidates` to lead. */
async function onlyLeader(
  candidate: Candidate,
  candidates: readonly Candidate[],
  timeout = ELECT_MS,
) {
  await waitFor(
    `${candidate.id} to be the only one of ${candidates.map((c) => c.id).join(', ')} to lead`,
    () => {
      const ids = leaderIdsAmong(candidates);
      return ids.length === 1 && ids[0] === candidate.id;
    },
    { timeout, every: 10 },
  );
}

/** Waits until exactly one of `candidates` leads, and returns it. */
async function soleLeader(candidates: readonly Candidate[], timeout = ELECT_MS) {
  return waitFor(
    `exactly one of ${candidates.map((c) => c.id).join(', ')} to lead`,
    () => {
      const leaders = leadersAmong(candidates);
      return leaders.length === 1 ? leaders[0] : undefined;
    },
    { timeout, every: 10 },
  );
}

/** Waits until `watch` names `record`'s owner, and returns that leader. */
async function watchNames(watch: LeaderWatch, record: LeaderRecord, timeout = ELECT_MS) {
  return waitFor(
    `the watch to name ${record.resourceManagerId}`,
    () =>
      watch.leader?.record.resourceManagerId === record.resourceManagerId
        ? watch.leader
        : undefined,
    { timeout, every: 10 },
  );
}

const steppedDownLines = (logger: RecordingLogger) =>
  logger.lines.filter((line) => line.startsWith('Stepped down as leader: '));

const DIGITS = /^\d{1,20}$/;

describe('LeaderElection and LeaderWatch on a real etcd', () => {
  let cluster: EtcdCluster;
  let fixture: Fixture;

  beforeAll(async () => {
    cluster = await startEtcdCluster(1);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, TEARDOWN_TIMEOUT_MS);

  beforeEach(() => {
    fixture = new Fixture(() => cluster.endpoints);
  });

  afterEach(async () => {
    await fixture.cleanUp();
  }, TEARDOWN_TIMEOUT_MS);

  it(
    'elects exactly one of two candidates, and both agree who leads',
    async () => {
      const a = await fixture.started('rm-a');
      const b = await fixture.started('rm-b');
      const leader = await soleLeader([a, b]);
      const standby = leader === a ? b : a;
      await fixture.campaigned(a, b);

      // Both views agree: one leads with a token, the other does not lead at all.
      const leading = leader.election.leadership;
      expect(leading.leader).toBe(true);
      expect(leading.fencingToken).toMatch(DIGITS);
      expect(typeof leading.since).toBe('number');
      expect(standby.election.isLeader()).toBe(false);
      expect(standby.election.leadership).toEqual({
        leader: false,
        fencingToken: null,
        since: null,
      });
      expect(leader.changes.at(-1)?.leadership).toEqual(leading);
      expect(standby.changes.at(-1)?.leadership.leader).toBe(false);

      // The watch of each names the leader's record, with the leader's token.
      for (const { election } of [a, b]) {
        const named = await watchNames(election.watch, leader.record);
        expect(named.record).toEqual(leader.record);
        expect(named.fencingToken).toBe(leading.fencingToken);
      }
      // The leader's key is bound to its lease, named after it, and the oldest under the prefix.
      const keys = await fixture.keys();
      expect(keys).toHaveLength(2);
      expect(keys[0].value).toBe(JSON.stringify(leader.record));
      expect(keys[0].key).toBe(`${fixture.prefix}${keys[0].lease}`);
      expect(keys[0].createRevision).toBe(leading.fencingToken);
      expect(leader.election.watch.leader?.key).toBe(keys[0].key);

      // And it stays that way: no flapping over a second.
      await sleep(1_000);
      expect(leaderIdsAmong([a, b])).toEqual([leader.id]);
      expect(standby.changes.some(({ leadership }) => leadership.leader)).toBe(false);
      expect(leader.changes.filter(({ leadership }) => leadership.leader)).toHaveLength(1);
      expect(steppedDownLines(leader.logger)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'hands leadership to the standby at once when the leader resigns, with a larger token',
    async () => {
      const a = await fixture.started('rm-a');
      await soleLeader([a]);
      const b = await fixture.started('rm-b');
      await fixture.campaigned(a, b);
      await watchNames(b.election.watch, a.record);
      expect(b.election.isLeader()).toBe(false);
      const oldToken = a.election.leadership.fencingToken;
      expect(oldToken).toMatch(DIGITS);

      const resignedAt = performance.now();
      await fixture.resign(a);
      expect(a.election.isLeader()).toBe(false);
      // Well under the 10 s TTL: the resigned lease is revoked, nobody waits for it to expire.
      await soleLeader([b], 1_500);
      const handover = performance.now() - resignedAt;
      expect(handover).toBeLessThan(1_500);
      const newToken = b.election.leadership.fencingToken;
      expect(newToken).toMatch(DIGITS);
      expect(BigInt(newToken!)).toBeGreaterThan(BigInt(oldToken!));
      expect((await fixture.keys()).map((kv) => kv.value)).toEqual([JSON.stringify(b.record)]);

      // A third candidate started later stands by.
      const c = await fixture.started('rm-c');
      await fixture.campaigned(b, c);
      await watchNames(c.election.watch, b.record);
      await sleep(500);
      expect(leaderIdsAmong([b, c])).toEqual([b.id]);
      expect(b.election.leadership.fencingToken).toBe(newToken);
      expect(c.changes.some(({ leadership }) => leadership.leader)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'steps down when its lease is revoked from outside, and the standby leads',
    async () => {
      const a = await fixture.started('rm-a');
      await soleLeader([a]);
      const b = await fixture.started('rm-b');
      await fixture.campaigned(a, b);
      const oldToken = a.election.leadership.fencingToken!;

      const leaderKey = a.election.watch.leader!.key;
      const kv = (await fixture.keys()).find(({ key }) => key === leaderKey);
      expect(kv?.value).toBe(JSON.stringify(a.record));
      const outsider = fixture.client();
      await outsider.leaseClient.leaseRevoke({ ID: kv!.lease });

      await onlyLeader(b, [a, b]);
      expect(steppedDownLines(a.logger)).toHaveLength(1);
      expect(BigInt(b.election.leadership.fencingToken!)).toBeGreaterThan(BigInt(oldToken));
      // The deposed candidate campaigns again, with a new lease, and stands by.
      await fixture.campaigned(a, b);
      await watchNames(a.election.watch, b.record);
      await sleep(500);
      expect(leaderIdsAmong([a, b])).toEqual([b.id]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'steps down when its election key is deleted from outside, and the standby leads',
    async () => {
      const a = await fixture.started('rm-a');
      await soleLeader([a]);
      const b = await fixture.started('rm-b');
      await fixture.campaigned(a, b);
      const oldToken = a.election.leadership.fencingToken!;

      const leaderKey = a.election.watch.leader!.key;
      const outsider = fixture.client();
      await outsider.delete().key(leaderKey);

      await onlyLeader(b, [a, b]);
      expect(steppedDownLines(a.logger)).toHaveLength(1);
      expect(BigInt(b.election.leadership.fencingToken!)).toBeGreaterThan(BigInt(oldToken));
      // Its old lease is revoked (not left to expire), and it campaigns again as a standby.
      await fixture.campaigned(a, b);
      const keys = await fixture.keys();
      expect(keys).toHaveLength(2);
      expect(keys[0].value).toBe(JSON.stringify(b.record));
      expect(keys.map(({ key }) => key)).not.toContain(leaderKey);
      await sleep(500);
      expect(leaderIdsAmong([a, b])).toEqual([b.id]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'lets a TaskManager-like watch follow every change of leader',
    async () => {
      const logger = recordingLogger();
      const watch = fixture.watch(logger);
      const seen: (Leader | null)[] = [];
      fixture.subscriptions.push(watch.leader$.subscribe((leader) => seen.push(leader)));
      await watch.start();
      // No candidate yet: nobody leads.
      await sleep(500);
      expect(watch.leader).toBeNull();
      expect(seen).toEqual([null]);

      const a = await fixture.started('rm-a');
      await soleLeader([a]);
      const first = await watchNames(watch, a.record);
      expect(first.fencingToken).toBe(a.election.leadership.fencingToken);
      const b = await fixture.started('rm-b');
      await fixture.campaigned(a, b);
      await watchNames(b.election.watch, a.record);

      await fixture.resign(a);
      await soleLeader([b]);
      const second = await watchNames(watch, b.record);
      expect(second.fencingToken).toBe(b.election.leadership.fencingToken);
      expect(BigInt(second.fencingToken)).toBeGreaterThan(BigInt(first.fencingToken));

      // Each leadership once, in order, and nothing in between (b's candidacy changed nothing).
      await sleep(300);
      expect(seen.map((leader) => leader?.record.resourceManagerId ?? null)).toEqual([
        null,
        'rm-a',
        'rm-b',
      ]);
      expect(seen[1]).toEqual(first);
      expect(seen[2]).toEqual(second);

      // A watch started now gets the current leader first.
      const late = fixture.watch(recordingLogger());
      await late.start();
      await watchNames(late, b.record);

      // Stopped, it completes its observable.
      let completed = false;
      fixture.subscriptions.push(watch.leader$.subscribe({ complete: () => (completed = true) }));
      await within('stop() of the watch', fixture.stop(watch), 3_000);
      expect(completed).toBe(true);
      expect(logger.lines).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'ignores junk and lease-less records under the prefix, so they block no election',
    async () => {
      const writer = fixture.client();
      const junkKey = `${fixture.prefix}junk`;
      const fakeKey = `${fixture.prefix}123`;
      const fake = recordOf('rm-fake', 99);
      // Both older than any candidate's key.
      await writer.put(junkKey).value('x');
      await writer.put(fakeKey).value(JSON.stringify(fake));

      const a = await fixture.started('rm-a');
      await soleLeader([a]);
      const leader = await watchNames(a.election.watch, a.record);
      expect(leader.key).not.toBe(junkKey);
      expect(leader.key).not.toBe(fakeKey);
      // Both are still there, older than the leader's key.
      const keys = await fixture.keys();
      expect(keys.slice(0, 2).map(({ key }) => key)).toEqual([junkKey, fakeKey]);
      expect(BigInt(leader.fencingToken)).toBeGreaterThan(BigInt(keys[1].createRevision));

      // A third-party watch agrees, and never names the fake.
      const watchLogger = recordingLogger();
      const watch = fixture.watch(watchLogger);
      const seen: (Leader | null)[] = [];
      fixture.subscriptions.push(watch.leader$.subscribe((l) => seen.push(l)));
      await watch.start();
      await watchNames(watch, a.record);

      // More reads of the prefix (a standby comes and goes; the junk is rewritten).
      const b = await fixture.started('rm-b');
      await fixture.campaigned(a, b);
      await writer.put(`${fixture.prefix}zzz-unrelated`).value('not json {');
      await fixture.resign(b);
      await sleep(500);
      expect(leaderIdsAmong([a])).toEqual([a.id]);
      expect(seen.filter((l) => l?.key === fakeKey || l?.key === junkKey)).toEqual([]);

      // Each ignored key is logged once by each watch, however often it is read.
      for (const lines of [a.logger.lines, watchLogger.lines]) {
        expect(lines.filter((line) => line.includes(junkKey))).toHaveLength(1);
        expect(lines.filter((line) => line.includes(fakeKey))).toHaveLength(1);
      }
      expect(watchLogger.lines.find((line) => line.includes(junkKey))).toMatch(
        /not a leader record/,
      );
      expect(watchLogger.lines.find((line) => line.includes(fakeKey))).toMatch(
        /not bound to the lease/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'is not blocked by more junk keys than one read of the prefix returns',
    async () => {
      // The watch reads the prefix oldest first, in a bounded page; junk older than every
      // candidate must not push the candidates off that page.
      const writer = fixture.client();
      const JUNK_KEYS = 150;
      for (let i = 0; i < JUNK_KEYS; i++) {
        await writer.put(`${fixture.prefix}junk-${String(i).padStart(3, '0')}`).value('x');
      }
      const a = await fixture.started('rm-a');
      await fixture.campaigned(a);
      await waitFor('rm-a to lead', () => a.election.isLeader(), { timeout: 10_000 }).catch(
        () => undefined,
      );
      // What the watch names (null: nobody), so that a failure says what it saw.
      expect(a.election.watch.leader?.record ?? null).toEqual(a.record);
      expect(a.election.isLeader()).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('LeaderElection when its only etcd member freezes', () => {
  let cluster: EtcdCluster;
  let fixture: Fixture;

  beforeAll(async () => {
    cluster = await startEtcdCluster(1);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, TEARDOWN_TIMEOUT_MS);

  beforeEach(() => {
    fixture = new Fixture(() => cluster.endpoints);
  });

  afterEach(async () => {
    cluster.members[0].process.signal('SIGCONT');
    await fixture.cleanUp();
  }, TEARDOWN_TIMEOUT_MS);

  it(
    'steps down by itself within the TTL when the lease cannot be renewed, and leads again after',
    async () => {
      const TTL_S = 2;
      const a = await fixture.started('rm-a', TTL_S);
      await soleLeader([a]);
      // Let a keepalive or two go through, so the leadership is established.
      await sleep(1_000);
      expect(a.election.isLeader()).toBe(true);

      const etcd = cluster.members[0].process;
      const frozenAt = performance.now();
      etcd.signal('SIGSTOP');
      // Not asked (isLeader() would check the lease itself): it must step down on its own timer.
      await waitFor('the leader to step down by itself', () => steppedDownLines(a.logger)[0], {
        timeout: TTL_S * 1_000 + 1_000,
        every: 10,
      });
      const stepDown = a.changes.find(({ at, leadership }) => at > frozenAt && !leadership.leader);
      expect(stepDown).toBeDefined();
      expect(stepDown!.at - frozenAt).toBeLessThan(TTL_S * 1_000 + 1_000);
      expect(steppedDownLines(a.logger)).toHaveLength(1);
      expect(a.election.isLeader()).toBe(false);
      expect(a.election.leadership.fencingToken).toBeNull();
      // Hold it frozen past the TTL, so that etcd expires the lease once it runs again.
      await sleep(1_000);
      expect(a.election.isLeader()).toBe(false);

      const thawedAt = performance.now();
      etcd.signal('SIGCONT');
      await soleLeader([a], 10_000);
      const reelected = performance.now() - thawedAt;
      expect(reelected).toBeLessThan(10_000);
      expect(a.election.leadership.fencingToken).toMatch(DIGITS);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * The timers that code under libs/cluster/src/ha/ created and that are still pending (neither
 * fired nor cleared), by where each was created: an async hook records every Timeout made while
 * tracking, with its stack, and forgets it once it is destroyed.
 */
class HaTimers {
  private readonly pending = new Map<number, string>();
  private readonly hook = createHook({
    init: (id, type) => {
      if (type !== 'Timeout') {
        return;
      }
      const stack = new Error().stack ?? '';
      if (stack.includes('libs/cluster/src/ha/')) {
        const frames = stack.split('\n').filter((line) => line.includes('libs/cluster/src/ha/'));
        this.pending.set(id, frames.map((frame) => frame.trim()).join(' < '));
      }
    },
    destroy: (id) => void this.pending.delete(id),
  });

  start(): void {
    this.hook.enable();
  }

  /** How many are pending now. */
  get count(): number {
    return this.pending.size;
  }

  stop(): void {
    this.hook.disable();
    this.pending.clear();
  }

  /** Where each pending one was created, once none is left or `timeout` ms have passed. */
  async left(timeout = 1_000): Promise<string[]> {
    // A destroy hook runs a moment after the timer is cleared.
    await waitFor('the timers to go', () => this.pending.size === 0, {
      timeout,
      every: 20,
    }).catch(() => undefined);
    return [...this.pending.values()];
  }
}

/**
 * etcd3's watch stream, on an error, schedules its reconnection on a timer of its own (neither
 * unref'd nor cleared by `close()`), after an exponential backoff of up to 30 s by default: with a
 * short constant one, that timer of the library's goes soon, and a leak check can see ours.
 */
const SHORT_WATCH_BACKOFF = {
  duration: 200,
  next() {
    return SHORT_WATCH_BACKOFF;
  },
};

describe('LeaderElection.resign() when etcd is gone', () => {
  let cluster: EtcdCluster | undefined;
  let fixture: Fixture;
  const haTimers = new HaTimers();

  beforeEach(async () => {
    cluster = await startEtcdCluster(1);
    fixture = new Fixture(() => cluster!.endpoints, {
      faultHandling: { watchBackoff: SHORT_WATCH_BACKOFF },
    });
  }, SETUP_TIMEOUT_MS);

  afterEach(async () => {
    haTimers.stop();
    await fixture.cleanUp();
    await cluster?.stop();
    cluster = undefined;
  }, TEARDOWN_TIMEOUT_MS);

  async function killEtcd(): Promise<void> {
    for (const member of cluster!.members) {
      member.process.signal('SIGKILL');
    }
    await waitFor('etcd to exit', () => cluster!.members.every((m) => !m.process.running), {
      timeout: 5_000,
    });
  }

  /**
   * Resigns `candidate` and checks that it took under 3 s, that no timer of the election's or its
   * watch's is left, and that once the clients are closed nothing is left above `baseline`.
   */
  async function resignPromptlyWithoutLeaks(
    candidate: Candidate,
    baseline: Record<string, number>,
  ): Promise<void> {
    const resignStarted = performance.now();
    await within('resign() with etcd gone', fixture.resign(candidate), 10_000);
    const took = performance.now() - resignStarted;
    expect(candidate.election.isLeader()).toBe(false);
    expect(took).toBeLessThan(3_000);
    expect(await haTimers.left()).toEqual([]);

    for (const subscription of fixture.subscriptions) {
      subscription.unsubscribe();
    }
    for (const client of fixture.clients) {
      client.close();
    }
    expect(await resourcesLeftAbove(baseline, 3_000)).toEqual({});
  }

  it(
    'resolves promptly while still leading, and leaves no timer behind',
    async () => {
      const baseline = await settledResourceCounts();
      haTimers.start();
      const a = await fixture.started('rm-a', 5);
      await soleLeader([a]);
      await killEtcd();
      // The hook sees the election's timers (a leader has one for its lease's expiry, at least).
      expect(haTimers.count).toBeGreaterThan(0);
      await resignPromptlyWithoutLeaks(a, baseline);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'resolves promptly while campaigning again against a dead etcd, and leaves no timer behind',
    async () => {
      const baseline = await settledResourceCounts();
      haTimers.start();
      const TTL_S = 4;
      const a = await fixture.started('rm-a', TTL_S);
      await soleLeader([a]);
      await killEtcd();
      // It steps down once the lease is not renewed, then campaigns in vain with growing pauses.
      await waitFor('the leader to step down', () => steppedDownLines(a.logger)[0], {
        timeout: TTL_S * 1_000 + 1_000,
      });
      const failedCampaigns = () =>
        a.logger.lines.filter((line) => line.startsWith('Campaign for leadership failed')).length;
      // Into the longer pauses (a grant that hangs instead of failing is a case too).
      await waitFor('failed campaigns', () => failedCampaigns() >= 3, { timeout: 20_000 }).catch(
        () => undefined,
      );
      await resignPromptlyWithoutLeaks(a, baseline);
    },
    TEST_TIMEOUT_MS,
  );
});

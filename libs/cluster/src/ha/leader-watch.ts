import type { Logger } from '@nestjs/common';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { describeError } from '../app-support.js';
import { electionPrefix, leaderRecordSchema, type Leader } from './leader-record.js';
import { pause, within } from './pause.js';

/** Whether two views of the leader are the same leadership. */
const sameLeadership = (a: Leader | null, b: Leader | null) =>
  a === b || (a !== null && b !== null && a.key === b.key && a.fencingToken === b.fencingToken);

const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;
/** Keys read at once: a cluster has a handful of candidates; more is someone else's junk. */
const PAGE = 100;
/** Pages read before giving up on finding a candidate among keys that are not. */
const MAX_PAGES = 10;
/** Keys reported as not a candidate, at most (each once). */
const MAX_IGNORED_LOGGED = 100;
/** How long `stop()` waits for etcd to confirm the watch's end (it may be unreachable). */
const STOP_TIMEOUT_MS = 1_000;

/**
 * Leader retrieval: who leads the cluster's ResourceManagers, kept current by an etcd watch on the
 * election's keys (no polling). The leader is the oldest valid candidate (the lowest creation
 * revision), as in etcd's own election recipe; its creation revision is its fencing token. A key
 * is a candidate only if it holds a leader record and is bound to the lease it is named after, as
 * every candidate writes it: anything else under the prefix is ignored, so it can block nobody.
 * A watch that etcd cancels (after a compaction, say) is made again; a read that fails is retried.
 * While etcd cannot be reached the last known leader stays.
 */
export class LeaderWatch {
  private readonly leaders = new BehaviorSubject<Leader | null>(null);
  private readonly prefix: string;
  private readonly stopping = new AbortController();
  private watching: Promise<void> | null = null;
  private watcher: Watcher | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private readDelay = FIRST_RETRY_DELAY_MS;
  /** Whether the watch is connected: an outage is logged once, not at every retry of etcd3's. */
  private connected = false;
  /** Keys already reported as not a candidate (each is logged once). */
  private readonly ignoredKeys = new Set<string>();

  /** The leader as it changes (null: none); emits the current one on subscription. */
  readonly leader$: Observable<Leader | null> = this.leaders.pipe(
    distinctUntilChanged(sameLeadership),
  );

  constructor(
    private readonly client: Etcd3,
    clusterId: string,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {
    this.prefix = electionPrefix(clusterId);
  }

  get leader(): Leader | null {
    return this.leaders.value;
  }

  /** Starts watching, in the background: etcd need not be reachable yet. */
  start(): void {
    this.watching ??= this.watchUntilStopped();
  }

  /** Stops watching; bounded, even with etcd unreachable. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await within(Promise.all([this.watching, this.refreshing]), STOP_TIMEOUT_MS);
    this.leaders.complete();
  }

  /** One watch after the other: a watch that etcd ends is made again, after a pause. */
  private async watchUntilStopped(): Promise<void> {
    let delay = FIRST_RETRY_DELAY_MS;
    while (!this.stopping.signal.aborted) {
      const watcher = this.client.watch().prefix(this.prefix).watcher();
      this.watcher = watcher;
      const why = await new Promise<string>((resolve) => {
        watcher
          .on('put', () => this.refresh())
          .on('delete', () => this.refresh())
          .on('connected', () => {
            this.connected = true;
            delay = FIRST_RETRY_DELAY_MS;
            this.refresh(); // what changed while it was not connected
          })
          .on('disconnected', (error) => {
            // etcd3 reconnects it by itself, retrying every host many times a second.
            if (this.connected) {
              this.logger.warn(
                `Lost the etcd watch on the leader (${describeError(error)}); reconnecting`,
              );
            }
            this.connected = false;
          })
          .on('error', (error) => resolve(describeError(error)))
          .on('end', () => resolve('it ended'));
        this.stopping.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
      });
      this.watcher = null;
      await within(
        watcher.cancel().catch(() => undefined),
        STOP_TIMEOUT_MS,
      );
      if (this.stopping.signal.aborted) {
        return;
      }
      this.logger.warn(
        `The etcd watch on the leader ended (${why}); watching again in ${delay} ms`,
      );
      await pause(delay, this.stopping.signal);
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
  }

  /** Reads the leader again; one read at a time, and once more if asked meanwhile. */
  private refresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.readLeader().finally(() => {
      this.refreshing = null;
      if (this.refreshAgain && !this.stopping.signal.aborted) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  private async readLeader(): Promise<void> {
    try {
      const leader = await this.oldestCandidateInEtcd();
      this.readDelay = FIRST_RETRY_DELAY_MS;
      if (!this.stopping.signal.aborted) {
        this.leaders.next(leader);
      }
    } catch (error) {
      if (this.stopping.signal.aborted) {
        return;
      }
      // The watch may stay connected while a read fails (an etcd election, a breaker open): try again.
      this.logger.warn(
        `Could not read the leader from etcd (${describeError(error)}); retrying in ${this.readDelay} ms`,
      );
      await pause(this.readDelay, this.stopping.signal);
      this.readDelay = Math.min(this.readDelay * 2, MAX_RETRY_DELAY_MS);
      this.refreshAgain = true;
    }
  }

  /**
   * The oldest candidate under the prefix, read a page at a time from the oldest key on, so that
   * keys which are not candidates cannot hide one (up to `MAX_PAGES` pages of them).
   */
  private async oldestCandidateInEtcd(): Promise<Leader | null> {
    let from: bigint | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const range = this.client.getAll().prefix(this.prefix).sort('Create', 'Ascend').limit(PAGE);
      if (from !== null) {
        range.minCreateRevision(String(from));
      }
      const { kvs } = await range.exec();
      const leader = this.oldestCandidate(kvs);
      if (leader || kvs.length < PAGE) {
        return leader;
      }
      from = BigInt(kvs[kvs.length - 1].create_revision) + 1n;
    }
    return null;
  }

  private oldestCandidate(kvs: readonly IKeyValue[]): Leader | null {
    for (const kv of kvs) {
      const leader = this.candidateOf(kv);
      if (leader) {
        return leader;
      }
    }
    return null;
  }

  /** The leader `kv` names, if it is a candidate's key: a record, bound to the lease it is named after. */
  private candidateOf(kv: IKeyValue): Leader | null {
    const key = kv.key.toString();
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString());
    } catch {
      value = undefined;
    }
    const parsed = leaderRecordSchema.safeParse(value);
    const bound = kv.lease !== '0' && key === `${this.prefix}${kv.lease}`;
    if (!parsed.success || !bound) {
      if (!this.ignoredKeys.has(key) && this.ignoredKeys.size < MAX_IGNORED_LOGGED) {
        this.ignoredKeys.add(key);
        this.logger.warn(
          `Ignored the key ${key} in etcd: ${parsed.success ? 'not bound to the lease it is named after' : 'not a leader record'}`,
        );
      }
      return null;
    }
    return { record: parsed.data, fencingToken: kv.create_revision, key };
  }
}

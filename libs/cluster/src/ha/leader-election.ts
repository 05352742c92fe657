import type { Logger } from '@nestjs/common';
import type { Etcd3, Lease } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { BehaviorSubject, distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import { describeError } from '../app-support.js';
import type { FencingToken } from './fencing-token.js';
import { electionPrefix, type LeaderRecord } from './leader-record.js';
import { LeaderWatch } from './leader-watch.js';
import { pause } from './pause.js';

/** This ResourceManager's part in the election. */
export interface Leadership {
  readonly leader: boolean;
  /** The token of its leadership, while it leads. */
  readonly fencingToken: FencingToken | null;
  /** Epoch milliseconds when it began to lead, while it leads. */
  readonly since: number | null;
}

/**
 * A moment on both clocks. The lease is timed on both: the monotonic one is immune to the wall
 * clock's jumps, the wall clock keeps counting while the machine is suspended (the monotonic one
 * does not). A lease holds only while both say so.
 */
interface Instant {
  readonly monotonic: number;
  readonly wall: number;
}

const now = (): Instant => ({ monotonic: performance.now(), wall: Date.now() });
const after = ({ monotonic, wall }: Instant, ms: number): Instant => ({
  monotonic: monotonic + ms,
  wall: wall + ms,
});
const latest = (a: Instant, b: Instant): Instant => ({
  monotonic: Math.max(a.monotonic, b.monotonic),
  wall: Math.max(a.wall, b.wall),
});
/** Milliseconds from `from` to `to`, by whichever clock says less. */
const msUntil = (to: Instant, from: Instant = now()) =>
  Math.min(to.monotonic - from.monotonic, to.wall - from.wall);

const NOT_LEADING: Leadership = Object.freeze({ leader: false, fencingToken: null, since: null });
const FIRST_RETRY_DELAY_MS = 200;

export interface LeaderElectionOptions {
  readonly client: Etcd3;
  readonly clusterId: string;
  readonly leaseTtlSeconds: number;
  /** What the other ResourceManagers and the TaskManagers learn of it when it leads. */
  readonly record: LeaderRecord;
  readonly logger: Pick<Logger, 'log' | 'warn'>;
}

/** One candidacy: a lease, the election key bound to it, and until when the lease surely holds. */
interface Candidacy {
  readonly lease: Lease;
  key: string | null;
  fencingToken: FencingToken | null;
  /** Until when etcd cannot have expired the lease (renewals move it on). */
  validUntil: Instant;
  /** When each unanswered keepalive was sent: a lease holds TTL from the request, not the answer. */
  readonly keepalivesInFlight: Instant[];
  readonly ended: Promise<void>;
  end(): void;
}

/**
 * Leader election on etcd, in etcd's own recipe: each candidate puts a key under the cluster's
 * election prefix, bound to a lease it keeps alive; the key created first leads, and its creation
 * revision is the fencing token, so every new leadership has a larger one. etcd does the consensus;
 * this class only keeps one candidacy going and, above all, knows when its lease may have lapsed:
 * it stops leading as soon as the lease is not renewed in time (before etcd could expire it and
 * elect another), and `isLeader()` checks that again on every call.
 */
export class LeaderElection {
  private readonly state = new BehaviorSubject<Leadership>(NOT_LEADING);
  private readonly prefix: string;
  private readonly ttlMs: number;
  /** Safety margin below the TTL for clock rates and etcd's processing. */
  private readonly marginMs: number;
  private candidacy: Candidacy | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private campaigning: Promise<void> | null = null;
  private watching: Subscription | null = null;
  private readonly stopping = new AbortController();
  /** Who leads, as etcd says (this one too, when it leads). */
  readonly watch: LeaderWatch;
  /** This candidate's leadership as it changes; emits the current one on subscription. */
  readonly leadership$: Observable<Leadership> = this.state.pipe(distinctUntilChanged());

  constructor(private readonly options: LeaderElectionOptions) {
    this.prefix = electionPrefix(options.clusterId);
    this.ttlMs = options.leaseTtlSeconds * 1_000;
    this.marginMs = Math.max(100, this.ttlMs / 10);
    this.watch = new LeaderWatch(options.client, options.clusterId, options.logger);
  }

  /** Its leadership now: a lease not renewed in time ends it here and now. */
  get leadership(): Leadership {
    const candidacy = this.candidacy;
    if (this.state.value.leader && candidacy && !this.holds(candidacy)) {
      this.endCandidacy(candidacy, 'its etcd lease was not renewed in time');
    }
    return this.state.value;
  }

  isLeader(): boolean {
    return this.leadership.leader;
  }

  /** Starts watching the leader and campaigning; campaigns again whenever a candidacy ends. */
  start(): void {
    this.watch.start();
    this.watching = this.watch.leader$.subscribe(() => this.reconsider());
    this.campaigning = this.campaignUntilStopped();
  }

  /** Resigns (the lease is revoked, so a standby leads at once) and stops campaigning. */
  async resign(): Promise<void> {
    this.stopping.abort(); // also cuts short a pause between campaigns
    if (this.candidacy) {
      this.endCandidacy(this.candidacy, 'resigned');
    }
    await this.campaigning;
    this.watching?.unsubscribe();
    await this.watch.stop();
    this.state.complete();
  }

  private async campaignUntilStopped(): Promise<void> {
    let delay = FIRST_RETRY_DELAY_MS;
    while (!this.stopping.signal.aborted) {
      try {
        await this.campaign();
        delay = FIRST_RETRY_DELAY_MS;
      } catch (error) {
        if (this.stopping.signal.aborted) {
          break;
        }
        this.options.logger.warn(
          `Campaign for leadership failed (${describeError(error)}); retrying in ${delay} ms`,
        );
      }
      if (!this.stopping.signal.aborted) {
        await pause(delay, this.stopping.signal);
        delay = Math.min(delay * 2, this.ttlMs / 2);
      }
    }
  }

  /** One candidacy, from the lease's grant to its end (lost, expired, deposed or resigned). */
  private async campaign(): Promise<void> {
    const grantedFrom = now();
    const lease = this.options.client.lease(this.options.leaseTtlSeconds);
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const candidacy: Candidacy = {
      lease,
      key: null,
      fencingToken: null,
      validUntil: after(grantedFrom, this.ttlMs - this.marginMs),
      keepalivesInFlight: [],
      ended,
      end,
    };
    lease
      .on('keepaliveFired', () => candidacy.keepalivesInFlight.push(now()))
      .on('keepaliveSucceeded', ({ TTL }) => {
        const sentAt = candidacy.keepalivesInFlight.shift();
        if (!sentAt) {
          return; // an answer to a request sent before a reconnect: its send time is not known
        }
        const until = after(sentAt, Number(TTL) * 1_000 - this.marginMs);
        candidacy.validUntil = latest(candidacy.validUntil, until);
      })
      .on('keepaliveFailed', () => (candidacy.keepalivesInFlight.length = 0))
      .on('lost', (error) =>
        this.endCandidacy(candidacy, `its etcd lease was lost (${describeError(error)})`),
      );
    this.candidacy = candidacy;
    try {
      const leaseId = await lease.grant();
      if (this.candidacy !== candidacy) {
        return;
      }
      const key = `${this.prefix}${leaseId}`;
      const { client } = this.options;
      const created = await client
        .if(key, 'Create', '==', 0)
        .then(client.put(key).value(JSON.stringify(this.options.record)).lease(leaseId))
        .commit();
      if (!created.succeeded) {
        throw new Error(`election key ${key} exists already`);
      }
      candidacy.key = key;
      candidacy.fencingToken = String(created.header.revision);
      this.reconsider();
      await ended;
    } finally {
      this.endCandidacy(candidacy, 'its campaign failed');
      // Revoked, its key goes at once and the next candidate need not wait for the TTL.
      await lease.revoke({ deadline: Date.now() + 1_000 }).catch(() => lease.release());
    }
  }

  /** Whether etcd cannot have expired the candidacy's lease yet. */
  private holds(candidacy: Candidacy): boolean {
    return msUntil(candidacy.validUntil) > 0;
  }

  /** Leads when etcd names its key the leader's; stops leading when etcd names another, or none. */
  private reconsider(): void {
    const candidacy = this.candidacy;
    if (!candidacy?.key) {
      return;
    }
    const leader = this.watch.leader;
    const named = leader?.key === candidacy.key;
    if (named && !this.state.value.leader) {
      if (this.holds(candidacy)) {
        this.lead(candidacy);
      } else {
        this.endCandidacy(candidacy, 'its etcd lease lapsed before it was elected');
      }
    } else if (!named && this.state.value.leader) {
      this.endCandidacy(
        candidacy,
        leader
          ? `etcd names ${leader.record.resourceManagerId} the leader (token ${leader.fencingToken})`
          : 'etcd names no leader (its election key is gone)',
      );
    }
  }

  private lead(candidacy: Candidacy): void {
    this.state.next({ leader: true, fencingToken: candidacy.fencingToken, since: Date.now() });
    this.options.logger.log(`Leading the cluster, fencing token ${candidacy.fencingToken}`);
    this.armExpiry(candidacy);
  }

  /** Steps down the moment the lease has not been renewed in time, even with no message to send. */
  private armExpiry(candidacy: Candidacy): void {
    this.clearExpiry();
    const check = () => {
      if (this.candidacy !== candidacy || !this.state.value.leader) {
        return;
      }
      if (!this.holds(candidacy)) {
        this.endCandidacy(candidacy, 'its etcd lease was not renewed in time');
        return;
      }
      this.expiryTimer = setTimeout(check, msUntil(candidacy.validUntil) + 1);
      this.expiryTimer.unref();
    };
    check();
  }

  private clearExpiry(): void {
    if (this.expiryTimer) {
      clearTimeout(this.expiryTimer);
      this.expiryTimer = null;
    }
  }

  private endCandidacy(candidacy: Candidacy, why: string): void {
    if (this.candidacy !== candidacy) {
      return;
    }
    this.candidacy = null;
    this.clearExpiry();
    if (this.state.value.leader) {
      this.state.next(NOT_LEADING);
      this.options.logger.warn(`Stepped down as leader: ${why}`);
    }
    candidacy.end();
  }
}

import type { Logger } from '@nestjs/common';
import type { Etcd3, Watcher } from 'etcd3';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { describeError } from '../app-support.js';
import { electionPrefix, leaderRecordSchema, type Leader } from './leader-record.js';

/** Whether two views of the leader are the same leadership. */
const sameLeadership = (a: Leader | null, b: Leader | null) =>
  a === b || (a !== null && b !== null && a.key === b.key && a.fencingToken === b.fencingToken);

/**
 * Leader retrieval: who leads the cluster's ResourceManagers, kept current by an etcd watch on the
 * election's keys (no polling). The leader is the candidate whose key was created first (the
 * lowest creation revision), as in etcd's own election recipe; its creation revision is its
 * fencing token. While etcd cannot be reached the last known leader stays, and `connected` says so.
 */
export class LeaderWatch {
  private readonly leaders = new BehaviorSubject<Leader | null>(null);
  private readonly connectedState = new BehaviorSubject<boolean>(false);
  private watcher: Watcher | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private stopped = false;
  private malformedKey: string | null = null;

  /** The leader as it changes (null: none); emits the current one on subscription. */
  readonly leader$: Observable<Leader | null> = this.leaders.pipe(
    distinctUntilChanged(sameLeadership),
  );
  /** Whether the watch is connected to etcd, as it changes. */
  readonly connected$: Observable<boolean> = this.connectedState.pipe(distinctUntilChanged());

  constructor(
    private readonly client: Etcd3,
    clusterId: string,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly prefix = electionPrefix(clusterId),
  ) {}

  get leader(): Leader | null {
    return this.leaders.value;
  }

  get connected(): boolean {
    return this.connectedState.value;
  }

  /** Starts watching; resolves once the watch is set up (etcd may still be unreachable then). */
  async start(): Promise<void> {
    const watcher = await this.client.watch().prefix(this.prefix).create();
    if (this.stopped) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
    watcher
      .on('put', () => this.refresh())
      .on('delete', () => this.refresh())
      .on('connected', () => {
        this.connectedState.next(true);
        this.refresh();
      })
      .on('disconnected', (error) => {
        // Once per outage: the watch retries every host many times a second meanwhile.
        if (this.connectedState.value) {
          this.logger.warn(
            `Lost the etcd watch on the leader (${describeError(error)}); reconnecting`,
          );
        }
        this.connectedState.next(false);
      })
      .on('error', (error) => {
        this.logger.warn(`etcd watch error: ${describeError(error)}`);
      });
    this.connectedState.next(true);
    this.refresh();
    await this.refreshing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.cancel().catch(() => undefined);
    await this.refreshing;
    this.leaders.complete();
    this.connectedState.complete();
  }

  /** Reads the leader again; runs one read at a time, and once more if asked meanwhile. */
  private refresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.readLeader().finally(() => {
      this.refreshing = null;
      if (this.refreshAgain && !this.stopped) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  private async readLeader(): Promise<void> {
    try {
      const { kvs } = await this.client
        .getAll()
        .prefix(this.prefix)
        .sort('Create', 'Ascend')
        .limit(1)
        .exec();
      if (!this.stopped) {
        this.leaders.next(kvs.length === 0 ? null : this.leaderOf(kvs[0]));
      }
    } catch (error) {
      // The watch reconnects by itself and reads again on 'connected'.
      this.logger.warn(`Could not read the leader from etcd: ${describeError(error)}`);
    }
  }

  private leaderOf(kv: { key: Buffer; value: Buffer; create_revision: string }): Leader | null {
    const key = kv.key.toString();
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString());
    } catch {
      value = undefined;
    }
    const parsed = leaderRecordSchema.safeParse(value);
    if (!parsed.success) {
      if (this.malformedKey !== key) {
        this.malformedKey = key; // once per key, not on every read
        this.logger.warn(`Ignored the leader key ${key}: not a ResourceManager's leader record`);
      }
      return null;
    }
    return { record: parsed.data, fencingToken: kv.create_revision, key };
  }
}

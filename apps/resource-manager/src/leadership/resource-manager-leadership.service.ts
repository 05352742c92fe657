import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { BehaviorSubject, distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import { createEtcdClient, LeaderElection, type FencingToken, type Leadership } from '#cluster';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from '../resource-manager.config.js';
import {
  RESOURCE_MANAGER_IDENTITY,
  type ResourceManagerIdentity,
} from '../resource-manager-identity.js';

/** A message only the leader may send, or a request only it may serve, met a standby. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';

  constructor(
    /** The leader's HTTP API, if one is known. */
    readonly leaderUrl: string | null,
  ) {
    super(`not the leader${leaderUrl ? ` (the leader is ${leaderUrl})` : ''}`);
  }
}

const STANDING_BY: Leadership = Object.freeze({ leader: false, fencingToken: null, since: null });

/**
 * Whether this ResourceManager leads, and with which fencing token. Without HA it always leads,
 * with a token from its start time (a later start has a larger one). With HA on etcd it campaigns
 * once its endpoints listen, and each check asks the election, which ends a leadership whose lease
 * was not renewed in time: so every message checked here is sent only while the lease holds.
 */
@Injectable()
export class ResourceManagerLeadership implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ResourceManager');
  private readonly state: BehaviorSubject<Leadership>;
  private client: Etcd3 | null = null;
  private election: LeaderElection | null = null;
  private following: Subscription | null = null;
  /** Its leadership as it changes, current value first. */
  readonly leadership$: Observable<Leadership>;

  constructor(
    @Inject(RESOURCE_MANAGER_CONFIG) private readonly config: ResourceManagerConfig,
    @Inject(RESOURCE_MANAGER_IDENTITY) private readonly identity: ResourceManagerIdentity,
  ) {
    const startedAt = Date.now();
    this.state = new BehaviorSubject<Leadership>(
      config.ha.mode === 'none'
        ? { leader: true, fencingToken: String(startedAt), since: startedAt }
        : STANDING_BY,
    );
    this.leadership$ = this.state.pipe(distinctUntilChanged());
  }

  /** Its HTTP API's address, as it publishes it. */
  get httpUrl(): string {
    return `http://${this.config.host}:${this.config.httpPort}`;
  }

  /** Its leadership now (with HA, checked against its lease). */
  get current(): Leadership {
    // Reading the election's leadership ends one whose lease lapsed; the change arrives here at once.
    void this.election?.leadership;
    return this.state.value;
  }

  isLeader(): boolean {
    return this.current.leader;
  }

  /** The fencing token for a message only the leader may send; throws a `NotLeaderError` if it is not. */
  requireLeadership(): FencingToken {
    const { leader, fencingToken } = this.current;
    if (!leader || fencingToken === null) {
      throw new NotLeaderError(this.leaderUrl());
    }
    return fencingToken;
  }

  /** The leader's HTTP API: its own when it leads, else the one etcd names (null if none is known). */
  leaderUrl(): string | null {
    if (this.current.leader) {
      return this.httpUrl;
    }
    const named = this.election?.watch.leader?.record;
    // A watch cut off from etcd may still name this one: then the leader is not known.
    return named && named.resourceManagerId !== this.identity.resourceManagerId
      ? named.httpUrl
      : null;
  }

  /** With HA, joins the election: call once the TCP and HTTP endpoints listen. */
  async start(): Promise<void> {
    const { ha } = this.config;
    if (ha.mode !== 'etcd' || this.election) {
      return;
    }
    this.client = createEtcdClient(ha.endpoints);
    this.election = new LeaderElection({
      client: this.client,
      clusterId: ha.clusterId,
      leaseTtlSeconds: ha.leaseTtlSeconds,
      record: {
        resourceManagerId: this.identity.resourceManagerId,
        host: this.config.host,
        tcpPort: this.config.tcpPort,
        httpUrl: this.httpUrl,
      },
      logger: this.logger,
    });
    this.following = this.election.leadership$.subscribe((leadership) =>
      this.state.next(leadership),
    );
    this.logger.log(
      `Campaigning for leadership of cluster "${ha.clusterId}" on etcd ${ha.endpoints.join(',')} ` +
        `(lease TTL ${ha.leaseTtlSeconds} s)`,
    );
    this.election.start();
  }

  /** On shutdown, resigns first: a standby takes over without waiting for the lease to lapse. */
  async beforeApplicationShutdown(): Promise<void> {
    const election = this.election;
    this.election = null;
    if (election) {
      await election.resign();
    }
    this.following?.unsubscribe();
    this.state.complete();
    this.client?.close();
    this.client = null;
  }
}

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import {
  BehaviorSubject,
  distinctUntilChanged,
  map,
  type Observable,
  type Subscription,
} from 'rxjs';
import { createEtcdClient, LeaderWatch, type FencingToken } from '#cluster';
import { TASK_MANAGER_CONFIG, type TaskManagerConfig } from './task-manager.config.js';

/** Where the ResourceManager to register with is. */
export interface ResourceManagerLocation {
  readonly host: string;
  readonly port: number;
  /** With HA, the fencing token of its leadership as etcd says; null without HA. */
  readonly fencingToken: FencingToken | null;
  /** With HA, its heartbeat id as etcd says; null without HA. */
  readonly resourceManagerId: string | null;
}

const sameLocation = (a: ResourceManagerLocation | null, b: ResourceManagerLocation | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.host === b.host &&
    a.port === b.port &&
    a.fencingToken === b.fencingToken);

/**
 * Leader retrieval for the TaskManager: the ResourceManager's fixed address (RM_HOST, RM_TCP_PORT)
 * without HA; with HA on etcd, the leader etcd names, as it changes (an etcd watch, no polling).
 * `null` while no leader is known.
 */
@Injectable()
export class ResourceManagerLocator implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('TaskManager');
  private readonly location: BehaviorSubject<ResourceManagerLocation | null>;
  private client: Etcd3 | null = null;
  private watch: LeaderWatch | null = null;
  private following: Subscription[] = [];
  /** The ResourceManager to register with, as it changes; the current one first. */
  readonly location$: Observable<ResourceManagerLocation | null>;

  constructor(@Inject(TASK_MANAGER_CONFIG) private readonly config: TaskManagerConfig) {
    const { host, port } = config.resourceManager;
    this.location = new BehaviorSubject<ResourceManagerLocation | null>(
      config.ha.mode === 'none'
        ? { host, port, fencingToken: null, resourceManagerId: null }
        : null,
    );
    this.location$ = this.location.pipe(distinctUntilChanged(sameLocation));
  }

  get current(): ResourceManagerLocation | null {
    return this.location.value;
  }

  /** With HA, starts watching the leader; the location follows it from here on. */
  onModuleInit(): void {
    const { ha } = this.config;
    if (ha.mode !== 'etcd') {
      return;
    }
    this.client = createEtcdClient(ha.endpoints);
    this.watch = new LeaderWatch(this.client, ha.clusterId, this.logger);
    this.following.push(
      this.watch.leader$
        .pipe(
          map((leader) =>
            leader
              ? {
                  host: leader.record.host,
                  port: leader.record.tcpPort,
                  fencingToken: leader.fencingToken,
                  resourceManagerId: leader.record.resourceManagerId,
                }
              : null,
          ),
        )
        .subscribe((location) => this.location.next(location)),
    );
    this.logger.log(
      `Looking up the ResourceManager leader of cluster "${ha.clusterId}" on etcd ${ha.endpoints.join(',')}`,
    );
    // etcd may be down: the watch keeps trying, and the TaskManager starts anyway.
    this.watch.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const subscription of this.following) {
      subscription.unsubscribe();
    }
    await this.watch?.stop();
    this.client?.close();
    this.location.complete();
  }
}

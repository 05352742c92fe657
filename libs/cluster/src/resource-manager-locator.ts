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
import { createEtcdClient } from './ha/etcd-client.js';
import type { FencingToken } from './ha/fencing-token.js';
import type { HaSettings } from './ha/ha-settings.js';
import { LeaderWatch } from './ha/leader-watch.js';

/** What a ResourceManagerLocator needs: a TaskManager's or a JobMaster's configuration. */
export interface ResourceManagerLookup {
  /** The ResourceManager's fixed address (RM_HOST, RM_TCP_PORT); unused with HA. */
  readonly resourceManager: { readonly host: string; readonly port: number };
  readonly ha: HaSettings;
  /** The context of its log lines, e.g. 'TaskManager' (default 'ResourceManagerLocator'). */
  readonly logContext?: string;
}

/** The injection token of the locator's `ResourceManagerLookup`. */
export const RESOURCE_MANAGER_LOOKUP = Symbol('RESOURCE_MANAGER_LOOKUP');

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
 * Leader retrieval for a TaskManager or a JobMaster: the ResourceManager's fixed address (RM_HOST,
 * RM_TCP_PORT) without HA; with HA on etcd, the leader etcd names, as it changes (an etcd watch, no polling).
 * `null` while no leader is known.
 */
@Injectable()
export class ResourceManagerLocator implements OnModuleInit, OnApplicationShutdown {
  private readonly logger: Logger;
  private readonly location: BehaviorSubject<ResourceManagerLocation | null>;
  private client: Etcd3 | null = null;
  private watch: LeaderWatch | null = null;
  private following: Subscription[] = [];
  /** The ResourceManager to register with, as it changes; the current one first. */
  readonly location$: Observable<ResourceManagerLocation | null>;

  constructor(@Inject(RESOURCE_MANAGER_LOOKUP) private readonly config: ResourceManagerLookup) {
    this.logger = new Logger(config.logContext ?? 'ResourceManagerLocator');
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
    // etcd may be down: the watch keeps trying, and the app starts anyway.
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

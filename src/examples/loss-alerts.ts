import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HeartbeatRegistry, type HeartbeatEvent } from 'nestjs-heartbeat';
import { filter, type Subscription } from 'rxjs';

type Loss = Extract<HeartbeatEvent, { type: 'timeout' | 'unreachable' }>;

/** Logs every target a manager loses, and why: one subscriber to its event stream. */
@Injectable()
export class LossAlerts implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LossAlerts.name);
  private subscription?: Subscription;

  constructor(private readonly heartbeats: HeartbeatRegistry) {}

  onApplicationBootstrap(): void {
    this.subscription = this.heartbeats
      .changes('taskManagers')
      .pipe(
        filter((event): event is Loss => event.type === 'timeout' || event.type === 'unreachable'),
      )
      .subscribe((loss) =>
        this.logger.warn(
          loss.type === 'timeout'
            ? `${loss.target} lost: ${loss.lastHeartbeat ? `silent for ${loss.at - loss.lastHeartbeat} ms` : 'never heard from'}`
            : `${loss.target} lost: unreachable (${loss.failure})`,
        ),
      );
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}

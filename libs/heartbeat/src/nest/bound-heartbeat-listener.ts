import type { HeartbeatListener, HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import { logFailure, logRejection, safely } from '../core/safely.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type { TargetLossReason } from './interfaces/heartbeat-handler.interface.js';

/** An app method bound to its instance, with the `Class.method` it is logged as. */
export interface BoundHandler<F extends (...args: never[]) => unknown> {
  readonly where: string;
  readonly call: F;
}

type NotifyHandler = (resourceId: string) => unknown;
type LostHandler = (resourceId: string, reason: TargetLossReason) => unknown;
type PayloadHandler = (resourceId: string, payload: unknown) => unknown;
type PayloadProvider = (resourceId: string) => unknown;

/**
 * A manager's listener (Flink's four callbacks) made of the app's decorated methods, bound by the
 * explorer at start-up. Each handler runs on its own: one that throws is logged and the others
 * still run. (Vetting incoming heartbeats is not a listener's job: see `IncomingHeartbeatVetter`.)
 */
export class BoundHeartbeatListener implements HeartbeatListener<unknown, unknown> {
  private readonly timeoutHandlers: BoundHandler<NotifyHandler>[] = [];
  private readonly unreachableHandlers: BoundHandler<NotifyHandler>[] = [];
  private readonly lostHandlers: BoundHandler<LostHandler>[] = [];
  private readonly payloadHandlers: BoundHandler<PayloadHandler>[] = [];
  private payloadProvider: BoundHandler<PayloadProvider> | null = null;

  constructor(
    readonly managerName: string,
    private readonly logger: HeartbeatLogger,
  ) {}

  onTimeout(handler: BoundHandler<NotifyHandler>): void {
    this.timeoutHandlers.push(handler);
  }

  onUnreachable(handler: BoundHandler<NotifyHandler>): void {
    this.unreachableHandlers.push(handler);
  }

  /** A handler of both losses, told which one it is. */
  onLost(handler: BoundHandler<LostHandler>): void {
    this.lostHandlers.push(handler);
  }

  onPayload(handler: BoundHandler<PayloadHandler>): void {
    this.payloadHandlers.push(handler);
  }

  providePayload(handler: BoundHandler<PayloadProvider>): void {
    if (this.payloadProvider) {
      throw new Error(
        HEARTBEAT_MESSAGES.duplicatePayloadProvider(
          this.managerName,
          this.payloadProvider.where,
          handler.where,
        ),
      );
    }
    this.payloadProvider = handler;
  }

  /** The timeout handlers, then the loss handlers with `'timeout'`. */
  notifyHeartbeatTimeout(resourceId: string): void {
    this.notify(this.timeoutHandlers, resourceId, 'timeout');
  }

  /** The unreachable handlers, then the loss handlers with `'unreachable'`. */
  notifyTargetUnreachable(resourceId: string): void {
    this.notify(this.unreachableHandlers, resourceId, 'unreachable');
  }

  reportPayload(resourceId: string, payload: unknown): void {
    // Written out rather than with `safely`: this runs on every heartbeat.
    for (const handler of this.payloadHandlers) {
      try {
        logRejection(this.logger, handler.where, handler.call(resourceId, payload));
      } catch (error) {
        logFailure(this.logger, handler.where, error);
      }
    }
  }

  retrievePayload(resourceId: string): unknown {
    // Errors propagate: the manager logs them and still sends the heartbeat, without payload.
    return this.payloadProvider ? this.payloadProvider.call(resourceId) : null;
  }

  private notify(
    specific: readonly BoundHandler<NotifyHandler>[],
    resourceId: string,
    reason: TargetLossReason,
  ): void {
    for (const handler of specific) {
      safely(this.logger, handler.where, () => handler.call(resourceId), undefined);
    }
    for (const handler of this.lostHandlers) {
      safely(this.logger, handler.where, () => handler.call(resourceId, reason), undefined);
    }
  }
}

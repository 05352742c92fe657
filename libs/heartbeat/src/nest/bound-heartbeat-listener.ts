import type { HeartbeatListener, HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import { safely } from '../core/safely.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type { IncomingHeartbeat } from './interfaces/heartbeat-handler.interface.js';

type Handler = (...args: never[]) => unknown;

interface BoundHandler<F extends Handler> {
  readonly where: string;
  readonly call: F;
}

type NotifyHandler = (resourceId: string) => unknown;
type PayloadHandler = (resourceId: string, payload: unknown) => unknown;
type PayloadProvider = (resourceId: string) => unknown;
type IncomingHandler = (heartbeat: IncomingHeartbeat) => unknown;

/**
 * A manager's listener made of the app's decorated methods, bound by the explorer at start-up.
 * Each handler runs on its own: one that throws is logged and the others still run.
 */
export class BoundHeartbeatListener implements HeartbeatListener<unknown, unknown> {
  private readonly timeoutHandlers: BoundHandler<NotifyHandler>[] = [];
  private readonly unreachableHandlers: BoundHandler<NotifyHandler>[] = [];
  private readonly payloadHandlers: BoundHandler<PayloadHandler>[] = [];
  private readonly incomingHandlers: BoundHandler<IncomingHandler>[] = [];
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

  onPayload(handler: BoundHandler<PayloadHandler>): void {
    this.payloadHandlers.push(handler);
  }

  onIncoming(handler: BoundHandler<IncomingHandler>): void {
    this.incomingHandlers.push(handler);
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

  notifyHeartbeatTimeout(resourceId: string): void {
    for (const handler of this.timeoutHandlers) {
      safely(this.logger, handler.where, () => handler.call(resourceId), undefined);
    }
  }

  notifyTargetUnreachable(resourceId: string): void {
    for (const handler of this.unreachableHandlers) {
      safely(this.logger, handler.where, () => handler.call(resourceId), undefined);
    }
  }

  reportPayload(resourceId: string, payload: unknown): void {
    for (const handler of this.payloadHandlers) {
      safely(this.logger, handler.where, () => handler.call(resourceId, payload), undefined);
    }
  }

  retrievePayload(resourceId: string): unknown {
    // Errors propagate: the manager logs them and still sends the heartbeat, without payload.
    return this.payloadProvider ? this.payloadProvider.call(resourceId) : null;
  }

  /** Runs the target-side handlers in turn; the first that returns false or throws rejects the heartbeat. */
  async accepts(
    heartbeat: IncomingHeartbeat,
  ): Promise<{ accepted: true } | { accepted: false; reason: string }> {
    for (const handler of this.incomingHandlers) {
      try {
        if ((await handler.call(heartbeat)) === false) {
          return { accepted: false, reason: `rejected by ${handler.where}` };
        }
      } catch (error) {
        return { accepted: false, reason: error instanceof Error ? error.message : String(error) };
      }
    }
    return { accepted: true };
  }
}

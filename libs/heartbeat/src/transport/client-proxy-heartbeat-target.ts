import type { ClientProxy } from '@nestjs/microservices';
import { TimeoutError, type Subscription } from 'rxjs';
import type { HeartbeatAnswer, HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { addressedHeartbeatPattern, type HeartbeatPattern } from './addressed-patterns.js';
import { classifyBrokerFailure } from './broker-failure.js';
import { isConnectionFailure } from './connection-failure.js';
import {
  answerOf,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  type HeartbeatMessage,
} from './heartbeat-wire.js';

/** What the target needs of a client: any transport's `ClientProxy` fits. */
export type HeartbeatClient = Pick<ClientProxy, 'send' | 'close'>;

/** Settings of a {@link ClientProxyHeartbeatTarget}: whom it reaches, how long an RPC may take, who closes the client. */
export interface ClientProxyHeartbeatTargetOptions {
  /** Name of the manager on the far side that takes these heartbeats. */
  readonly remoteManager: string;
  /** How long one RPC may take; a slower answer fails the RPC without counting as unreachable. */
  readonly requestTimeout: number;
  /** Close the client when the target is disposed (true when the target created the client). */
  readonly closeClientOnDispose: boolean;
  /** How the recipient is named in errors, e.g. "127.0.0.1:6123". */
  readonly recipient: string;
  /**
   * Set when the client reaches its recipient through a broker (NATS, Redis), where every
   * subscriber of a subject gets what is published to it: the RPCs then go to the patterns
   * addressed to `recipientId` (`heartbeat.request.<id>`, which only that recipient's application
   * answers) instead of the plain ones, NATS's "no responders" counts as the recipient unreachable,
   * and a failure to reach the broker (named `broker` in errors) does not count.
   */
  readonly broker?: { readonly recipientId: string; readonly broker: string };
}

/**
 * A heartbeat target reached through a Nest `ClientProxy` with request/response messages: over a
 * client the app owns (`fromClient`, any transport), or through a NATS or Redis broker
 * (`createBrokerTarget`, which sets `broker`). A request's reply brings the answer back with it.
 */
export class ClientProxyHeartbeatTarget<O = unknown> implements HeartbeatTarget<O> {
  private readonly requestPattern: string;
  private readonly receivePattern: string;

  constructor(
    private readonly client: HeartbeatClient,
    private readonly options: ClientProxyHeartbeatTargetOptions,
  ) {
    const recipientId = options.broker?.recipientId;
    const patternOf = (pattern: HeartbeatPattern) =>
      recipientId === undefined ? pattern : addressedHeartbeatPattern(pattern, recipientId);
    this.requestPattern = patternOf(HEARTBEAT_REQUEST_PATTERN);
    this.receivePattern = patternOf(HEARTBEAT_RECEIVE_PATTERN);
  }

  requestHeartbeat(origin: string, payload: O | null): Promise<HeartbeatAnswer | void> {
    return this.call(this.requestPattern, origin, payload);
  }

  async receiveHeartbeat(origin: string, payload: O | null): Promise<void> {
    await this.call(this.receivePattern, origin, payload);
  }

  async dispose(): Promise<void> {
    if (this.options.closeClientOnDispose) {
      await this.client.close();
    }
  }

  /**
   * One RPC: resolves on the first reply with the answer it carries (if any) or on an empty one,
   * rejects on an error reply, and on `requestTimeout` with rxjs's `TimeoutError`. Written out
   * rather than with `timeout` and `firstValueFrom`: the operators cost an interval timer and
   * several subscribers per call.
   */
  private call(
    pattern: string,
    origin: string,
    payload: O | null,
  ): Promise<HeartbeatAnswer | void> {
    const message: HeartbeatMessage<O> = { manager: this.options.remoteManager, origin, payload };
    return new Promise<HeartbeatAnswer | void>((resolve, reject) => {
      let settled = false;
      let subscription: Subscription | undefined;
      const settle = (failed: boolean, outcome?: unknown) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        subscription?.unsubscribe();
        if (failed) {
          reject(this.classify(outcome, pattern));
          return;
        }
        try {
          resolve(answerOf(outcome));
        } catch (error) {
          reject(error);
        }
      };
      const timer = setTimeout(() => settle(true, new TimeoutError()), this.options.requestTimeout);
      subscription = this.client.send(pattern, message).subscribe({
        next: (response: unknown) => settle(false, response),
        error: (error: unknown) => settle(true, error),
        complete: () => settle(false),
      });
      if (settled) {
        subscription.unsubscribe(); // the client answered synchronously
      }
    });
  }

  /**
   * A connection failure becomes RecipientUnreachableError; anything else passes as it is.
   * Through a broker, a connection failure is the broker's (see `classifyBrokerFailure`).
   */
  private classify(error: unknown, pattern: string): unknown {
    const { broker } = this.options;
    if (broker) {
      return classifyBrokerFailure(error, { ...broker, pattern });
    }
    return isConnectionFailure(error)
      ? new RecipientUnreachableError(this.options.recipient, describe(error), { cause: error })
      : error;
  }
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message ?? error);
}

import type { ClientProxy } from '@nestjs/microservices';
import { TimeoutError, type Subscription } from 'rxjs';
import type { HeartbeatTarget } from '../../core/heartbeat-target.interface.js';
import { RecipientUnreachableError } from '../../core/recipient-unreachable.error.js';
import { isConnectionFailure } from './connection-failure.js';
import {
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
}

/** A heartbeat target reached through a Nest `ClientProxy` with request/response messages. */
export class ClientProxyHeartbeatTarget<O = unknown> implements HeartbeatTarget<O> {
  constructor(
    private readonly client: HeartbeatClient,
    private readonly options: ClientProxyHeartbeatTargetOptions,
  ) {}

  requestHeartbeat(origin: string, payload: O | null): Promise<void> {
    return this.call(HEARTBEAT_REQUEST_PATTERN, origin, payload);
  }

  receiveHeartbeat(origin: string, payload: O | null): Promise<void> {
    return this.call(HEARTBEAT_RECEIVE_PATTERN, origin, payload);
  }

  async dispose(): Promise<void> {
    if (this.options.closeClientOnDispose) {
      await this.client.close();
    }
  }

  /**
   * One RPC: resolves on the first reply (or an empty one), rejects on an error reply, and on
   * `requestTimeout` with rxjs's `TimeoutError`. Written out rather than with `timeout` and
   * `firstValueFrom`: this runs for every heartbeat, and the operators cost an interval timer and
   * several subscribers per call.
   */
  private call(pattern: string, origin: string, payload: O | null): Promise<void> {
    const message: HeartbeatMessage<O> = { manager: this.options.remoteManager, origin, payload };
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let subscription: Subscription | undefined;
      const settle = (failed: boolean, error?: unknown) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        subscription?.unsubscribe();
        if (failed) {
          reject(this.classify(error));
        } else {
          resolve();
        }
      };
      const timer = setTimeout(() => settle(true, new TimeoutError()), this.options.requestTimeout);
      subscription = this.client.send(pattern, message).subscribe({
        next: () => settle(false),
        error: (error: unknown) => settle(true, error),
        complete: () => settle(false),
      });
      if (settled) {
        subscription.unsubscribe(); // the client answered synchronously
      }
    });
  }

  /** A connection failure becomes RecipientUnreachableError; anything else passes as it is. */
  private classify(error: unknown): unknown {
    return isConnectionFailure(error)
      ? new RecipientUnreachableError(this.options.recipient, describe(error), { cause: error })
      : error;
  }
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message ?? error);
}

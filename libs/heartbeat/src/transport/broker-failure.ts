import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { isConnectionFailure } from './connection-failure.js';

/** Where a brokered RPC went: its recipient's id, the broker (as named in errors), the pattern. */
export interface BrokerRoute {
  readonly recipientId: string;
  readonly broker: string;
  readonly pattern: string;
}

/**
 * The RPC failed because this process could not reach its broker: nothing is known of the
 * recipient, which may be well. It does not count towards `rpcFailureThreshold` (its event's kind
 * is `other`), so a broker outage loses the targets only by their timeout, as a partition would.
 */
export class HeartbeatBrokerError extends Error {
  override readonly name = 'HeartbeatBrokerError';

  constructor(route: BrokerRoute, reason: string, options?: { cause?: unknown }) {
    super(
      `Heartbeat broker ${route.broker} cannot be reached (nothing is known of ` +
        `${route.recipientId}): ${reason}`,
      options,
    );
  }
}

/** What ioredis, nats.js and Nest's broker clients fail requests with when the broker is gone. */
const BROKER_MESSAGES = [
  /^Connection is closed\.$/, // ioredis, on a closed or ended connection
  /^Error: Connection lost\. Trying to reconnect\.\.\.$/, // Nest, while its client reconnects
  /^connection refused$/i, // nats.js, once it gave up reconnecting and connects anew
];
const BROKER_ERROR_NAMES = new Set(['ConnectionError', 'MaxRetriesPerRequestError']);

/** Nest's `EmptyResponseException`: NATS answered that no subscriber has the request's subject. */
const NO_RESPONDERS = /^Empty response\. There are no subscribers listening to that message/;

const messageOf = (error: unknown): string =>
  typeof error === 'string'
    ? error
    : String((error as { message?: unknown } | null)?.message ?? error);

/**
 * What a failed RPC through a broker means for its recipient:
 * - NATS's "no responders" (nobody subscribes to the recipient's subject, so its process is not
 *   connected to the broker: closed, crashed, or gone since the broker restarted) is the
 *   recipient unreachable, as a refused TCP connection is: `RecipientUnreachableError`, counted.
 * - A failure to reach the broker itself (refused, reset or closed connection, a client that is
 *   reconnecting) says nothing of the recipient: `HeartbeatBrokerError`, not counted.
 * - Anything else (a timeout, an error reply) passes as it is.
 */
export function classifyBrokerFailure(error: unknown, route: BrokerRoute): unknown {
  const message = messageOf(error);
  if (NO_RESPONDERS.test(message)) {
    return new RecipientUnreachableError(
      route.recipientId,
      `no subscriber of ${route.pattern} at ${route.broker}`,
      { cause: error },
    );
  }
  const name = (error as { name?: unknown } | null)?.name;
  const brokerGone =
    isConnectionFailure(error) ||
    (typeof name === 'string' && BROKER_ERROR_NAMES.has(name)) ||
    BROKER_MESSAGES.some((pattern) => pattern.test(message));
  if (brokerGone) {
    const { code } = (error ?? {}) as { code?: unknown };
    return new HeartbeatBrokerError(route, typeof code === 'string' ? code : message, {
      cause: error,
    });
  }
  return error;
}

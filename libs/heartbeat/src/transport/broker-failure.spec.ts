import { TimeoutError } from 'rxjs';
import { rpcFailureKindOf } from '../core/heartbeat-events.js';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { classifyBrokerFailure, HeartbeatBrokerError } from './broker-failure.js';

const ROUTE = {
  recipientId: 'tm-1',
  broker: 'nats://10.0.0.5:4222',
  pattern: 'heartbeat.request.tm-1',
};

/** What Nest's ClientNats rejects with when NATS says nobody subscribes (its EmptyResponseException). */
class EmptyResponseException extends Error {
  constructor(pattern: string) {
    super(`Empty response. There are no subscribers listening to that message ("${pattern}")`);
  }
}

describe('classifyBrokerFailure', () => {
  it("makes NATS's no responders the recipient unreachable, counted", () => {
    const cause = new EmptyResponseException('heartbeat.request.tm-1');
    const error = classifyBrokerFailure(cause, ROUTE);

    expect(error).toBeInstanceOf(RecipientUnreachableError);
    expect(error).toMatchObject({
      recipient: 'tm-1',
      message:
        'Heartbeat recipient tm-1 is unreachable: no subscriber of heartbeat.request.tm-1 at nats://10.0.0.5:4222',
      cause,
    });
    expect(rpcFailureKindOf(error)).toBe('unreachable');
  });

  it.each<[string, unknown, string]>([
    [
      'a refused connection (the broker is down)',
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:4222'), { code: 'ECONNREFUSED' }),
      'ECONNREFUSED',
    ],
    [
      "Nest's in-flight failure when the connection closes",
      new Error('Connection closed'),
      'Connection closed',
    ],
    [
      "Nest's rejection while its client reconnects (a string)",
      'Error: Connection lost. Trying to reconnect...',
      'Error: Connection lost. Trying to reconnect...',
    ],
    ["ioredis's closed connection", new Error('Connection is closed.'), 'Connection is closed.'],
    [
      "nats.js's refused connection once it gave up reconnecting",
      Object.assign(new Error('connection refused'), { name: 'ConnectionError' }),
      'connection refused',
    ],
    [
      "ioredis's retries exhausted",
      Object.assign(new Error('Reached the max retries per request limit'), {
        name: 'MaxRetriesPerRequestError',
      }),
      'Reached the max retries per request limit',
    ],
  ])('makes %s the broker failing, not counted', (_case, cause, reason) => {
    const error = classifyBrokerFailure(cause, ROUTE);

    expect(error).toBeInstanceOf(HeartbeatBrokerError);
    expect(error).toMatchObject({
      name: 'HeartbeatBrokerError',
      message: `Heartbeat broker nats://10.0.0.5:4222 cannot be reached (nothing is known of tm-1): ${reason}`,
      cause,
    });
    expect(RecipientUnreachableError.matches(error)).toBe(false);
    expect(rpcFailureKindOf(error)).toBe('other');
  });

  it.each<[string, unknown, string]>([
    ['a request timeout', new TimeoutError(), 'timeout'],
    ['an error reply', { status: 'error', message: 'unknown heartbeat manager "x"' }, 'rejected'],
    ['an unknown error', new Error('something else'), 'other'],
  ])('passes %s as it is', (_case, cause, kind) => {
    const error = classifyBrokerFailure(cause, ROUTE);
    expect(error).toBe(cause);
    expect(rpcFailureKindOf(error)).toBe(kind);
  });
});

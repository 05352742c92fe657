import { TimeoutError } from 'rxjs';
import { RecipientUnreachableError } from '../core/recipient-unreachable.error.js';
import { isConnectionFailure } from './connection-failure.js';

const socketError = (code: string) =>
  Object.assign(new Error(`connect ${code} 10.0.0.7:6123`), { code });

describe('isConnectionFailure', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ECONNABORTED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EHOSTDOWN',
    'ENETDOWN',
    'EPIPE',
    'ENOTCONN',
    'EADDRNOTAVAIL',
    'ENOTFOUND',
  ])('is true for a socket error with code %s', (code) => {
    expect(isConnectionFailure(socketError(code))).toBe(true);
  });

  it.each<[string, unknown]>([
    ["Nest's in-flight failure Error('Connection closed')", new Error('Connection closed')],
    ['a plain object with an unreachable code', { code: 'ECONNREFUSED' }],
    ['a plain object with the closed message', { message: 'Connection closed' }],
  ])('is true for %s', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['an rxjs TimeoutError', new TimeoutError()],
    [
      'an error reply { status, message }',
      { status: 'error', message: 'unknown heartbeat manager "x" (from y)' },
    ],
    ['a socket error with another code', socketError('ETIMEDOUT')],
    ['a lower-case code', socketError('econnrefused')],
    ['a numeric code', { code: 111 }],
    ['a message that only contains the closed message', new Error('Connection closed by peer')],
    ['a RecipientUnreachableError', new RecipientUnreachableError('x', 'ECONNREFUSED')],
    ['the string ECONNREFUSED', 'ECONNREFUSED'],
    ['the string Connection closed', 'Connection closed'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 111],
    ['an empty object', {}],
  ])('is false for %s', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });
});

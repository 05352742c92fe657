import { RecipientUnreachableError } from './recipient-unreachable.error.js';

describe('RecipientUnreachableError', () => {
  it('names the recipient and the reason, and keeps the cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new RecipientUnreachableError('tm-1', 'connection refused', { cause });

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RecipientUnreachableError');
    expect(error.recipient).toBe('tm-1');
    expect(error.message).toBe('Heartbeat recipient tm-1 is unreachable: connection refused');
    expect(error.cause).toBe(cause);
  });

  it('matches its own instances and same-named errors from another copy of the library', () => {
    const foreign = Object.assign(new Error('refused'), { name: 'RecipientUnreachableError' });

    expect(RecipientUnreachableError.matches(new RecipientUnreachableError('x', 'refused'))).toBe(
      true,
    );
    expect(RecipientUnreachableError.matches(foreign)).toBe(true);
  });

  it('does not match other failures', () => {
    expect(RecipientUnreachableError.matches(new Error('timeout'))).toBe(false);
    expect(RecipientUnreachableError.matches({ name: 'RecipientUnreachableError' })).toBe(false);
    expect(RecipientUnreachableError.matches('RecipientUnreachableError')).toBe(false);
    expect(RecipientUnreachableError.matches(undefined)).toBe(false);
  });
});

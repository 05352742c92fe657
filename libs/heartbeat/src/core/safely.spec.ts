import type { HeartbeatLogger } from './heartbeat-listener.interface.js';
import { isPromiseLike, logFailure, safely } from './safely.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function recordingLogger() {
  const errors: Array<[string, string | undefined]> = [];
  const logger: HeartbeatLogger = {
    error: (message, stack) => errors.push([message, stack]),
    warn: () => undefined,
  };
  return { logger, errors };
}

describe('safely', () => {
  it("returns the callback's value and logs nothing when it succeeds", () => {
    const { logger, errors } = recordingLogger();

    expect(safely(logger, 'Adding', () => 1 + 1, 0)).toBe(2);
    expect(errors).toEqual([]);
  });

  it('logs a synchronous throw, with its stack, and returns the fallback', () => {
    const { logger, errors } = recordingLogger();
    const failure = new Error('boom');

    const result = safely(
      logger,
      'Doing it',
      (): number => {
        throw failure;
      },
      -1,
    );

    expect(result).toBe(-1);
    expect(errors).toEqual([['Doing it failed: boom', failure.stack]]);
  });

  it('logs a rejection once it happens, and returns the promise', async () => {
    const { logger, errors } = recordingLogger();
    const rejected = Promise.reject(new Error('later'));

    const result = safely(logger, 'Waiting', () => rejected, undefined);
    expect(result).toBe(rejected);
    expect(errors).toEqual([]);
    await flush();

    expect(errors.map(([message]) => message)).toEqual(['Waiting failed: later']);
  });

  it('logs nothing for a promise that resolves', async () => {
    const { logger, errors } = recordingLogger();

    safely(logger, 'Waiting', () => Promise.resolve('fine'), undefined);
    await flush();

    expect(errors).toEqual([]);
  });
});

describe('logFailure', () => {
  it('logs a non-Error by its string form, without a stack', () => {
    const { logger, errors } = recordingLogger();

    logFailure(logger, 'Something', 42);

    expect(errors).toEqual([['Something failed: 42', undefined]]);
  });
});

describe('isPromiseLike', () => {
  it('recognises promises only', () => {
    expect(isPromiseLike(Promise.resolve())).toBe(true);
    expect(isPromiseLike(Promise.reject(new Error('x')).catch(() => undefined))).toBe(true);
    expect(isPromiseLike({})).toBe(false);
    expect(isPromiseLike(null)).toBe(false);
    expect(isPromiseLike(undefined)).toBe(false);
    expect(isPromiseLike('text')).toBe(false);
  });
});

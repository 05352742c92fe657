import type { HeartbeatLogger } from './heartbeat-listener.interface.js';

/**
 * Runs a user callback so that a throw or a rejected promise is logged instead of breaking the
 * caller. Returns the callback's value, or `fallback` if it threw synchronously.
 */
export function safely<T>(
  logger: HeartbeatLogger,
  what: string,
  callback: () => T,
  fallback: T,
): T {
  try {
    const result = callback();
    if (isPromiseLike(result)) {
      result.then(undefined, (error: unknown) => logFailure(logger, what, error));
    }
    return result;
  } catch (error) {
    logFailure(logger, what, error);
    return fallback;
  }
}

/**
 * Logs the rejection of a user callback's result, if it is a promise. With a try/catch around the
 * call, this is `safely` without a closure: for the callbacks that run on every heartbeat.
 */
export function logRejection(logger: HeartbeatLogger, what: string, result: unknown): void {
  if (isPromiseLike(result)) {
    result.then(undefined, (error: unknown) => logFailure(logger, what, error));
  }
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

export function logFailure(logger: HeartbeatLogger, what: string, error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  logger.error(`${what} failed: ${reason}`, error instanceof Error ? error.stack : undefined);
}

/** Disposes a target, logging (not throwing) a failure: the manager owns the targets it is given. */
export function disposeTarget(
  logger: HeartbeatLogger,
  resourceId: string,
  target: { dispose?(): void | Promise<void> },
): void {
  if (target.dispose) {
    safely(
      logger,
      `Disposing the heartbeat target ${resourceId}`,
      () => target.dispose!(),
      undefined,
    );
  }
}

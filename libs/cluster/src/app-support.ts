import { RpcException, type ClientProxy } from '@nestjs/microservices';
import { timingSafeEqual } from 'node:crypto';
import { firstValueFrom, timeout } from 'rxjs';
import { EnvironmentError } from './env.js';

/** Whether two secrets (fencing tokens, credentials) are equal, in time independent of where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An error as one short phrase: a socket error's code, an error reply's message, or the text. */
export function describeError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    return code;
  }
  return typeof message === 'string' ? message : String(error);
}

/** Request/response over a Nest client, failing after `timeoutMs` (Nest's `send` has no timeout). */
export function sendRequest<T = unknown>(
  client: Pick<ClientProxy, 'send'>,
  pattern: string,
  data: object,
  timeoutMs: number,
): Promise<T> {
  return firstValueFrom(client.send<T>(pattern, data).pipe(timeout(timeoutMs)));
}

/** Runs a message handler's parsing or action; its error becomes the error reply the peer gets. */
export function orRpcError<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw new RpcException(describeError(error));
  }
}

/** Starts an app; a bad environment or any start-up failure exits with code 1 and one clear message. */
export function runApp(bootstrap: () => Promise<void>): void {
  bootstrap().catch((error: unknown) => {
    console.error(
      error instanceof EnvironmentError
        ? `Invalid environment: ${error.message}`
        : String((error as Error)?.stack ?? error),
    );
    process.exit(1);
  });
}

/**
 * The RPC could not reach its recipient (connection refused or reset, no route). Only this kind
 * of failure counts towards the RPC-failure threshold; any other failure (an ask timeout, say)
 * neither counts nor resets the count, as in Flink.
 */
export class RecipientUnreachableError extends Error {
  override readonly name = 'RecipientUnreachableError';

  constructor(
    readonly recipient: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`Heartbeat recipient ${recipient} is unreachable: ${message}`, options);
  }

  /** True for this error, also when it comes from another copy of the library. */
  static matches(error: unknown): error is RecipientUnreachableError {
    return (
      error instanceof RecipientUnreachableError ||
      (error instanceof Error && error.name === 'RecipientUnreachableError')
    );
  }
}

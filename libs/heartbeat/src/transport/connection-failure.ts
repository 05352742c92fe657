/** Socket error codes that mean the recipient could not be reached (Flink's "recipient unreachable"). */
const UNREACHABLE_CODES = new Set([
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
]);

/** The message Nest's TCP client fails in-flight requests with when the socket closes under them. */
const CONNECTION_CLOSED_MESSAGE = 'Connection closed';

/** True when an RPC failed because the peer could not be reached, as opposed to a slow or rejecting peer. */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false;
  }
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (typeof code === 'string' && UNREACHABLE_CODES.has(code)) ||
    message === CONNECTION_CLOSED_MESSAGE
  );
}

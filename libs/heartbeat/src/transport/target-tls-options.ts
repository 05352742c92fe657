import { X509Certificate } from 'node:crypto';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';

/** Keys that would make the TLS socket connect somewhere else than the target's host and port. */
const CONNECTION_KEYS = ['host', 'port', 'path', 'socket'] as const;

/**
 * Checks a heartbeat target's `tlsOptions` at once, so that a bad CA, certificate or key fails
 * `createTcpTarget` with a clear error instead of every heartbeat RPC later. The secure context
 * built for the check is kept, so reconnections do not parse the PEM files again.
 */
export function resolveTargetTlsOptions(
  tlsOptions: ConnectionOptions | undefined,
  recipient: string,
): ConnectionOptions | undefined {
  if (tlsOptions === undefined) {
    return undefined;
  }
  const invalid = (reason: string) =>
    new HeartbeatConfigurationError(
      `Invalid tlsOptions for heartbeat target ${recipient}: ${reason}`,
    );
  if (typeof tlsOptions !== 'object' || tlsOptions === null || Array.isArray(tlsOptions)) {
    throw invalid(`expected an object of Node TLS connection options, got ${String(tlsOptions)}`);
  }
  const connectionKey = CONNECTION_KEYS.find((key) => tlsOptions[key] !== undefined);
  if (connectionKey) {
    throw invalid(
      `"${connectionKey}" is not allowed: the target connects to its own host and port`,
    );
  }
  if (tlsOptions.secureContext) {
    return tlsOptions;
  }
  try {
    // Node skips a CA that holds no certificate, which would fail every handshake later.
    [tlsOptions.ca ?? []].flat().forEach((ca) => new X509Certificate(ca));
    return { ...tlsOptions, secureContext: createSecureContext(tlsOptions) };
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

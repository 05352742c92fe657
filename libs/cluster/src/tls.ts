import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createSecureContext,
  type ConnectionOptions,
  type TLSSocket,
  type TlsOptions,
} from 'node:tls';
import { describeError } from './app-support.js';
import { EnvironmentError } from './env.js';

/** PEM contents for mutual TLS: the CA that every peer's certificate must come from, and our own. */
export interface MutualTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The variables that switch mutual TLS on: paths of PEM files, all three or none. */
export const TLS_VARIABLES = ['TLS_CA', 'TLS_CERT', 'TLS_KEY'] as const;

/**
 * Reads TLS_CA, TLS_CERT and TLS_KEY: `null` when none is set (plain TCP), the files' contents when
 * all are. Throws an EnvironmentError when only some are set, a file cannot be read, or the files
 * do not make a usable TLS context (not PEM, or a key that does not match the certificate).
 */
export function readMutualTls(env: Env): MutualTls | null {
  const paths = TLS_VARIABLES.map((name) => [name, env[name]?.trim() || undefined] as const);
  const set = paths.filter(([, path]) => path !== undefined).map(([name]) => name);
  if (set.length === 0) {
    return null;
  }
  if (set.length < TLS_VARIABLES.length) {
    const missing = TLS_VARIABLES.filter((name) => !set.includes(name));
    throw new EnvironmentError(
      `${TLS_VARIABLES.join(', ')} must be set together to enable mutual TLS; ` +
        `${set.join(', ')} set but ${missing.join(', ')} not`,
    );
  }
  const [ca, cert, key] = paths.map(([name, path]) => readPem(name, path as string));
  const authority = readCertificate('TLS_CA', ca);
  if (!authority.ca) {
    throw new EnvironmentError(
      `TLS_CA must hold a CA certificate, got one for "${authority.subject.replace(/\n/g, ', ')}" that is not a CA`,
    );
  }
  readCertificate('TLS_CERT', cert);
  try {
    createSecureContext({ ca, cert, key });
  } catch (error) {
    throw new EnvironmentError(
      `TLS_KEY must be the PEM private key of the certificate in TLS_CERT: ${(error as Error).message}`,
    );
  }
  return { ca, cert, key };
}

function readCertificate(name: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new EnvironmentError(`${name} must hold a PEM certificate: ${(error as Error).message}`);
  }
}

function readPem(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new EnvironmentError(`${name} must be a readable file, got "${path}" (${reason})`);
  }
}

/** Server side: only peers presenting a certificate from the CA may connect. `undefined`: plain TCP. */
export function serverTlsOptions(tls: MutualTls | null): TlsOptions | undefined {
  return tls ? { ...tls, requestCert: true, rejectUnauthorized: true } : undefined;
}

/** Client side: present our certificate, and accept only a server certificate from the CA. */
export function clientTlsOptions(tls: MutualTls | null): ConnectionOptions | undefined {
  return tls ? { ...tls, rejectUnauthorized: true } : undefined;
}

/**
 * Logs every connection the TLS endpoint refuses in the handshake (no certificate, one from another
 * CA, plain TCP): Node drops them without a word, and an operator should see who was turned away.
 */
export function logRefusedHandshakes(
  endpoint: {
    on(event: 'tlsClientError', listener: (error: Error, socket: TLSSocket) => void): void;
  },
  logger: { warn(message: string): void },
  tls: MutualTls | null,
): void {
  if (tls) {
    endpoint.on('tlsClientError', (error, socket) => {
      // A rejected certificate is reported as a reset connection, its reason kept on the socket;
      // and once the socket is destroyed, its address is gone.
      const reason = socket.authorizationError
        ? String(socket.authorizationError)
        : describeError(error);
      const from = socket.remoteAddress ? ` from ${socket.remoteAddress}:${socket.remotePort}` : '';
      logger.warn(`Refused a connection${from} in the TLS handshake (${reason})`);
    });
  }
}

import { jest } from '@jest/globals';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCertificates, type TlsFiles } from '../../../test/fixtures/test-certificates.js';
import { EnvironmentError } from './env.js';
import type { TLSSocket } from 'node:tls';
import { clientTlsOptions, logRefusedHandshakes, readMutualTls, serverTlsOptions } from './tls.js';

describe('mutual TLS from TLS_CA, TLS_CERT and TLS_KEY', () => {
  let certificates: TestCertificates;
  let files: TlsFiles;
  let foreignKey: string;

  beforeAll(() => {
    certificates = new TestCertificates();
    files = certificates.issue(certificates.authority('env-ca'), 'env-peer');
    foreignKey = certificates.issue(certificates.authority('env-other-ca'), 'env-other').key;
  });

  afterAll(() => certificates.remove());

  const env = (overrides: Record<string, string | undefined> = {}) => ({
    ...TestCertificates.env(files),
    ...overrides,
  });
  const errorOf = (overrides: Record<string, string | undefined>) => {
    try {
      readMutualTls(env(overrides));
    } catch (error) {
      return error;
    }
    throw new Error('readMutualTls accepted the environment');
  };

  it('is off (plain TCP) when none is set, or all are blank', () => {
    expect(readMutualTls({})).toBeNull();
    expect(readMutualTls({ TLS_CA: ' ', TLS_CERT: '', TLS_KEY: undefined })).toBeNull();
    expect(serverTlsOptions(null)).toBeUndefined();
    expect(clientTlsOptions(null)).toBeUndefined();
  });

  it('reads the three files when all are set; servers then require a client certificate', () => {
    const tls = readMutualTls(env());
    expect(tls?.ca.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.key.toString()).toContain('PRIVATE KEY');
    expect(serverTlsOptions(tls)).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(clientTlsOptions(tls)).toMatchObject({ rejectUnauthorized: true, cert: tls?.cert });
  });

  it.each<[string, Record<string, string | undefined>, string]>([
    [
      'only TLS_CA',
      { TLS_CERT: undefined, TLS_KEY: undefined },
      'TLS_CA, TLS_CERT, TLS_KEY must be set together to enable mutual TLS; TLS_CA set but TLS_CERT, TLS_KEY not',
    ],
    [
      'all but TLS_KEY',
      { TLS_KEY: '' },
      'TLS_CA, TLS_CERT, TLS_KEY must be set together to enable mutual TLS; TLS_CA, TLS_CERT set but TLS_KEY not',
    ],
  ])('rejects %s being set', (_case, overrides, message) => {
    const error = errorOf(overrides);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(message);
  });

  it('names the variable and the path of a file that cannot be read', () => {
    const missing = join(certificates.dir, 'missing.crt');
    expect((errorOf({ TLS_CERT: missing }) as Error).message).toBe(
      `TLS_CERT must be a readable file, got "${missing}" (ENOENT)`,
    );
    expect((errorOf({ TLS_KEY: certificates.dir }) as Error).message).toBe(
      `TLS_KEY must be a readable file, got "${certificates.dir}" (EISDIR)`,
    );
  });

  it('rejects a CA or certificate file that holds no PEM certificate', () => {
    const garbage = join(certificates.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    expect(errorOf({ TLS_CA: garbage })).toBeInstanceOf(EnvironmentError);
    expect((errorOf({ TLS_CA: garbage }) as Error).message).toMatch(
      /^TLS_CA must hold a PEM certificate: /,
    );
    // A private key is not a certificate either.
    const keyAsCert = join(certificates.dir, 'key-as-cert.pem');
    copyFileSync(files.key, keyAsCert);
    expect((errorOf({ TLS_CERT: keyAsCert }) as Error).message).toMatch(
      /^TLS_CERT must hold a PEM certificate: /,
    );
  });

  it('rejects a TLS_CA that is not a CA certificate', () => {
    expect((errorOf({ TLS_CA: files.cert }) as Error).message).toBe(
      'TLS_CA must hold a CA certificate, got one for "CN=env-peer" that is not a CA',
    );
  });

  it('rejects a key that is not the certificate’s', () => {
    expect((errorOf({ TLS_KEY: foreignKey }) as Error).message).toMatch(
      /^TLS_KEY must be the PEM private key of the certificate in TLS_CERT: .*key values mismatch/,
    );
  });

  describe('logRefusedHandshakes', () => {
    type Listener = (error: Error, socket: TLSSocket) => void;
    const endpoint = () => {
      const listeners: Listener[] = [];
      return {
        listeners,
        on: (_event: 'tlsClientError', listener: Listener) => listeners.push(listener),
      };
    };

    it('listens only when TLS is on', () => {
      const server = endpoint();
      logRefusedHandshakes(server, { warn: jest.fn() }, null);
      expect(server.listeners).toEqual([]);
    });

    it('logs the peer and the reason: the certificate check, or else the error code', () => {
      const server = endpoint();
      const warn = jest.fn();
      logRefusedHandshakes(server, { warn }, readMutualTls(env()));
      const [listener] = server.listeners;
      const plainTcp = Object.assign(new Error('wrong version number'), {
        code: 'ERR_SSL_WRONG_VERSION_NUMBER',
      });
      listener(plainTcp, { remoteAddress: '127.0.0.1', remotePort: 4242 } as TLSSocket);
      listener(new Error('socket hang up'), {
        authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      } as unknown as TLSSocket);
      expect(warn.mock.calls).toEqual([
        [
          'Refused a connection from 127.0.0.1:4242 in the TLS handshake (ERR_SSL_WRONG_VERSION_NUMBER)',
        ],
        ['Refused a connection in the TLS handshake (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
      ]);
    });
  });
});

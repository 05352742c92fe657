import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { TestCertificates, type TlsFiles } from '../../../../test/fixtures/test-certificates.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { resolveTargetTlsOptions } from './target-tls-options.js';

describe('resolveTargetTlsOptions', () => {
  let certificates: TestCertificates;
  let files: TlsFiles;

  beforeAll(() => {
    certificates = new TestCertificates();
    files = certificates.issue(certificates.authority('unit-ca'), 'unit-peer');
  });

  afterAll(() => certificates.remove());

  const pem = () => ({
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
  });

  it('leaves a plain TCP target plain', () => {
    expect(resolveTargetTlsOptions(undefined, '127.0.0.1:1')).toBeUndefined();
  });

  it('keeps the options and adds the secure context built while checking them', () => {
    const options = { ...pem(), servername: 'localhost' };
    const resolved = resolveTargetTlsOptions(options, '127.0.0.1:1');
    expect(resolved).toMatchObject(options);
    expect(resolved?.secureContext?.context).toBeDefined();
  });

  it('uses a secure context the caller made as it is', () => {
    const secureContext = createSecureContext(pem());
    const options = { secureContext };
    expect(resolveTargetTlsOptions(options, '127.0.0.1:1')).toBe(options);
  });

  it.each<[string, unknown, RegExp]>([
    ['a string', 'tls', /expected an object of Node TLS connection options, got tls/],
    ['null', null, /expected an object of Node TLS connection options, got null/],
    ['an array', [], /expected an object of Node TLS connection options/],
    ['a host', { host: '10.0.0.1' }, /"host" is not allowed: the target connects to its own host/],
    ['a socket', { socket: {} }, /"socket" is not allowed/],
    [
      'a CA that is not PEM',
      { ca: 'not a certificate' },
      /^Invalid tlsOptions for heartbeat target tm-1:6123: /,
    ],
    [
      'a key that is not PEM',
      { key: 'not a key' },
      /^Invalid tlsOptions for heartbeat target tm-1:6123: /,
    ],
  ])(
    'rejects %s with a HeartbeatConfigurationError naming the target',
    (_case, options, message) => {
      const resolve = () => resolveTargetTlsOptions(options as ConnectionOptions, 'tm-1:6123');
      expect(resolve).toThrow(HeartbeatConfigurationError);
      expect(resolve).toThrow(message);
    },
  );

  it('rejects a key that does not belong to the certificate', () => {
    const other = certificates.issue(certificates.authority('other-ca'), 'other-peer');
    const resolve = () =>
      resolveTargetTlsOptions({ ...pem(), key: readFileSync(other.key) }, 'tm-1:6123');
    expect(resolve).toThrow(
      /Invalid tlsOptions for heartbeat target tm-1:6123: .*key values mismatch/,
    );
  });
});

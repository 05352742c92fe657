import { Inject, Injectable } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import type { ConnectionOptions } from 'node:tls';
import { closeTcpClient } from './close-tcp-client.js';
import { resolveTargetTlsOptions } from './target-tls-options.js';
import { HeartbeatConfigurationError } from '../../core/heartbeat-configuration.js';
import type { HeartbeatTarget } from '../../core/heartbeat-target.interface.js';
import { HEARTBEAT_RESOLVED_OPTIONS } from '../heartbeat.constants.js';
import {
  requireName,
  requireRequestTimeout,
  type ResolvedHeartbeatOptions,
} from '../heartbeat-options.validation.js';
import {
  ClientProxyHeartbeatTarget,
  type HeartbeatClient,
} from './client-proxy-heartbeat-target.js';

/** Where and how {@link HeartbeatTargetFactory.createTcpTarget} connects: the peer's endpoint and manager. */
export interface TcpHeartbeatTargetOptions {
  readonly host: string;
  readonly port: number;
  /** Name of the manager on the far side that takes these heartbeats. */
  readonly remoteManager: string;
  /**
   * Node TLS connection options (`ca`, `cert`, `key`, `servername`, ...): when given, the target
   * connects over TLS, verifying the server's certificate (unless `rejectUnauthorized: false`) and
   * presenting `cert` for mutual TLS. Checked when the target is made: a CA, certificate or key that
   * cannot be used fails `createTcpTarget` with a `HeartbeatConfigurationError`.
   */
  readonly tlsOptions?: ConnectionOptions;
  /** Overrides the module's `requestTimeout` for this target. */
  readonly requestTimeout?: number;
}

/** Makes heartbeat targets that speak the library's wire format through Nest clients. */
@Injectable()
export class HeartbeatTargetFactory {
  /**
   * Nest makes the factory, from the module's resolved options.
   * @internal
   */
  constructor(
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) private readonly options: ResolvedHeartbeatOptions,
  ) {}

  /** A target at host:port over Nest's TCP transport. It owns its client and closes it when disposed. */
  createTcpTarget<O = unknown>(target: TcpHeartbeatTargetOptions): HeartbeatTarget<O> {
    const { host, port, remoteManager, tlsOptions, requestTimeout } = target;
    if (typeof host !== 'string' || host.length === 0) {
      throw new HeartbeatConfigurationError(
        `Heartbeat target host must be a non-empty string, got ${JSON.stringify(host)}`,
        [{ setting: 'host', rule: 'a non-empty string', value: host }],
      );
    }
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new HeartbeatConfigurationError(
        `Heartbeat target port must be an integer from 1 to 65535, got ${String(port)}`,
        [{ setting: 'port', rule: 'an integer from 1 to 65535', value: port }],
      );
    }
    const settings = this.targetSettings(remoteManager, requestTimeout);
    const client = new ClientTCP({
      host,
      port,
      tlsOptions: resolveTargetTlsOptions(tlsOptions, `${host}:${port}`),
      ...this.options.clientLimits,
    });
    return new ClientProxyHeartbeatTarget<O>(withHardClose(client), {
      ...settings,
      closeClientOnDispose: true,
      recipient: `${host}:${port}`,
    });
  }

  /** A target over a client the app owns (and closes itself), e.g. one it also uses for other messages. */
  fromClient<O = unknown>(
    client: HeartbeatClient,
    remoteManager: string,
    options: { requestTimeout?: number; recipient?: string } = {},
  ): HeartbeatTarget<O> {
    const settings = this.targetSettings(remoteManager, options.requestTimeout);
    return new ClientProxyHeartbeatTarget<O>(client, {
      ...settings,
      closeClientOnDispose: false,
      recipient: options.recipient ?? remoteManager,
    });
  }

  private targetSettings(remoteManager: string, requestTimeout = this.options.requestTimeout) {
    requireName('remoteManager', remoteManager);
    requireRequestTimeout('requestTimeout', requestTimeout);
    return { remoteManager, requestTimeout };
  }
}

function withHardClose(client: ClientTCP): HeartbeatClient {
  return {
    send: (pattern, data) => client.send(pattern, data),
    close: () => closeTcpClient(client),
  };
}

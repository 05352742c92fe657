import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConnectionOptions } from 'node:tls';
import type { Clock, Scheduler } from '../core/clock.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { timeSourcesOf } from '../core/heartbeat-services.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import {
  ClientProxyHeartbeatTarget,
  type HeartbeatClient,
} from '../transport/client-proxy-heartbeat-target.js';
import { resolveTargetTlsOptions } from '../transport/target-tls-options.js';
import { TcpHeartbeatTarget } from '../transport/tcp-heartbeat-target.js';
import { HEARTBEAT_LOGGER_CONTEXT, HEARTBEAT_RESOLVED_OPTIONS } from './heartbeat.constants.js';
import {
  requireName,
  requireRequestTimeout,
  type ResolvedHeartbeatOptions,
} from './heartbeat-options.validation.js';

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

/** Makes heartbeat targets that speak the library's wire format. */
@Injectable()
export class HeartbeatTargetFactory {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;

  /**
   * Nest makes the factory, from the module's resolved options.
   * @internal
   */
  constructor(
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) private readonly options: ResolvedHeartbeatOptions,
  ) {
    // The managers' time: request timeouts follow a ManualClock in tests too.
    ({ clock: this.clock, scheduler: this.scheduler } = timeSourcesOf(options));
  }

  /**
   * A target at host:port over TCP (or TLS), on a connection of its own that it opens on first use
   * and ends when disposed. Any Nest TCP microservice that imports `HeartbeatModule` takes its
   * heartbeats, and answers in the replies.
   */
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
    return new TcpHeartbeatTarget<O>({
      host,
      port,
      ...settings,
      tlsOptions: resolveTargetTlsOptions(tlsOptions, `${host}:${port}`),
      limits: this.options.clientLimits,
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
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

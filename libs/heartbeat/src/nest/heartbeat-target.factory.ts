import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ConnectionOptions } from 'node:tls';
import type { Clock, Scheduler } from '../core/clock.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import { timeSourcesOf } from '../core/heartbeat-services.js';
import type { HeartbeatTarget } from '../core/heartbeat-target.interface.js';
import {
  checkBrokerClientOptions,
  type BrokerClientOptions,
} from '../transport/broker-client-options.js';
import { BrokerClients } from '../transport/broker-clients.js';
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

/**
 * Where and how {@link HeartbeatTargetFactory.createBrokerTarget} reaches its recipient: through
 * a NATS or Redis broker, addressed to the recipient's resource id.
 */
export interface BrokerHeartbeatTargetOptions {
  /**
   * Nest's client options of the broker, e.g. `{ transport: Transport.NATS, options: { servers:
   * 'nats://10.0.0.5:4222' } }` or `{ transport: Transport.REDIS, options: { host, port } }`.
   * Targets made with the same object share one client (one connection to the broker), which the
   * factory makes, and closes when the last of them is disposed (or the application shuts down).
   */
  readonly client: BrokerClientOptions;
  /**
   * The resource id of the manager that takes these heartbeats, the id the sender monitors it
   * under: the RPCs go to the subjects (channels) addressed to it, which only its application
   * answers, e.g. `heartbeat.request.tm-1`.
   */
  readonly recipientId: string;
  /** Name of the manager on the far side that takes these heartbeats. */
  readonly remoteManager: string;
  /** Overrides the module's `requestTimeout` for this target. */
  readonly requestTimeout?: number;
}

/** Makes heartbeat targets that speak the library's wire format. */
@Injectable()
export class HeartbeatTargetFactory implements OnApplicationShutdown {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly brokerClients = new BrokerClients(this.logger);

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

  /**
   * A target reached through a NATS or Redis broker: its RPCs are published to the patterns
   * addressed to `recipientId` (`heartbeat.request.<id>`), which only the recipient's application
   * answers (every application importing `HeartbeatModule` answers those of its managers' ids on
   * each of its transport servers), so a heartbeat reaches its recipient alone, not every
   * subscriber. The receiver stays an ordinary Nest microservice on that broker
   * (`Transport.NATS`, `Transport.REDIS`) that imports `HeartbeatModule`.
   *
   * What it can tell: a request nobody subscribes to (NATS's "no responders": the recipient's
   * process is not connected) counts as the recipient unreachable, as a refused TCP connection
   * does; over Redis, where a message nobody receives is dropped silently, it is a timeout. A
   * failure to reach the broker (refused, reset, reconnecting) says nothing of the recipient and
   * does not count: while the broker is away the targets are lost by their timeout only. A hung
   * recipient is a timeout, as over TCP.
   *
   * The options are checked when the target is made: a transport other than NATS or Redis, or
   * options that cannot be right (servers, host, port), throw a `HeartbeatConfigurationError`.
   */
  createBrokerTarget<O = unknown>(target: BrokerHeartbeatTargetOptions): HeartbeatTarget<O> {
    const { client, recipientId, remoteManager, requestTimeout } = target ?? {};
    const broker = checkBrokerClientOptions(client);
    requireName('recipientId', recipientId);
    const settings = this.targetSettings(remoteManager, requestTimeout);
    return new ClientProxyHeartbeatTarget<O>(this.brokerClients.lease(client, broker), {
      ...settings,
      closeClientOnDispose: true, // releases this target's lease on the shared client
      recipient: recipientId,
      broker: { recipientId, broker },
    });
  }

  /**
   * Nest calls it when the application shuts down: it closes the broker clients still open (their
   * targets' managers are stopped by then) and waits for those being closed, so that no
   * connection outlives the application.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.brokerClients.closeAll();
  }

  private targetSettings(remoteManager: string, requestTimeout = this.options.requestTimeout) {
    requireName('remoteManager', remoteManager);
    requireRequestTimeout('requestTimeout', requestTimeout);
    return { remoteManager, requestTimeout };
  }
}

import type { Clock, Scheduler } from '../../core/clock.js';
import type { HeartbeatConfiguration } from '../../core/heartbeat-configuration.js';
import type { HeartbeatMetricsOptions } from '../../metrics/interfaces/heartbeat-metrics-options.interface.js';
import type { HeartbeatClientLimits } from '../../transport/heartbeat-wire.js';

/** A manager's role: a `sender` requests heartbeats every interval, a `receiver` answers them. */
export type HeartbeatRole = 'sender' | 'receiver';

/** Runtime options (may come from `forRootAsync`'s factory). */
export interface HeartbeatModuleOptions extends Partial<HeartbeatConfiguration> {
  /** This process's id, sent as the origin of every heartbeat. */
  readonly resourceId: string;
  /** How long one heartbeat RPC may take before it fails (not counted as unreachable). Default 10,000 ms. */
  readonly requestTimeout?: number;
  /** Frame limits of the TCP clients the library opens to heartbeat targets (defaults: `HEARTBEAT_FRAME_LIMITS`). */
  readonly clientLimits?: HeartbeatClientLimits;
  /** Time source and timer scheduler; replace them with a `ManualClock` in tests. */
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  /**
   * Prometheus metrics of the managers, with prom-client (an optional peer: install it to use
   * them): `true` for the defaults, or their options. Off by default, and then prom-client is
   * never loaded.
   */
  readonly metrics?: boolean | HeartbeatMetricsOptions;
}

/** One named manager; settings given here override the module-wide ones. */
export interface HeartbeatManagerDefinition extends Partial<HeartbeatConfiguration> {
  readonly role: HeartbeatRole;
  /** The origin this manager sends, if it differs from the module's `resourceId`. */
  readonly resourceId?: string;
}

/**
 * Static part of the module definition, known when the module is imported (also with
 * `forRootAsync`): the managers to create, by name.
 */
export interface HeartbeatModuleExtras {
  readonly managers: Readonly<Record<string, HeartbeatRole | HeartbeatManagerDefinition>>;
  readonly isGlobal?: boolean;
}

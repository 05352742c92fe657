/** What the soak's monitor (src/soak/soak.ts) and its target hosts (target-host.ts) share. */

/** The monitor's sender manager, which the targets answer. */
export const MONITOR_MANAGER = 'targets';
/** Each target's receiver manager, which the monitor asks for heartbeats. */
export const TARGET_MANAGER = 'monitor';
export const MONITOR_ID = 'soak-monitor';

export interface HostedTarget {
  readonly id: string;
  readonly port: number;
}

/** A target host's one message to the monitor, once all its targets listen. */
export interface HostReady {
  readonly type: 'ready';
  readonly targets: HostedTarget[];
}

// The framework-free core's public part; the package entry point (../index.ts) re-exports it.
// Everything not named here (the per-target monitor, the stall guard, defaults, helpers) is internal.
export type { Cancellable, Clock, Scheduler } from './clock.js';
export { ManualClock } from './manual-clock.js';
export {
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type HeartbeatConfigurationProblem,
  type ResolvedHeartbeatConfiguration,
} from './heartbeat-configuration.js';
export type { HeartbeatTarget } from './heartbeat-target.interface.js';
export type { HeartbeatListener, HeartbeatLogger } from './heartbeat-listener.interface.js';
export type { HeartbeatManager } from './heartbeat-manager.interface.js';
export { HeartbeatReceiverManager } from './heartbeat-receiver-manager.js';
export { HeartbeatSenderManager } from './heartbeat-sender-manager.js';
export { HeartbeatServices, type HeartbeatEnvironment } from './heartbeat-services.js';
export { RecipientUnreachableError } from './recipient-unreachable.error.js';

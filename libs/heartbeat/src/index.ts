// The public surface, named one by one: anything not exported here is internal. Each export is
// documented at its declaration and listed in the README ("Everything exported"); tests check both.

// Framework-free core (Flink's types)
export type { Cancellable, Clock, Scheduler } from './core/clock.js';
export { ManualClock } from './core/manual-clock.js';
export {
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
  type HeartbeatConfigurationProblem,
  type HeartbeatDetector,
  type PhiAccrualDetectorOptions,
  type ResolvedHeartbeatConfiguration,
  type ResolvedPhiAccrualDetector,
} from './core/heartbeat-configuration.js';
export type { HeartbeatAnswer, HeartbeatTarget } from './core/heartbeat-target.interface.js';
export type { AnswerAdmission, AnswerAdmissionOutcome } from './core/heartbeat-receiver-manager.js';
export type { HeartbeatListener, HeartbeatLogger } from './core/heartbeat-listener.interface.js';
export type { HeartbeatManager } from './core/heartbeat-manager.interface.js';
// Types only: managers are made by HeartbeatServices, the one door (their constructors are internal).
export type { HeartbeatReceiverManager } from './core/heartbeat-receiver-manager.js';
export type { HeartbeatSenderManager } from './core/heartbeat-sender-manager.js';
export {
  HeartbeatServices,
  type HeartbeatEnvironment,
  type HeartbeatReceiverOptions,
  type HeartbeatSenderOptions,
} from './core/heartbeat-services.js';
export type {
  HeartbeatChangeEvent,
  HeartbeatEvent,
  HeartbeatEventType,
  HeartbeatReceivedEvent,
  HeartbeatRejectedEvent,
  HeartbeatRejectionReason,
  HeartbeatRpcFailedEvent,
  HeartbeatRpcFailureKind,
  ProcessStalledEvent,
  TargetMonitoredEvent,
  TargetTimedOutEvent,
  TargetUnmonitoredEvent,
  TargetUnreachableEvent,
} from './core/heartbeat-events.js';
export { RecipientUnreachableError } from './core/recipient-unreachable.error.js';

// Nest integration
export { HeartbeatModule } from './nest/heartbeat.module.js';
export { HeartbeatRegistry } from './nest/heartbeat.registry.js';
export {
  HeartbeatTargetFactory,
  type BrokerHeartbeatTargetOptions,
  type TcpHeartbeatTargetOptions,
} from './nest/heartbeat-target.factory.js';
export type { BrokerClientOptions } from './transport/broker-client-options.js';
export {
  ClientProxyHeartbeatTarget,
  type ClientProxyHeartbeatTargetOptions,
  type HeartbeatClient,
} from './transport/client-proxy-heartbeat-target.js';
export { closeTcpClient } from './transport/close-tcp-client.js';
export {
  createCheckedJsonSocket,
  type CheckedJsonSocketOptions,
} from './transport/checked-json-socket.js';
export {
  HEARTBEAT_FRAME_LIMITS,
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  heartbeatFrameLength,
  type HeartbeatAck,
  type HeartbeatClientLimits,
  type HeartbeatMessage,
} from './transport/heartbeat-wire.js';
export { addressedHeartbeatPattern } from './transport/addressed-patterns.js';
export {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  OnTargetLost,
  OnTargetUnreachable,
  ProvideHeartbeatPayload,
} from './nest/decorators/heartbeat-handler.decorator.js';
export { InjectHeartbeatManager } from './nest/decorators/inject-heartbeat-manager.decorator.js';
export { getHeartbeatManagerToken } from './nest/heartbeat.constants.js';
export { acceptHeartbeat, type AcceptedHeartbeat } from './nest/accepted-heartbeat.js';
export type {
  IncomingHeartbeat,
  IncomingHeartbeatVerdict,
  TargetLossReason,
} from './nest/interfaces/heartbeat-handler.interface.js';
export type {
  HeartbeatManagerDefinition,
  HeartbeatModuleOptions,
  HeartbeatRole,
} from './nest/interfaces/heartbeat-module-options.interface.js';

// Observability: Prometheus metrics (prom-client, an optional peer) and a terminus health indicator
export { HeartbeatMetrics } from './metrics/heartbeat-metrics.js';
export type {
  HeartbeatMetricsBuckets,
  HeartbeatMetricsOptions,
  HeartbeatMetricsRegistry,
  HeartbeatMetricsSources,
  PromClientModule,
} from './metrics/interfaces/heartbeat-metrics-options.interface.js';
export { HeartbeatHealthIndicator } from './health/heartbeat-health.indicator.js';
export type {
  HeartbeatHealth,
  HeartbeatHealthCheckOptions,
  HeartbeatHealthIndicatorResult,
  HeartbeatStall,
} from './health/interfaces/heartbeat-health.interface.js';

// Framework-free core (Flink's types)
export * from './core/index.js';

// Nest integration
export { HeartbeatModule } from './nest/heartbeat.module.js';
export { HeartbeatRegistry } from './nest/heartbeat.registry.js';
export {
  HeartbeatTargetFactory,
  type TcpHeartbeatTargetOptions,
} from './nest/transport/heartbeat-target.factory.js';
export {
  ClientProxyHeartbeatTarget,
  type ClientProxyHeartbeatTargetOptions,
  type HeartbeatClient,
} from './nest/transport/client-proxy-heartbeat-target.js';
export { isConnectionFailure } from './nest/transport/connection-failure.js';
export { closeTcpClient } from './nest/transport/close-tcp-client.js';
export {
  createCheckedJsonSocket,
  HEARTBEAT_FRAME_LIMITS,
  type CheckedJsonSocketOptions,
} from './nest/transport/checked-json-socket.js';
export {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  type HeartbeatAck,
  type HeartbeatMessage,
} from './nest/transport/heartbeat-wire.js';
export {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  OnTargetUnreachable,
  ProvideHeartbeatPayload,
} from './nest/decorators/heartbeat-handler.decorator.js';
export { InjectHeartbeatManager } from './nest/decorators/inject-heartbeat-manager.decorator.js';
export { getHeartbeatManagerToken, HEARTBEAT_MODULE_OPTIONS } from './nest/heartbeat.constants.js';
export type { IncomingHeartbeat } from './nest/interfaces/heartbeat-handler.interface.js';
export type {
  HeartbeatClientLimits,
  HeartbeatManagerDefinition,
  HeartbeatModuleExtras,
  HeartbeatModuleOptions,
  HeartbeatRole,
} from './nest/interfaces/heartbeat-module-options.interface.js';

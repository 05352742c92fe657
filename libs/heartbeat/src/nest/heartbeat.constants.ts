/** Metadata key under which the handler decorators record what a method handles. */
export const HEARTBEAT_HANDLERS_METADATA = 'nestjs-heartbeat:handlers';
/** Injection token of the manager declarations given to `forRoot` / `forRootAsync`. */
export const HEARTBEAT_MANAGER_DEFINITIONS = Symbol('HEARTBEAT_MANAGER_DEFINITIONS');
/** Context used by the library's logger (defined with the transport, which logs too). */
export { HEARTBEAT_LOGGER_CONTEXT } from '../transport/heartbeat-wire.js';

/**
 * The injection token of the manager declared under `name` (what `@InjectHeartbeatManager(name)`
 * injects), e.g. for `app.get(getHeartbeatManagerToken('workers'))` or `moduleRef.get`.
 */
export function getHeartbeatManagerToken(name: string): string {
  return `HeartbeatManager:${name}`;
}
/** Injection token of the options given to `forRoot` / returned by `forRootAsync`'s factory. */
export const HEARTBEAT_MODULE_OPTIONS = Symbol('HEARTBEAT_MODULE_OPTIONS');
/** Injection token of the validated options, with defaults filled in. */
export const HEARTBEAT_RESOLVED_OPTIONS = Symbol('HEARTBEAT_RESOLVED_OPTIONS');
/** Injection token of the module's `HeartbeatMetrics`, or `null` when `metrics` is not enabled. */
export const HEARTBEAT_METRICS = Symbol('HEARTBEAT_METRICS');

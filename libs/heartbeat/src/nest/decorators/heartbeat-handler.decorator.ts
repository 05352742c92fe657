import type { MaybePromise } from '../../core/heartbeat-listener.interface.js';
import { HEARTBEAT_HANDLERS_METADATA } from '../heartbeat.constants.js';
import {
  HeartbeatHandlerKind,
  type HeartbeatHandlerMetadata,
  type IncomingHeartbeat,
  type IncomingHeartbeatVerdict,
  type TargetLossReason,
} from '../interfaces/heartbeat-handler.interface.js';

/** A method decorator that only accepts methods of the given signature. */
type HandlerDecorator<Handler> = <T extends Handler>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void;

/** Records metadata only; the explorer binds the method at start-up. A method may carry several. */
function heartbeatHandler<Handler>(
  kind: HeartbeatHandlerKind,
  manager: string,
): HandlerDecorator<Handler> {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const existing: HeartbeatHandlerMetadata[] =
      Reflect.getMetadata(HEARTBEAT_HANDLERS_METADATA, method) ?? [];
    Reflect.defineMetadata(HEARTBEAT_HANDLERS_METADATA, [...existing, { kind, manager }], method);
  };
}

/** Called with the target's id when no heartbeat arrived from it within the timeout. */
export const OnHeartbeatTimeout = (manager: string) =>
  heartbeatHandler<(resourceId: string) => MaybePromise<void>>(
    HeartbeatHandlerKind.Timeout,
    manager,
  );

/** Called with the target's id when `rpcFailureThreshold` consecutive RPCs could not reach it. */
export const OnTargetUnreachable = (manager: string) =>
  heartbeatHandler<(resourceId: string) => MaybePromise<void>>(
    HeartbeatHandlerKind.TargetUnreachable,
    manager,
  );

/**
 * Called with the target's id and the reason when it is lost, by timeout or as unreachable: one
 * handler for what `@OnHeartbeatTimeout` and `@OnTargetUnreachable` tell apart. Fires once per
 * monitor (a monitor is lost only once), after the handlers of the specific event.
 */
export const OnTargetLost = (manager: string) =>
  heartbeatHandler<(resourceId: string, reason: TargetLossReason) => MaybePromise<void>>(
    HeartbeatHandlerKind.TargetLost,
    manager,
  );

/**
 * Called with the target's id and the payload its heartbeat carried (never with a null payload):
 * the payload as the `@OnIncomingHeartbeat` handlers left it, so their parsed form when they
 * return `acceptHeartbeat(parsed)`.
 */
export const OnHeartbeatPayload = <I = never>(manager: string) =>
  heartbeatHandler<(resourceId: string, payload: I) => MaybePromise<void>>(
    HeartbeatHandlerKind.PayloadReceived,
    manager,
  );

/** Returns the payload to send with the next heartbeat to the target; one per manager. */
export const ProvideHeartbeatPayload = <O = unknown>(manager: string) =>
  heartbeatHandler<(resourceId: string) => MaybePromise<O | null | undefined>>(
    HeartbeatHandlerKind.PayloadToSend,
    manager,
  );

/**
 * The heartbeat-target side: vets every heartbeat RPC that arrives for the manager, over the
 * transport, before the manager sees it. See {@link IncomingHeartbeatVerdict}: return nothing (or
 * `true`) to accept, `false` to reject, `acceptHeartbeat(payload)` to accept with the payload
 * replaced (parse once, here); throw to reject with a reason. A rejected heartbeat gets an error
 * reply and does not count as a heartbeat.
 *
 * The handlers of a manager run one after the other, each seeing the payload the one before left;
 * the first that rejects stops the others. Within one class they run in the order its methods are
 * declared (a base class's after the subclass's own); across classes, in the order Nest's discovery
 * lists the providers and controllers, which is not part of the API: do not rely on it, but put a
 * parser and the checks that need its result in one class.
 */
export const OnIncomingHeartbeat = <I = never, P = unknown>(manager: string) =>
  heartbeatHandler<(heartbeat: IncomingHeartbeat<I>) => MaybePromise<IncomingHeartbeatVerdict<P>>>(
    HeartbeatHandlerKind.IncomingHeartbeat,
    manager,
  );

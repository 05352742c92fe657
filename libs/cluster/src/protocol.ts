/**
 * The messages between the sample ResourceManager and TaskManagers, besides heartbeats
 * (which the heartbeat library carries). Every message that arrives is checked by `parse*`.
 */

/** The ResourceManager's sender manager, which monitors TaskManagers. */
export const TASK_MANAGER_HEARTBEATS = 'taskManagers';
/** The TaskManager's receiver manager, which monitors the ResourceManager. */
export const RESOURCE_MANAGER_HEARTBEATS = 'resourceManager';

export const ResourceManagerPatterns = {
  register: 'rm.register-task-manager',
  unregister: 'rm.unregister-task-manager',
} as const;

export const TaskManagerPatterns = {
  allocateSlots: 'tm.allocate-slots',
  releaseSlots: 'tm.release-slots',
  disconnect: 'tm.disconnect',
} as const;

export interface SlotStatus {
  readonly index: number;
  readonly free: boolean;
  readonly allocationId: string | null;
  readonly jobId: string | null;
}

/** A TaskManager's heartbeat payload. `version` grows with every change, so late reports can be told apart. */
export interface SlotReport {
  readonly version: number;
  readonly slots: readonly SlotStatus[];
}

export interface RegistrationRequest {
  readonly taskManagerId: string;
  readonly host: string;
  readonly port: number;
  readonly slots: number;
}

export interface RegistrationResponse {
  readonly resourceManagerId: string;
  readonly fencingToken: string;
}

export interface UnregistrationRequest {
  readonly taskManagerId: string;
  readonly fencingToken: string;
}

export interface SlotAllocation {
  readonly slotIndex: number;
  readonly allocationId: string;
  readonly jobId: string;
}

export interface AllocateSlotsRequest {
  readonly fencingToken: string;
  readonly allocations: readonly SlotAllocation[];
}

export interface ReleaseSlotsRequest {
  readonly fencingToken: string;
  readonly jobId: string;
  /** Free only these allocations of the job (used to undo a failed allocation); all of the job's if absent. */
  readonly allocationIds?: readonly string[];
}

export interface DisconnectRequest {
  readonly fencingToken: string;
  readonly reason: string;
}

export const MAX_SLOTS = 1_024;

/** Thrown by the parsers; the message names the field at fault. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

type Fields = Record<string, unknown>;

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${what} must be an object`);
  }
  return value as Fields;
}

function text(fields: Fields, key: string, what: string, max = 128): string {
  const value = fields[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new ProtocolError(`${what}.${key} must be a string of 1 to ${max} characters`);
  }
  return value;
}

function integer(fields: Fields, key: string, what: string, min: number, max: number): number {
  const value = fields[key];
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new ProtocolError(`${what}.${key} must be an integer from ${min} to ${max}`);
  }
  return value as number;
}

export function parseRegistrationRequest(value: unknown): RegistrationRequest {
  const what = 'registration';
  const fields = object(value, what);
  return {
    taskManagerId: text(fields, 'taskManagerId', what),
    host: text(fields, 'host', what, 253),
    port: integer(fields, 'port', what, 1, 65_535),
    slots: integer(fields, 'slots', what, 1, MAX_SLOTS),
  };
}

export function parseRegistrationResponse(value: unknown): RegistrationResponse {
  const what = 'registration response';
  const fields = object(value, what);
  return {
    resourceManagerId: text(fields, 'resourceManagerId', what),
    fencingToken: text(fields, 'fencingToken', what),
  };
}

export function parseUnregistrationRequest(value: unknown): UnregistrationRequest {
  const what = 'unregistration';
  const fields = object(value, what);
  return {
    taskManagerId: text(fields, 'taskManagerId', what),
    fencingToken: text(fields, 'fencingToken', what),
  };
}

export function parseAllocateSlotsRequest(value: unknown): AllocateSlotsRequest {
  const what = 'slot allocation';
  const fields = object(value, what);
  const allocations = fields.allocations;
  if (!Array.isArray(allocations) || allocations.length === 0 || allocations.length > MAX_SLOTS) {
    throw new ProtocolError(`${what}.allocations must be an array of 1 to ${MAX_SLOTS} items`);
  }
  return {
    fencingToken: text(fields, 'fencingToken', what),
    allocations: allocations.map((item, i) => {
      const itemWhat = `${what}.allocations[${i}]`;
      const entry = object(item, itemWhat);
      return {
        slotIndex: integer(entry, 'slotIndex', itemWhat, 0, MAX_SLOTS - 1),
        allocationId: text(entry, 'allocationId', itemWhat),
        jobId: text(entry, 'jobId', itemWhat),
      };
    }),
  };
}

export function parseReleaseSlotsRequest(value: unknown): ReleaseSlotsRequest {
  const what = 'slot release';
  const fields = object(value, what);
  const request = {
    fencingToken: text(fields, 'fencingToken', what),
    jobId: text(fields, 'jobId', what),
  };
  const allocationIds = fields.allocationIds;
  if (allocationIds === undefined) {
    return request;
  }
  if (
    !Array.isArray(allocationIds) ||
    allocationIds.length > MAX_SLOTS ||
    allocationIds.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 128)
  ) {
    throw new ProtocolError(
      `${what}.allocationIds must be an array of at most ${MAX_SLOTS} strings of 1 to 128 characters`,
    );
  }
  return { ...request, allocationIds: allocationIds as string[] };
}

export function parseDisconnectRequest(value: unknown): DisconnectRequest {
  const what = 'disconnect';
  const fields = object(value, what);
  return {
    fencingToken: text(fields, 'fencingToken', what),
    reason: text(fields, 'reason', what, 1_000),
  };
}

export function parseSlotReport(value: unknown): SlotReport {
  const what = 'slot report';
  const fields = object(value, what);
  const slots = fields.slots;
  if (!Array.isArray(slots) || slots.length > MAX_SLOTS) {
    throw new ProtocolError(`${what}.slots must be an array of at most ${MAX_SLOTS} items`);
  }
  return {
    version: integer(fields, 'version', what, 0, Number.MAX_SAFE_INTEGER),
    slots: slots.map((item, i) => {
      const itemWhat = `${what}.slots[${i}]`;
      const slot = object(item, itemWhat);
      const free = slot.free;
      if (typeof free !== 'boolean') {
        throw new ProtocolError(`${itemWhat}.free must be a boolean`);
      }
      return {
        index: integer(slot, 'index', itemWhat, 0, MAX_SLOTS - 1),
        free,
        allocationId: free ? null : text(slot, 'allocationId', itemWhat),
        jobId: free ? null : text(slot, 'jobId', itemWhat),
      };
    }),
  };
}

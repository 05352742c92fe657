/**
 * The messages between the sample ResourceManager and TaskManagers, declared as zod schemas: every
 * message that arrives is checked against its schema (see `MessageShape` and `parseMessage`), and
 * the TypeScript types are inferred from them. Objects are strict (unknown fields are rejected),
 * strings and arrays bounded.
 */
import { randomUUID } from 'node:crypto';
import { heartbeatFrameLength } from 'nestjs-heartbeat';
import { z } from 'zod';
import { ID_PATTERN } from './env.js';
import { fencingTokenSchema } from './ha/fencing-token.js';

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

export const MAX_SLOTS = 1_024;
export const MAX_TEXT_LENGTH = 128;
const MAX_HOST_LENGTH = 253;
const MAX_REASON_LENGTH = 1_000;
/** Longest rejection reason logged and sent back. */
const MAX_REJECTION_LENGTH = 300;

const text = (max = MAX_TEXT_LENGTH) => z.string().min(1).max(max);
const id = () =>
  z.string().regex(ID_PATTERN, `must be 1 to ${MAX_TEXT_LENGTH} characters of A-Z a-z 0-9 . _ : -`);
const integer = (min: number, max: number) => z.int().min(min).max(max);
/**
 * A registration's credential, which the ResourceManager hands out: the secret both sides prove
 * themselves with. An id, so that JSON never escapes it and `largestTaskManagerFrame` holds. (The
 * fencing token, which leadership a message comes from, is a number: see `fencingTokenSchema`.)
 */
const token = () => id();

export const slotStatusSchema = z.discriminatedUnion('free', [
  z.strictObject({
    index: integer(0, MAX_SLOTS - 1),
    free: z.literal(true),
    allocationId: z.null(),
    jobId: z.null(),
  }),
  z.strictObject({
    index: integer(0, MAX_SLOTS - 1),
    free: z.literal(false),
    allocationId: id(),
    jobId: id(),
  }),
]);
export type SlotStatus = z.infer<typeof slotStatusSchema>;

/** A TaskManager's slots. `version` grows with every change, so late reports can be told apart. */
export const slotReportSchema = z.strictObject({
  version: integer(0, Number.MAX_SAFE_INTEGER),
  slots: z.array(slotStatusSchema).max(MAX_SLOTS),
});
export type SlotReport = z.infer<typeof slotReportSchema>;

/** What is wrong with a TaskManager's slot report for its `slotsNumber` slots, if anything. */
export function slotReportProblem(report: SlotReport, slotsNumber: number): string | undefined {
  const wellFormed =
    report.slots.length === slotsNumber && report.slots.every((slot, i) => slot.index === i);
  return wellFormed ? undefined : `its slot report must list its ${slotsNumber} slots in order`;
}

export const registrationRequestSchema = z.strictObject({
  taskManagerId: id(),
  host: text(MAX_HOST_LENGTH),
  port: integer(1, 65_535),
  slots: integer(1, MAX_SLOTS),
  /** The credential of its previous registration, if it has one: needed to replace a live registration. */
  credential: token().optional(),
  /**
   * Its slots as they are: a TaskManager registering with a new leader (or a restarted
   * ResourceManager) brings the allocations it holds, so none is lost or allocated twice.
   */
  slotReport: slotReportSchema.optional(),
});
export type RegistrationRequest = z.infer<typeof registrationRequestSchema>;

export const registrationResponseSchema = z.strictObject({
  resourceManagerId: id(),
  fencingToken: fencingTokenSchema,
  /** New for every registration; the TaskManager proves with it that its heartbeats are its own. */
  credential: token(),
});
export type RegistrationResponse = z.infer<typeof registrationResponseSchema>;

export const unregistrationRequestSchema = z.strictObject({
  taskManagerId: id(),
  fencingToken: fencingTokenSchema,
  credential: token(),
});
export type UnregistrationRequest = z.infer<typeof unregistrationRequestSchema>;

/**
 * Which JobMaster a slot allocation is for, as the ResourceManager tells the TaskManager: the
 * TaskManager then watches that JobMaster with its `jobMasters` receiver, accepts its heartbeats
 * only with this secret, and frees the job's slots if the JobMaster is lost.
 */
export const slotOwnerSchema = z.strictObject({
  jobMasterId: id(),
  heartbeatSecret: id(),
});
export type SlotOwner = z.infer<typeof slotOwnerSchema>;

export const slotAllocationSchema = z.strictObject({
  slotIndex: integer(0, MAX_SLOTS - 1),
  allocationId: id(),
  jobId: id(),
});
export type SlotAllocation = z.infer<typeof slotAllocationSchema>;

/**
 * Every message from the ResourceManager to a TaskManager (heartbeat requests, commands) says which
 * leadership (or ResourceManager start) sends it, and proves with the registration's credential that it is the one
 * the TaskManager registered with: the fencing token alone is no proof, anyone may register and learn it.
 */
const fromResourceManager = { fencingToken: fencingTokenSchema, credential: token() };

export const allocateSlotsRequestSchema = z.strictObject({
  ...fromResourceManager,
  allocations: z.array(slotAllocationSchema).min(1).max(MAX_SLOTS),
  /**
   * The JobMaster whose job every allocation of the command is for, once per command (so that an
   * allocation of every slot still fits the frames a slot report does); absent for slots allocated
   * over HTTP (`/slots/allocate`), which no JobMaster watches.
   */
  jobMaster: slotOwnerSchema.optional(),
});
export type AllocateSlotsRequest = z.infer<typeof allocateSlotsRequestSchema>;

export const releaseSlotsRequestSchema = z.strictObject({
  ...fromResourceManager,
  jobId: id(),
  /** Free only these allocations of the job (used to undo a failed allocation); all of the job's if absent. */
  allocationIds: z.array(id()).max(MAX_SLOTS).optional(),
});
export type ReleaseSlotsRequest = z.infer<typeof releaseSlotsRequestSchema>;

export const disconnectRequestSchema = z.strictObject({
  ...fromResourceManager,
  reason: text(MAX_REASON_LENGTH),
});
export type DisconnectRequest = z.infer<typeof disconnectRequestSchema>;

/** The payload of the ResourceManager's heartbeat requests. */
export const resourceManagerHeartbeatSchema = z.strictObject(fromResourceManager);
export type ResourceManagerHeartbeat = z.infer<typeof resourceManagerHeartbeatSchema>;

/** The payload of a TaskManager's heartbeats: whose registration it is, and its slots. */
export const taskManagerHeartbeatSchema = z.strictObject({
  fencingToken: fencingTokenSchema,
  credential: token(),
  slotReport: slotReportSchema,
});
export type TaskManagerHeartbeat = z.infer<typeof taskManagerHeartbeatSchema>;

/** Thrown when a message does not fit its schema; the message names the field at fault. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** "registration.slots: Too big: expected number to be <=1024", or "slot report.slots[2].index: …". */
export function describeIssue(what: string, issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('');
  // Paths and messages may quote the peer's keys: keep the reason short, it goes into a log line.
  return `${what}${path}: ${issue.message}`.slice(0, MAX_REJECTION_LENGTH);
}

/** Checks `value` against `schema`; throws a `ProtocolError` naming the first field at fault. */
export function parseMessage<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ProtocolError(describeIssue(what, parsed.error.issues[0]));
  }
  return parsed.data;
}

const longest = (length: number) => 'x'.repeat(length);
/** The widest fencing token: 20 digits (etcd's revisions are 64-bit). */
const WIDEST_TOKEN = '9'.repeat(20);

/** A slot report with every slot allocated and every string at its longest (ids: JSON never escapes them). */
function fullestSlotReport(slots: number): SlotReport {
  return {
    version: Number.MAX_SAFE_INTEGER,
    slots: Array.from({ length: slots }, () => ({
      index: MAX_SLOTS - 1, // the widest index
      free: false as const,
      allocationId: longest(MAX_TEXT_LENGTH),
      jobId: longest(MAX_TEXT_LENGTH),
    })),
  };
}

/**
 * Length in characters of the largest frame a TaskManager with `slots` slots can send: its
 * heartbeat or its registration (which carries its slot report too), every slot allocated and every
 * string at its longest. The frame limits of both the TaskManager and the ResourceManager must allow it.
 */
export function largestTaskManagerFrame(slots: number): number {
  const heartbeat: TaskManagerHeartbeat = {
    fencingToken: WIDEST_TOKEN,
    credential: longest(MAX_TEXT_LENGTH),
    slotReport: fullestSlotReport(slots),
  };
  const registration: RegistrationRequest = {
    taskManagerId: longest(MAX_TEXT_LENGTH),
    host: longest(MAX_HOST_LENGTH),
    port: 65_535,
    slots,
    credential: longest(MAX_TEXT_LENGTH),
    slotReport: fullestSlotReport(slots),
  };
  const registrationFrame = JSON.stringify({
    pattern: ResourceManagerPatterns.register,
    data: registration,
    id: randomUUID(),
  });
  return Math.max(
    heartbeatFrameLength({
      manager: TASK_MANAGER_HEARTBEATS,
      origin: longest(MAX_TEXT_LENGTH),
      payload: heartbeat,
    }),
    `${registrationFrame.length}#${registrationFrame}`.length,
  );
}

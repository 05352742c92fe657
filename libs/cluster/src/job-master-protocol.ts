/**
 * The messages of the JobMaster: with the ResourceManager (registration, slot requests, the
 * ResourceManager's `jobMasters` heartbeats) and with the TaskManagers that hold its slots (its
 * `taskManagers` heartbeats). Zod schemas as in `protocol.ts`: strict objects, bounded strings and
 * arrays, checked on arrival.
 *
 * Who heartbeats whom (Flink's triangle), by manager name in each process:
 * - ResourceManager: sender `jobMasters` → JobMaster: receiver `resourceManager`.
 * - JobMaster: sender `taskManagers` → TaskManager: receiver `jobMasters`.
 * - (unchanged) ResourceManager: sender `taskManagers` → TaskManager: receiver `resourceManager`.
 */
import { z } from 'zod';
import { ID_PATTERN } from './env.js';
import { fencingTokenSchema } from './ha/fencing-token.js';
import { MAX_SLOTS, MAX_TEXT_LENGTH } from './protocol.js';

/** The ResourceManager's second sender manager, which monitors JobMasters; also the TaskManager's receiver of them. */
export const JOB_MASTER_HEARTBEATS = 'jobMasters';

/** The most jobs one JobMaster runs (bounds its registration and heartbeat frames). */
export const MAX_JOBS_PER_JOB_MASTER = 256;
const MAX_HOST_LENGTH = 253;

/** The ResourceManager's TCP patterns for JobMasters (next to `ResourceManagerPatterns`). */
export const JobMasterToResourceManagerPatterns = {
  register: 'rm.register-job-master',
  unregister: 'rm.unregister-job-master',
  requestSlots: 'rm.request-slots',
  releaseSlots: 'rm.release-job-slots',
} as const;

const id = () =>
  z.string().regex(ID_PATTERN, `must be 1 to ${MAX_TEXT_LENGTH} characters of A-Z a-z 0-9 . _ : -`);
const integer = (min: number, max: number) => z.int().min(min).max(max);

export const jobMasterRegistrationRequestSchema = z.strictObject({
  jobMasterId: id(),
  host: z.string().min(1).max(MAX_HOST_LENGTH),
  port: integer(1, 65_535),
  /** The credential of its previous registration, if any: needed to replace a live registration. */
  credential: id().optional(),
  /**
   * The jobs it runs (registering with a new leader or a restarted ResourceManager): their slots
   * stay where they are, the TaskManagers report them, and the ResourceManager learns whose they are.
   */
  jobs: z.array(id()).max(MAX_JOBS_PER_JOB_MASTER),
});
export type JobMasterRegistrationRequest = z.infer<typeof jobMasterRegistrationRequestSchema>;
// The answer is a `RegistrationResponse` (resourceManagerId, fencingToken, credential), as for TaskManagers.

/** Every message of a JobMaster to the ResourceManager names it and proves its registration. */
const fromJobMaster = {
  jobMasterId: id(),
  fencingToken: fencingTokenSchema,
  credential: id(),
};

export const jobMasterUnregistrationRequestSchema = z.strictObject(fromJobMaster);
export type JobMasterUnregistrationRequest = z.infer<typeof jobMasterUnregistrationRequestSchema>;

/**
 * Slots for a job of this JobMaster: `count` more (a new job, or replacements after a loss). All or
 * nothing, as the HTTP `/slots/allocate`. `heartbeatSecret` goes with each allocation to its
 * TaskManager, which then accepts this JobMaster's heartbeats only if they carry it.
 */
export const slotRequestSchema = z.strictObject({
  ...fromJobMaster,
  jobId: id(),
  count: integer(1, MAX_SLOTS),
  heartbeatSecret: id(),
});
export type SlotRequest = z.infer<typeof slotRequestSchema>;

/** One granted slot, with where its TaskManager listens (the JobMaster heartbeats it there). */
export const grantedSlotSchema = z.strictObject({
  taskManagerId: id(),
  host: z.string().min(1).max(MAX_HOST_LENGTH),
  port: integer(1, 65_535),
  slotIndex: integer(0, MAX_SLOTS - 1),
  allocationId: id(),
});
export type GrantedSlot = z.infer<typeof grantedSlotSchema>;

/**
 * The answer to a slot request: the slots, or why the cluster cannot give them (not enough free
 * slots: the JobMaster answers 409 and, for replacements, asks again later). Errors of any other
 * kind (not the leader, not registered) come as error replies.
 */
export const slotRequestAnswerSchema = z.discriminatedUnion('granted', [
  z.strictObject({ granted: z.literal(true), slots: z.array(grantedSlotSchema).max(MAX_SLOTS) }),
  z.strictObject({ granted: z.literal(false), reason: z.string().min(1).max(1_000) }),
]);
export type SlotRequestAnswer = z.infer<typeof slotRequestAnswerSchema>;

/** Frees a job's slots everywhere, or only the given allocations of it. */
export const jobSlotReleaseRequestSchema = z.strictObject({
  ...fromJobMaster,
  jobId: id(),
  allocationIds: z.array(id()).max(MAX_SLOTS).optional(),
});
export type JobSlotReleaseRequest = z.infer<typeof jobSlotReleaseRequestSchema>;
export const jobSlotReleaseAnswerSchema = z.strictObject({
  released: integer(0, MAX_SLOTS * 1_000),
});
export type JobSlotReleaseAnswer = z.infer<typeof jobSlotReleaseAnswerSchema>;

// The ResourceManager's `jobMasters` heartbeat requests carry a `ResourceManagerHeartbeat`
// (fencing token and the JobMaster registration's credential), as its requests to TaskManagers do.

/** The JobMaster's answer to the ResourceManager's heartbeats: whose registration, and its jobs. */
export const jobMasterHeartbeatSchema = z.strictObject({
  fencingToken: fencingTokenSchema,
  credential: id(),
  jobs: z.array(id()).max(MAX_JOBS_PER_JOB_MASTER),
});
export type JobMasterHeartbeat = z.infer<typeof jobMasterHeartbeatSchema>;

/** One allocation a JobMaster holds on a TaskManager. */
export const heldSlotSchema = z.strictObject({
  jobId: id(),
  allocationId: id(),
  slotIndex: integer(0, MAX_SLOTS - 1),
});
export type HeldSlot = z.infer<typeof heldSlotSchema>;

/**
 * The payload of a JobMaster's heartbeat requests to a TaskManager: the secret its slot requests
 * gave that TaskManager (so no one else can speak for it), and every allocation it holds there.
 * The TaskManager frees the slots of this JobMaster's jobs that a heartbeat no longer lists.
 */
export const jobMasterToTaskManagerHeartbeatSchema = z.strictObject({
  heartbeatSecret: id(),
  slots: z.array(heldSlotSchema).max(MAX_SLOTS),
});
export type JobMasterToTaskManagerHeartbeat = z.infer<typeof jobMasterToTaskManagerHeartbeatSchema>;

/** A TaskManager's answer to a JobMaster's heartbeat: the slots it holds for that JobMaster's jobs. */
export const taskManagerToJobMasterHeartbeatSchema = z.strictObject({
  slots: z.array(heldSlotSchema).max(MAX_SLOTS),
});
export type TaskManagerToJobMasterHeartbeat = z.infer<typeof taskManagerToJobMasterHeartbeatSchema>;

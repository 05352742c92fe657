import {
  BadRequestException,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ID_PATTERN, JsonBody, MAX_SLOTS } from '#cluster';
import { ClusterViews } from './cluster-views.service.js';
import { ServedByStandby } from './leadership/leader-only.guard.js';
import { NotLeaderError } from './leadership/resource-manager-leadership.service.js';
import { JobMasterRegistrations } from './job-master-registrations.service.js';
import { SlotPool, SlotRequestError } from './slot-pool.service.js';

/**
 * The ResourceManager's HTTP API: what it knows of the cluster, and slot requests. Endpoints taking
 * a body read it with `@JsonBody()`: anything but a JSON object sent as application/json is refused.
 */
@Controller()
export class ClusterController {
  constructor(
    private readonly views: ClusterViews,
    private readonly slotPool: SlotPool,
    private readonly jobMasterRegistrations: JobMasterRegistrations,
  ) {}

  @Get('taskmanagers')
  taskManagers() {
    return { taskmanagers: this.views.list() };
  }

  @Get('taskmanagers/:id')
  taskManager(@Param('id') id: string) {
    const taskManager = this.views.find(id);
    if (!taskManager) {
      throw new NotFoundException(`No TaskManager with id ${id}`);
    }
    return taskManager;
  }

  @Get('jobmasters')
  jobMasters() {
    return { jobmasters: this.views.jobMasters() };
  }

  @Get('overview')
  @ServedByStandby()
  overview() {
    return this.views.overview();
  }

  @Post('slots/allocate')
  @HttpCode(200)
  async allocate(@JsonBody() body: Record<string, unknown>) {
    const { jobId, count } = body;
    const job = this.notAJobMastersJob(requireJobId(jobId));
    if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > MAX_SLOTS) {
      throw new BadRequestException(`count must be an integer from 1 to ${MAX_SLOTS}`);
    }
    return { allocations: await asConflict(this.slotPool.allocate(job, count as number)) };
  }

  @Post('slots/release')
  @HttpCode(200)
  async release(@JsonBody() body: Record<string, unknown>) {
    const job = this.notAJobMastersJob(requireJobId(body.jobId));
    return { released: await asConflict(this.slotPool.release(job)) };
  }

  /** A JobMaster's job is its own: slots for it come and go through that JobMaster only. */
  private notAJobMastersJob(jobId: string): string {
    const owner = this.jobMasterRegistrations.ownerOf(jobId);
    if (owner) {
      throw new ConflictException(`job ${jobId} is run by JobMaster ${owner.id}: ask it`);
    }
    return jobId;
  }
}

function requireJobId(jobId: unknown): string {
  if (typeof jobId !== 'string' || !ID_PATTERN.test(jobId)) {
    throw new BadRequestException('jobId must be 1 to 128 characters of A-Z a-z 0-9 . _ : -');
  }
  return jobId;
}

/**
 * A slot request the cluster cannot satisfy answers 409 with the reason; one that met the end of
 * this ResourceManager's leadership halfway answers 503 as a standby does.
 */
async function asConflict<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof NotLeaderError) {
      throw new ServiceUnavailableException({ error: 'not the leader', leader: error.leaderUrl });
    }
    throw error instanceof SlotRequestError ? new ConflictException(error.message) : error;
  }
}

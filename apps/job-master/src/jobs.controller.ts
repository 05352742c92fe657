import {
  BadRequestException,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ID_PATTERN, JsonBody, MAX_SLOTS } from '#cluster';
import {
  JobConflictError,
  JobsService,
  ResourceManagerError,
  UnknownJobError,
} from './jobs.service.js';
import { NotRegisteredError } from './resource-manager-link.service.js';

/**
 * The JobMaster's HTTP API: submit, inspect and delete jobs. The body of `POST /jobs` is read with
 * `@JsonBody()`: anything but a JSON object sent as application/json is refused (415, 400).
 */
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  /** 201 `{ jobId, slots }`; 409 if the id is taken or the cluster cannot give that many slots. */
  @Post()
  @HttpCode(201)
  async submit(@JsonBody() body: Record<string, unknown>) {
    const { jobId, slots } = body;
    if (typeof jobId !== 'string' || !ID_PATTERN.test(jobId)) {
      throw new BadRequestException('jobId must be 1 to 128 characters of A-Z a-z 0-9 . _ : -');
    }
    if (!Number.isInteger(slots) || (slots as number) < 1 || (slots as number) > MAX_SLOTS) {
      throw new BadRequestException(`slots must be an integer from 1 to ${MAX_SLOTS}`);
    }
    const unknown = Object.keys(body).filter((key) => key !== 'jobId' && key !== 'slots');
    if (unknown.length > 0) {
      throw new BadRequestException(`unknown field ${unknown[0]} (a job has jobId and slots)`);
    }
    const job = await asHttpError(this.jobs.submit(jobId, slots as number));
    return { jobId: job.jobId, slots: job.slots };
  }

  @Get()
  list() {
    return { jobs: this.jobs.list() };
  }

  /** `{ jobId, state: 'running' | 'restarting', slots }`. */
  @Get(':jobId')
  find(@Param('jobId') jobId: string) {
    const job = this.jobs.find(jobId);
    if (!job) {
      throw new NotFoundException(`No job with id ${jobId}`);
    }
    return job;
  }

  /** 200 `{ jobId, released }` once the ResourceManager released its slots. */
  @Delete(':jobId')
  @HttpCode(200)
  cancel(@Param('jobId') jobId: string) {
    return asHttpError(this.jobs.cancel(jobId));
  }
}

/** The jobs service's errors as HTTP answers: 404, 409, or 503 (no ResourceManager to ask now). */
async function asHttpError<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof UnknownJobError) {
      throw new NotFoundException(error.message);
    }
    if (error instanceof JobConflictError) {
      throw new ConflictException(error.message);
    }
    if (error instanceof NotRegisteredError || error instanceof ResourceManagerError) {
      throw new ServiceUnavailableException(error.message);
    }
    throw error;
  }
}

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
import { JobConflictError, JobsService } from './jobs.service.js';
import { NotRegisteredError } from './resource-manager-link.service.js';

/** The JobMaster's HTTP API: submit, inspect and cancel jobs. */
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

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
    try {
      const { slots: granted } = await this.jobs.submit(jobId, slots as number);
      return { jobId, slots: granted };
    } catch (error) {
      if (error instanceof JobConflictError) {
        throw new ConflictException(error.message);
      }
      if (error instanceof NotRegisteredError) {
        throw new ServiceUnavailableException(error.message);
      }
      throw error;
    }
  }

  @Get()
  list() {
    return { jobs: this.jobs.list() };
  }

  @Get(':jobId')
  find(@Param('jobId') jobId: string) {
    const job = this.jobs.find(jobId);
    if (!job) {
      throw new NotFoundException(`No job with id ${jobId}`);
    }
    return job;
  }

  @Delete(':jobId')
  async cancel(@Param('jobId') jobId: string) {
    const cancelled = await this.jobs.cancel(jobId);
    if (!cancelled) {
      throw new NotFoundException(`No job with id ${jobId}`);
    }
    return cancelled;
  }
}

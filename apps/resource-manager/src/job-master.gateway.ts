import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  describeError,
  JobMasterToResourceManagerPatterns,
  jobMasterRegistrationRequestSchema,
  jobMasterUnregistrationRequestSchema,
  jobSlotReleaseRequestSchema,
  MessageShape,
  orRpcError,
  slotRequestSchema,
  type JobMasterRegistrationRequest,
  type JobMasterUnregistrationRequest,
  type JobSlotReleaseAnswer,
  type JobSlotReleaseRequest,
  type RegistrationResponse,
  type SlotRequest,
  type SlotRequestAnswer,
} from '#cluster';
import { JobMasterRegistrations } from './job-master-registrations.service.js';
import { JobMasterSlots } from './job-master-slots.service.js';

/** The ResourceManager's TCP endpoint for JobMasters (heartbeats are handled by the library). */
@Controller()
export class JobMasterGateway {
  constructor(
    private readonly registrations: JobMasterRegistrations,
    private readonly slots: JobMasterSlots,
  ) {}

  @MessagePattern(JobMasterToResourceManagerPatterns.register)
  register(
    @Payload(new MessageShape(jobMasterRegistrationRequestSchema, 'job master registration'))
    request: JobMasterRegistrationRequest,
  ): RegistrationResponse {
    return orRpcError(() => this.registrations.register(request));
  }

  @MessagePattern(JobMasterToResourceManagerPatterns.unregister)
  unregister(
    @Payload(new MessageShape(jobMasterUnregistrationRequestSchema, 'job master unregistration'))
    request: JobMasterUnregistrationRequest,
  ): { released: boolean } {
    return { released: this.registrations.unregister(request) };
  }

  @MessagePattern(JobMasterToResourceManagerPatterns.requestSlots)
  requestSlots(
    @Payload(new MessageShape(slotRequestSchema, 'slot request')) request: SlotRequest,
  ): Promise<SlotRequestAnswer> {
    return orRpcErrorLater(() => this.slots.requestSlots(request));
  }

  @MessagePattern(JobMasterToResourceManagerPatterns.releaseSlots)
  releaseSlots(
    @Payload(new MessageShape(jobSlotReleaseRequestSchema, 'job slot release'))
    request: JobSlotReleaseRequest,
  ): Promise<JobSlotReleaseAnswer> {
    return orRpcErrorLater(() => this.slots.releaseSlots(request));
  }
}

/** `orRpcError` for an answer that comes later: the promise's failure becomes the error reply too. */
async function orRpcErrorLater<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await orRpcError(action);
  } catch (error) {
    throw error instanceof RpcException ? error : new RpcException(describeError(error));
  }
}

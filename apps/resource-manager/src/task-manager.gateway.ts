import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  MessageShape,
  orRpcError,
  registrationRequestSchema,
  ResourceManagerPatterns,
  unregistrationRequestSchema,
  type RegistrationRequest,
  type RegistrationResponse,
  type UnregistrationRequest,
} from '#cluster';
import { TaskManagerRegistrations } from './task-manager-registrations.service.js';

/** The ResourceManager's TCP endpoint for TaskManagers (heartbeats are handled by the library). */
@Controller()
export class TaskManagerGateway {
  constructor(private readonly registrations: TaskManagerRegistrations) {}

  @MessagePattern(ResourceManagerPatterns.register)
  register(
    @Payload(new MessageShape(registrationRequestSchema, 'registration'))
    request: RegistrationRequest,
  ): RegistrationResponse {
    return orRpcError(() => this.registrations.register(request));
  }

  @MessagePattern(ResourceManagerPatterns.unregister)
  unregister(
    @Payload(new MessageShape(unregistrationRequestSchema, 'unregistration'))
    request: UnregistrationRequest,
  ): { released: boolean } {
    return { released: this.registrations.unregister(request) };
  }
}

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
import { TaskManagerRegistry } from './task-manager-registry.service.js';

/** The ResourceManager's TCP endpoint for TaskManagers (heartbeats are handled by the library). */
@Controller()
export class TaskManagerGateway {
  constructor(private readonly registry: TaskManagerRegistry) {}

  @MessagePattern(ResourceManagerPatterns.register)
  register(
    @Payload(new MessageShape(registrationRequestSchema, 'registration'))
    request: RegistrationRequest,
  ): RegistrationResponse {
    return orRpcError(() => this.registry.register(request));
  }

  @MessagePattern(ResourceManagerPatterns.unregister)
  unregister(
    @Payload(new MessageShape(unregistrationRequestSchema, 'unregistration'))
    request: UnregistrationRequest,
  ): { released: boolean } {
    return { released: this.registry.unregister(request) };
  }
}

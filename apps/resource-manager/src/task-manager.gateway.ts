import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  parseRegistrationRequest,
  parseUnregistrationRequest,
  ResourceManagerPatterns,
  type RegistrationResponse,
  orRpcError,
} from '#cluster';
import { TaskManagerRegistry } from './task-manager-registry.service.js';

/** The ResourceManager's TCP endpoint for TaskManagers (heartbeats are handled by the library). */
@Controller()
export class TaskManagerGateway {
  constructor(private readonly registry: TaskManagerRegistry) {}

  @MessagePattern(ResourceManagerPatterns.register)
  register(@Payload() data: unknown): RegistrationResponse {
    return this.registry.register(orRpcError(() => parseRegistrationRequest(data)));
  }

  @MessagePattern(ResourceManagerPatterns.unregister)
  unregister(@Payload() data: unknown): { released: boolean } {
    return {
      released: this.registry.unregister(orRpcError(() => parseUnregistrationRequest(data))),
    };
  }
}

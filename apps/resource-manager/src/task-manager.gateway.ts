import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  parseRegistrationRequest,
  parseUnregistrationRequest,
  ResourceManagerPatterns,
  type RegistrationResponse,
} from '#cluster';
import { TaskManagerRegistry } from './task-manager-registry.service.js';

/** The ResourceManager's TCP endpoint for TaskManagers (heartbeats are handled by the library). */
@Controller()
export class TaskManagerGateway {
  constructor(private readonly registry: TaskManagerRegistry) {}

  @MessagePattern(ResourceManagerPatterns.register)
  register(@Payload() data: unknown): RegistrationResponse {
    return this.registry.register(parse(parseRegistrationRequest, data));
  }

  @MessagePattern(ResourceManagerPatterns.unregister)
  unregister(@Payload() data: unknown): { released: boolean } {
    return { released: this.registry.unregister(parse(parseUnregistrationRequest, data)) };
  }
}

function parse<T>(parser: (data: unknown) => T, data: unknown): T {
  try {
    return parser(data);
  } catch (error) {
    throw new RpcException((error as Error).message);
  }
}

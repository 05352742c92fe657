import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  parseAllocateSlotsRequest,
  parseDisconnectRequest,
  parseReleaseSlotsRequest,
  TaskManagerPatterns,
  type SlotReport,
  orRpcError,
} from '#cluster';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { SlotTable } from './slot-table.service.js';

/** The TaskManager's TCP endpoint for commands from the ResourceManager (heartbeats are handled by the library). */
@Controller()
export class ResourceManagerGateway {
  constructor(
    private readonly connection: ResourceManagerConnection,
    private readonly slots: SlotTable,
  ) {}

  @MessagePattern(TaskManagerPatterns.allocateSlots)
  allocate(@Payload() data: unknown): SlotReport {
    const request = orRpcError(() => parseAllocateSlotsRequest(data));
    this.requireCurrentResourceManager(request.fencingToken);
    return orRpcError(() => this.slots.allocate(request.allocations));
  }

  @MessagePattern(TaskManagerPatterns.releaseSlots)
  release(@Payload() data: unknown): SlotReport {
    const request = orRpcError(() => parseReleaseSlotsRequest(data));
    this.requireCurrentResourceManager(request.fencingToken);
    return this.slots.release(request.jobId, request.allocationIds);
  }

  @MessagePattern(TaskManagerPatterns.disconnect)
  disconnect(@Payload() data: unknown): { accepted: boolean } {
    const request = orRpcError(() => parseDisconnectRequest(data));
    return { accepted: this.connection.onDisconnectRequest(request.fencingToken, request.reason) };
  }

  private requireCurrentResourceManager(fencingToken: string): void {
    if (!this.connection.isCurrentResourceManager(fencingToken)) {
      throw new RpcException(
        'Stale fencing token: not the ResourceManager this TaskManager is registered with',
      );
    }
  }
}

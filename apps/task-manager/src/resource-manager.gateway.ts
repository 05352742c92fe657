import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  allocateSlotsRequestSchema,
  disconnectRequestSchema,
  MessageShape,
  orRpcError,
  releaseSlotsRequestSchema,
  TaskManagerPatterns,
  type AllocateSlotsRequest,
  type DisconnectRequest,
  type ReleaseSlotsRequest,
  type SlotReport,
} from '#cluster';
import { ResourceManagerConnection } from './resource-manager-connection.service.js';
import { SlotTable } from './slot-table.service.js';

/** The TaskManager's TCP endpoint for commands from the ResourceManager (heartbeats are handled by the library). */
@Controller()
export class ResourceManagerGateway {
  private readonly logger = new Logger('TaskManager');

  constructor(
    private readonly connection: ResourceManagerConnection,
    private readonly slots: SlotTable,
  ) {}

  @MessagePattern(TaskManagerPatterns.allocateSlots)
  allocate(
    @Payload(new MessageShape(allocateSlotsRequestSchema, 'slot allocation'))
    request: AllocateSlotsRequest,
  ): SlotReport {
    this.requireCurrentResourceManager(request.fencingToken);
    return orRpcError(() => this.slots.allocate(request.allocations));
  }

  @MessagePattern(TaskManagerPatterns.releaseSlots)
  release(
    @Payload(new MessageShape(releaseSlotsRequestSchema, 'slot release'))
    request: ReleaseSlotsRequest,
  ): SlotReport {
    this.requireCurrentResourceManager(request.fencingToken);
    return this.slots.release(request.jobId, request.allocationIds);
  }

  @MessagePattern(TaskManagerPatterns.disconnect)
  disconnect(
    @Payload(new MessageShape(disconnectRequestSchema, 'disconnect')) request: DisconnectRequest,
  ): { accepted: boolean } {
    return { accepted: this.connection.onDisconnectRequest(request.fencingToken, request.reason) };
  }

  private requireCurrentResourceManager(fencingToken: string): void {
    if (!this.connection.isCurrentResourceManager(fencingToken)) {
      const reason =
        'Stale fencing token: not the ResourceManager this TaskManager is registered with';
      this.logger.warn(`Rejected a command: ${reason}`);
      throw new RpcException(reason);
    }
  }
}

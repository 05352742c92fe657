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
  type ResourceManagerHeartbeat,
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
    this.requireCurrentResourceManager(request);
    return orRpcError(() => this.slots.allocate(request.allocations, request.jobMaster));
  }

  @MessagePattern(TaskManagerPatterns.releaseSlots)
  release(
    @Payload(new MessageShape(releaseSlotsRequestSchema, 'slot release'))
    request: ReleaseSlotsRequest,
  ): SlotReport {
    this.requireCurrentResourceManager(request);
    return this.slots.release(request.jobId, request.allocationIds);
  }

  @MessagePattern(TaskManagerPatterns.disconnect)
  disconnect(
    @Payload(new MessageShape(disconnectRequestSchema, 'disconnect')) request: DisconnectRequest,
  ): { accepted: boolean } {
    return { accepted: this.connection.onDisconnectRequest(request, request.reason) };
  }

  private requireCurrentResourceManager(proof: ResourceManagerHeartbeat): void {
    const refusal = this.connection.refusal(proof);
    if (refusal) {
      this.logger.warn(`Rejected a command: ${refusal}`);
      throw new RpcException(refusal);
    }
  }
}

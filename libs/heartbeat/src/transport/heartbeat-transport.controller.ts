import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { HeartbeatIngress } from './heartbeat-ingress.js';
import {
  HEARTBEAT_RECEIVE_PATTERN,
  HEARTBEAT_REQUEST_PATTERN,
  type HeartbeatAck,
} from './heartbeat-wire.js';

/** The library's own message handlers, so that apps write no `@MessagePattern` for heartbeats. */
@Controller()
export class HeartbeatTransportController {
  constructor(private readonly ingress: HeartbeatIngress) {}

  @MessagePattern(HEARTBEAT_REQUEST_PATTERN)
  requestHeartbeat(@Payload() data: unknown): Promise<HeartbeatAck> {
    return this.ingress.handle('request', data);
  }

  @MessagePattern(HEARTBEAT_RECEIVE_PATTERN)
  receiveHeartbeat(@Payload() data: unknown): Promise<HeartbeatAck> {
    return this.ingress.handle('receive', data);
  }
}

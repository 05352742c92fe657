import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { HEARTBEAT_LOGGER_CONTEXT } from '../heartbeat.constants.js';
import { HeartbeatRegistry } from '../heartbeat.registry.js';
import type { IncomingHeartbeat } from '../interfaces/heartbeat-handler.interface.js';
import { parseHeartbeatMessage, type HeartbeatAck } from './heartbeat-wire.js';

/** Takes heartbeat RPCs from the transport: checks them, lets the target-side handlers vet them, hands them to the manager. */
@Injectable()
export class HeartbeatIngress {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);

  constructor(private readonly registry: HeartbeatRegistry) {}

  async handle(kind: IncomingHeartbeat['kind'], data: unknown): Promise<HeartbeatAck> {
    const parsed = parseHeartbeatMessage(data);
    if (!parsed.ok) {
      return this.reject(kind, parsed.reason);
    }
    const { manager: name, origin, payload } = parsed.message;
    const entry = this.registry.findEntry(name);
    if (!entry) {
      return this.reject(kind, `unknown heartbeat manager "${name}" (from ${origin})`);
    }
    const verdict = await entry.listener.accepts({ manager: name, kind, origin, payload });
    if (!verdict.accepted) {
      return this.reject(kind, `heartbeat from ${origin} to "${name}" rejected: ${verdict.reason}`);
    }
    if (kind === 'request') {
      await entry.manager.requestHeartbeat(origin, payload);
    } else {
      await entry.manager.receiveHeartbeat(origin, payload);
    }
    return { accepted: true };
  }

  private reject(kind: IncomingHeartbeat['kind'], reason: string): never {
    this.logger.warn(`Rejected heartbeat ${kind}: ${reason}`);
    throw new RpcException(reason);
  }
}

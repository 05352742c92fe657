import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { HEARTBEAT_LOGGER_CONTEXT } from '../heartbeat.constants.js';
import { HeartbeatRegistry } from '../heartbeat.registry.js';
import type { IncomingHeartbeat } from '../interfaces/heartbeat-handler.interface.js';
import { parseHeartbeatMessage, type HeartbeatAck } from './heartbeat-wire.js';
import { IncomingHeartbeatVetter } from './incoming-heartbeat-vetter.js';

/**
 * Takes heartbeat RPCs from the transport: checks their shape, has them vetted by the manager's
 * `@OnIncomingHeartbeat` handlers (it owns one `IncomingHeartbeatVetter` per manager), and hands
 * them, with the payload as vetted, to the manager.
 */
@Injectable()
export class HeartbeatIngress {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);
  private readonly vetters = new Map<string, IncomingHeartbeatVetter>();

  constructor(private readonly registry: HeartbeatRegistry) {
    for (const name of registry.getManagerNames()) {
      this.vetters.set(name, new IncomingHeartbeatVetter(name));
    }
  }

  /** The vetter of the manager declared under `name` (the explorer binds handlers to it). */
  vetterFor(name: string): IncomingHeartbeatVetter | undefined {
    return this.vetters.get(name);
  }

  async handle(kind: IncomingHeartbeat['kind'], data: unknown): Promise<HeartbeatAck> {
    const parsed = parseHeartbeatMessage(data);
    if (!parsed.ok) {
      return this.reject(kind, parsed.reason);
    }
    const { manager: name, origin, payload } = parsed.message;
    const entry = this.registry.findEntry(name);
    const vetter = this.vetters.get(name);
    if (!entry || !vetter) {
      return this.reject(kind, `unknown heartbeat manager "${name}" (from ${origin})`);
    }
    const outcome = await vetter.vet({ manager: name, kind, origin, payload });
    if (!outcome.accepted) {
      return this.reject(kind, `heartbeat from ${origin} to "${name}" rejected: ${outcome.reason}`);
    }
    if (kind === 'request') {
      await entry.manager.requestHeartbeat(origin, outcome.payload);
    } else {
      await entry.manager.receiveHeartbeat(origin, outcome.payload);
    }
    return { accepted: true };
  }

  private reject(kind: IncomingHeartbeat['kind'], reason: string): never {
    this.logger.warn(`Rejected heartbeat ${kind}: ${reason}`);
    throw new RpcException(reason);
  }
}

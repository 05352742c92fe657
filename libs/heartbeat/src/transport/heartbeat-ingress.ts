import { Inject, Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { HeartbeatRejectionReason } from '../core/heartbeat-events.js';
import type { AnswerAdmissionOutcome } from '../core/heartbeat-receiver-manager.js';
import type { HeartbeatAnswer } from '../core/heartbeat-target.interface.js';
import { parseHeartbeatMessage, type HeartbeatAck } from './heartbeat-wire.js';

/** Which of the two heartbeat RPCs arrived: a request for a heartbeat, or a separate answer. */
export type HeartbeatMessageKind = 'request' | 'receive';

/** What the ingress needs of one named manager: where its messages go, and who vets them. */
export interface HeartbeatRoute {
  readonly manager: {
    requestHeartbeat(origin: string, payload: unknown): Promise<HeartbeatAnswer | void>;
    receiveHeartbeat(origin: string, payload: unknown): Promise<void>;
  };
  vet(
    kind: HeartbeatMessageKind,
    origin: string,
    payload: unknown,
  ): AnswerAdmissionOutcome | Promise<AnswerAdmissionOutcome>;
}

/** The narrow lookup the ingress depends on (the module's registry provides it). */
export interface HeartbeatRoutes {
  routeTo(manager: string): HeartbeatRoute | undefined;
  /**
   * Counts and (rate-limited) logs a message turned down; `manager` is null when it named no
   * manager of this application.
   */
  rejectMessage(
    manager: string | null,
    peer: string,
    reason: HeartbeatRejectionReason,
    detail: string,
    message: string,
  ): void;
}

/** Injection token of the {@link HeartbeatRoutes} the ingress uses. */
export const HEARTBEAT_ROUTES = Symbol('HEARTBEAT_ROUTES');

const ACCEPTED: HeartbeatAck = { accepted: true };

/**
 * Takes heartbeat RPCs from the transport: checks their shape, has them vetted, and hands them,
 * with the payload as vetted, to their manager. A request's answer goes back in the reply.
 */
@Injectable()
export class HeartbeatIngress {
  constructor(@Inject(HEARTBEAT_ROUTES) private readonly routes: HeartbeatRoutes) {}

  async handle(kind: HeartbeatMessageKind, data: unknown): Promise<HeartbeatAck> {
    const parsed = parseHeartbeatMessage(data);
    if (!parsed.ok) {
      return this.reject(kind, null, 'unknown', 'malformed', parsed.reason);
    }
    const { manager: name, origin, payload } = parsed.message;
    const route = this.routes.routeTo(name);
    if (!route) {
      return this.reject(
        kind,
        null,
        origin,
        'unknown-manager',
        `unknown heartbeat manager "${name}" (from ${origin})`,
      );
    }
    const outcome = await route.vet(kind, origin, payload);
    if (!outcome.accepted) {
      return this.reject(
        kind,
        name,
        origin,
        'vetoed',
        `heartbeat from ${origin} to "${name}" rejected: ${outcome.reason}`,
      );
    }
    if (kind === 'receive') {
      await route.manager.receiveHeartbeat(origin, outcome.payload);
      return ACCEPTED;
    }
    const answer = await route.manager.requestHeartbeat(origin, outcome.payload);
    return answer ? { accepted: true, heartbeat: answer } : ACCEPTED;
  }

  private reject(
    kind: HeartbeatMessageKind,
    manager: string | null,
    peer: string,
    reason: HeartbeatRejectionReason,
    detail: string,
  ): never {
    this.routes.rejectMessage(
      manager,
      peer,
      reason,
      detail,
      `Rejected heartbeat ${kind}: ${detail}`,
    );
    throw new RpcException(detail);
  }
}

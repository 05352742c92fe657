import {
  HttpException,
  HttpStatus,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ResourceManagerLeadership } from './resource-manager-leadership.service.js';

const SERVED_BY_STANDBY = Symbol('SERVED_BY_STANDBY');

/** Marks an HTTP endpoint that every ResourceManager answers, leader or standby. */
export const ServedByStandby = () => SetMetadata(SERVED_BY_STANDBY, true);

/**
 * Only the leader serves the HTTP API: a standby answers 503 with the leader's address, so a
 * client (or a load balancer's health check) finds the leader. Endpoints marked `@ServedByStandby()`
 * are answered by all. TCP messages are not guarded here: the services refuse them themselves.
 */
@Injectable()
export class LeaderOnlyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly leadership: ResourceManagerLeadership,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (
      context.getType() !== 'http' ||
      this.reflector.getAllAndOverride<boolean>(SERVED_BY_STANDBY, [
        context.getHandler(),
        context.getClass(),
      ]) ||
      this.leadership.isLeader()
    ) {
      return true;
    }
    throw new HttpException(
      { error: 'not the leader', leader: this.leadership.leaderUrl() },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

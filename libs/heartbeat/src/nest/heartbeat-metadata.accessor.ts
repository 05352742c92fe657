import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { HEARTBEAT_HANDLERS_METADATA } from './heartbeat.constants.js';
import type { HeartbeatHandlerMetadata } from './interfaces/heartbeat-handler.interface.js';

@Injectable()
export class HeartbeatMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getHandlers(method: unknown): HeartbeatHandlerMetadata[] {
    if (typeof method !== 'function') {
      return [];
    }
    return (
      this.reflector.get<HeartbeatHandlerMetadata[] | undefined>(
        HEARTBEAT_HANDLERS_METADATA,
        method,
      ) ?? []
    );
  }
}

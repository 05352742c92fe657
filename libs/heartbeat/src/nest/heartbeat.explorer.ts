import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { HEARTBEAT_LOGGER_CONTEXT } from './heartbeat.constants.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import { HeartbeatMetadataAccessor } from './heartbeat-metadata.accessor.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import {
  HeartbeatHandlerKind,
  type HeartbeatHandlerMetadata,
} from './interfaces/heartbeat-handler.interface.js';

type AnyMethod = (...args: never[]) => unknown;

/**
 * Finds the decorated methods of every provider and controller and binds them: the listener's
 * handlers to their manager's listener, the `@OnIncomingHeartbeat` ones to the manager's vetter
 * of their manager.
 */
@Injectable()
export class HeartbeatExplorer implements OnModuleInit {
  private readonly logger = new Logger(HEARTBEAT_LOGGER_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: HeartbeatMetadataAccessor,
    private readonly registry: HeartbeatRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      if (wrapper.isAlias) {
        continue; // a `useExisting` alias: its target is visited on its own
      }
      const instance: unknown = wrapper.instance;
      const prototype =
        instance && typeof instance === 'object' ? Object.getPrototypeOf(instance) : null;
      if (!prototype) {
        continue;
      }
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[methodName];
        const handlers = this.accessor.getHandlers(method);
        if (handlers.length === 0) {
          continue;
        }
        const where = `${prototype.constructor.name}.${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(HEARTBEAT_MESSAGES.nonStaticProvider(where));
          continue;
        }
        const bound = (method as AnyMethod).bind(instance) as AnyMethod;
        for (const handler of handlers) {
          this.bind(handler, where, bound);
        }
      }
    }
  }

  private bind({ kind, manager }: HeartbeatHandlerMetadata, where: string, call: AnyMethod): void {
    const entry = this.registry.findEntry(manager);
    if (!entry) {
      throw new Error(
        HEARTBEAT_MESSAGES.unknownManager(manager, where, this.registry.getManagerNames()),
      );
    }
    const handler = { where, call: call as never };
    switch (kind) {
      case HeartbeatHandlerKind.Timeout:
        return entry.listener.onTimeout(handler);
      case HeartbeatHandlerKind.TargetUnreachable:
        return entry.listener.onUnreachable(handler);
      case HeartbeatHandlerKind.TargetLost:
        return entry.listener.onLost(handler);
      case HeartbeatHandlerKind.PayloadReceived:
        return entry.listener.onPayload(handler);
      case HeartbeatHandlerKind.PayloadToSend:
        return entry.listener.providePayload(handler);
      case HeartbeatHandlerKind.IncomingHeartbeat:
        return entry.vetter.add(handler);
    }
  }
}

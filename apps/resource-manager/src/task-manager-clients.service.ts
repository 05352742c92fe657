import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import {
  clientTlsOptions,
  sendRequest,
  TaskManagerPatterns,
  type ResourceManagerHeartbeat,
} from '#cluster';
import { closeTcpClient } from 'nestjs-heartbeat';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config.js';

const COMMAND_TIMEOUT_MS = 2_000;

/** The order that tells a released TaskManager it was dropped, proven like every command. */
export type DisconnectOrder = ResourceManagerHeartbeat & { readonly reason: string };

/**
 * The command clients of the TaskManagers (a Nest `ClientTCP` to each one's endpoint, apart from
 * its heartbeat connection): opening them, sending commands, and closing them, on shutdown at the
 * latest.
 */
@Injectable()
export class TaskManagerClients implements OnApplicationShutdown {
  /** Clients of registered TaskManagers. */
  private readonly openClients = new Set<ClientTCP>();
  /** Clients of released TaskManagers still delivering a last "disconnect"; closed on shutdown at the latest. */
  private readonly closingClients = new Set<ClientTCP>();

  constructor(@Inject(RESOURCE_MANAGER_CONFIG) private readonly config: ResourceManagerConfig) {}

  /** A client for the endpoint of the TaskManager at `host:port`, with this side's frame limits and TLS. */
  open(host: string, port: number): ClientTCP {
    const client = new ClientTCP({
      host,
      port,
      ...this.config.frameLimits,
      tlsOptions: clientTlsOptions(this.config.tls),
    });
    this.openClients.add(client);
    return client;
  }

  /** Sends a command and resolves with its answer; rejects when it fails or is not answered in time. */
  send(client: ClientTCP, pattern: string, data: object): Promise<unknown> {
    return sendRequest(client, pattern, data, COMMAND_TIMEOUT_MS);
  }

  close(client: ClientTCP): void {
    this.openClients.delete(client);
    closeTcpClient(client);
  }

  /**
   * Best effort: tells a released TaskManager that it was dropped (one that is only cut off hears
   * it and registers again), then closes its client whatever the outcome.
   */
  disconnectAndClose(client: ClientTCP, order: DisconnectOrder): void {
    this.openClients.delete(client);
    this.closingClients.add(client);
    this.send(client, TaskManagerPatterns.disconnect, order)
      .catch(() => undefined)
      .finally(() => {
        this.closingClients.delete(client);
        closeTcpClient(client);
      });
  }

  onApplicationShutdown(): void {
    for (const client of [...this.closingClients, ...this.openClients]) {
      closeTcpClient(client);
    }
    this.closingClients.clear();
    this.openClients.clear();
  }
}

import { randomUUID } from 'node:crypto';

export const RESOURCE_MANAGER_IDENTITY = Symbol('RESOURCE_MANAGER_IDENTITY');

/**
 * Who this ResourceManager start is. Both parts are new for every start, so a TaskManager can
 * tell a restarted ResourceManager from the one it was registered with, and fence the old one off.
 */
export interface ResourceManagerIdentity {
  /** Its heartbeat id (the origin of its heartbeats). */
  readonly resourceManagerId: string;
  readonly fencingToken: string;
}

/** The id comes from its own random value: it says nothing about the fencing token. */
export function newResourceManagerIdentity(): ResourceManagerIdentity {
  return {
    resourceManagerId: `resource-manager-${randomUUID().slice(0, 8)}`,
    fencingToken: randomUUID(),
  };
}

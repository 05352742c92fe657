import { randomUUID } from 'node:crypto';

export const RESOURCE_MANAGER_IDENTITY = Symbol('RESOURCE_MANAGER_IDENTITY');

/**
 * Who this ResourceManager start is: new for every start, so a TaskManager can tell a restarted
 * ResourceManager from the one it was registered with. (Which leadership a message comes from is
 * the fencing token's job: see `ResourceManagerLeadership`.)
 */
export interface ResourceManagerIdentity {
  /** Its heartbeat id (the origin of its heartbeats). */
  readonly resourceManagerId: string;
}

export function newResourceManagerIdentity(): ResourceManagerIdentity {
  return { resourceManagerId: `resource-manager-${randomUUID().slice(0, 8)}` };
}

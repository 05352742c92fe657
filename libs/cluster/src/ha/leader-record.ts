import { z } from 'zod';
import { ID_PATTERN } from '../env.js';
import type { FencingToken } from './fencing-token.js';

/** What a ResourceManager campaigning for leadership publishes in etcd: where to reach it. */
export const leaderRecordSchema = z.strictObject({
  resourceManagerId: z.string().regex(ID_PATTERN),
  /** Its TCP endpoint, where TaskManagers register. */
  host: z.string().min(1).max(253),
  tcpPort: z.int().min(1).max(65_535),
  /** Its HTTP API, e.g. `http://127.0.0.1:8081`: what a standby sends clients to. */
  httpUrl: z.string().min(1).max(300),
});
export type LeaderRecord = z.infer<typeof leaderRecordSchema>;

/** The current leader, as etcd says: its record, and the token of its leadership. */
export interface Leader {
  readonly record: LeaderRecord;
  readonly fencingToken: FencingToken;
  /** Its election key in etcd. */
  readonly key: string;
}

/** The election's keys for one cluster: one per candidate, bound to its lease. */
export function electionPrefix(clusterId: string): string {
  return `nestjs-heartbeat/${clusterId}/resource-manager-election/`;
}

import { z } from 'zod';

/**
 * A fencing token: which leadership a ResourceManager's message comes from. It is a number that
 * grows with every new leadership (with HA on etcd, the creation revision of the leader's election
 * key), written as a string of digits so that etcd's 64-bit revisions survive JSON; a number is
 * accepted too. A TaskManager compares tokens, so a message from any older leader is refused.
 */
export const fencingTokenSchema = z
  .union([z.string().regex(/^\d{1,20}$/, 'must be a string of 1 to 20 digits'), z.int().min(0)])
  .transform((token) => String(BigInt(token)));
export type FencingToken = z.output<typeof fencingTokenSchema>;

/** Negative, zero or positive as token `a` is older than, the same as, or newer than `b`. */
export function compareFencingTokens(a: FencingToken, b: FencingToken): number {
  const difference = BigInt(a) - BigInt(b);
  return difference === 0n ? 0 : difference < 0n ? -1 : 1;
}

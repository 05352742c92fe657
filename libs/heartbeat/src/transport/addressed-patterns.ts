import { HEARTBEAT_RECEIVE_PATTERN, HEARTBEAT_REQUEST_PATTERN } from './heartbeat-wire.js';

/*
 * Heartbeat patterns addressed to one recipient, for transports with a broker between the peers.
 *
 * Over TCP a connection reaches one process, so the plain patterns address one recipient. Through
 * a broker they do not: NATS hands a message to every subscriber of its subject, Redis to every
 * subscriber of its channel, and every application importing `HeartbeatModule` subscribes to
 * `heartbeat.request`. A sender publishing there would ask every receiver on the broker at once
 * (its payload, credentials included, seen by all of them) and take whichever reply came first,
 * from whoever sent it. So a target made for a broker publishes to `heartbeat.request.<recipient
 * id>` (and `heartbeat.receive.<recipient id>`), and each application's transport servers also
 * answer the patterns addressed to its own managers' ids (`AddressedPatternRegistrar`). The plain
 * patterns, and the TCP wire, are unchanged.
 */

/** One of the two heartbeat RPCs' patterns, plain. */
export type HeartbeatPattern = typeof HEARTBEAT_REQUEST_PATTERN | typeof HEARTBEAT_RECEIVE_PATTERN;

/** Both heartbeat patterns, plain: what an application answers to for each of its ids. */
export const HEARTBEAT_PATTERNS: readonly HeartbeatPattern[] = [
  HEARTBEAT_REQUEST_PATTERN,
  HEARTBEAT_RECEIVE_PATTERN,
];

/** Bytes left as they are in an addressed pattern; every other byte of the id's UTF-8 is `%XX`. */
const PLAIN_BYTE = /^[A-Za-z0-9_-]$/;

/**
 * The pattern (a NATS subject, a Redis channel) of the heartbeat RPC `pattern` addressed to the
 * manager whose resource id is `recipientId`: `heartbeat.request.<id>`, the id percent-encoded
 * (every UTF-8 byte but `A-Z a-z 0-9 _ -` as `%XX`), so that it is one NATS subject token whatever
 * it holds (no `.`, `*`, `>` or space) and no Redis glob (`*`, `?`, `[`): `tm-1` stays `tm-1`,
 * `tm.1` becomes `tm%2E1`.
 */
export function addressedHeartbeatPattern(pattern: HeartbeatPattern, recipientId: string): string {
  let encoded = '';
  for (const byte of Buffer.from(recipientId, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += PLAIN_BYTE.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${pattern}.${encoded}`;
}

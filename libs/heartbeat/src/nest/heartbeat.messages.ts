import { describeValue } from '../core/values.js';
import { HEARTBEAT_CONFIGURATION_KEYS } from '../core/heartbeat-configuration.js';
import { MAX_NAME_LENGTH } from '../transport/heartbeat-wire.js';

export const HEARTBEAT_MESSAGES = {
  noManagers: () =>
    'HeartbeatModule needs at least one manager: pass managers: { <name>: "sender" | "receiver" } to forRoot/forRootAsync',
  invalidRole: (name: string, role: unknown) =>
    `Heartbeat manager "${name}" has role ${JSON.stringify(role)}; expected "sender" or "receiver"`,
  invalidOption: (name: string, rule: string, value: unknown) =>
    `Invalid HeartbeatModule option ${name}: must be ${rule}, got ${describeValue(value)}`,
  unknownManagerKey: (name: string, key: string) =>
    `Heartbeat manager "${name}" has an unknown setting "${key}"; known: role, resourceId, ${HEARTBEAT_CONFIGURATION_KEYS.join(', ')}`,
  invalidManagerName: (name: string) =>
    `Heartbeat manager name ${describeValue(name)} must be 1 to ${MAX_NAME_LENGTH} characters, not all blank (it travels in every heartbeat)`,
  noSuchManager: (name: string, known: string[]) =>
    `No heartbeat manager named "${name}"; declared managers: ${known.join(', ') || '(none)'}`,
  unknownManager: (name: string, where: string, known: string[]) =>
    `Unknown heartbeat manager "${name}" in ${where}; declared managers: ${known.join(', ') || '(none)'}`,
  duplicatePayloadProvider: (manager: string, first: string, second: string) =>
    `Heartbeat manager "${manager}" has two payload providers, ${first} and ${second}; keep one`,
  nonStaticProvider: (where: string) =>
    `Cannot bind heartbeat handler ${where}: it belongs to a request-scoped provider; it is ignored`,
} as const;

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

  // Metrics (HeartbeatMetrics, and the module's `metrics` option)
  metricsNeedPromClient: () =>
    "HeartbeatModule's metrics option needs the prom-client package: npm install prom-client",
  invalidMetricsOption: (setting: string, rule: string, value: unknown) =>
    `Invalid HeartbeatMetrics option ${setting}: must be ${rule}, got ${describeValue(value)}`,
  metricsNeedManagers: (value: unknown) =>
    `HeartbeatMetrics needs sources.managers, a Map of the managers by name, got ${describeValue(value)}`,
  metricNameTaken: (name: string) =>
    `The metrics registry already has a metric named ${name}, which nestjs-heartbeat did not make; ` +
    'give the heartbeat metrics another prefix or registry',
  metricsReplaced: (names: readonly string[]) =>
    `Heartbeat metrics: replacing ${names.join(', ')}, made by an earlier HeartbeatMetrics on the ` +
    'same registry that was not closed; it is no longer scraped (close it at shutdown, or give ' +
    'each its own registry or prefix)',

  // Health (HeartbeatHealthIndicator)
  invalidHealthOption: (setting: string, rule: string, value: unknown) =>
    `Invalid HeartbeatHealthIndicator.isHealthy option ${setting}: must be ${rule}, got ${describeValue(value)}`,
  managerStopped: (name: string) => `heartbeat manager "${name}" is stopped`,
  senderNotStarted: (name: string) =>
    `heartbeat sender "${name}" has not started (it starts when the application bootstraps)`,
  processStalled: (stallMs: number, agoMs: number, windowMs: number) =>
    `this process stalled for ${stallMs} ms, ${agoMs} ms ago (within the last ${windowMs} ms)`,
  tooFewLiveTargets: (live: number, required: number, timeoutMs: number) =>
    `${live} live target(s) (a heartbeat within the last ${timeoutMs} ms), fewer than the ${required} required`,
} as const;

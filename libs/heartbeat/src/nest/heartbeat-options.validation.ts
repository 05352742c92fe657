import type { Clock, Scheduler } from '../core/clock.js';
import {
  HeartbeatConfigurationError,
  resolveHeartbeatConfiguration,
  type HeartbeatConfiguration,
} from '../core/heartbeat-configuration.js';
import { withoutUndefined } from '../core/without-undefined.js';
import { HEARTBEAT_MESSAGES } from './heartbeat.messages.js';
import type {
  HeartbeatClientLimits,
  HeartbeatModuleExtras,
  HeartbeatModuleOptions,
  HeartbeatRole,
} from './interfaces/heartbeat-module-options.interface.js';

/** A manager declaration as given, checked for shape when the module is imported. */
export interface HeartbeatManagerDeclaration {
  readonly name: string;
  readonly role: HeartbeatRole;
  readonly resourceId?: string;
  readonly overrides: Partial<HeartbeatConfiguration>;
}

export interface ResolvedHeartbeatManager {
  readonly name: string;
  readonly role: HeartbeatRole;
  readonly resourceId: string;
  readonly configuration: HeartbeatConfiguration;
}

export interface ResolvedHeartbeatOptions {
  readonly managers: readonly ResolvedHeartbeatManager[];
  readonly requestTimeout: number;
  readonly clientLimits: Required<HeartbeatClientLimits>;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_CLIENT_LIMITS: Required<HeartbeatClientLimits> = {
  maxBufferSize: 1_048_576,
  incompleteMessageTimeout: 10_000,
  maxSendBufferSize: 1_048_576,
};

/** Checks the static `managers` map given to `forRoot` / `forRootAsync`. */
export function declareHeartbeatManagers(
  managers: HeartbeatModuleExtras['managers'] | undefined,
): HeartbeatManagerDeclaration[] {
  const entries = Object.entries(managers ?? {});
  if (entries.length === 0) {
    throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.noManagers());
  }
  return entries.map(([name, definition]) => {
    const { role, resourceId, ...overrides } =
      typeof definition === 'string' ? { role: definition } : (definition ?? ({} as never));
    if (role !== 'sender' && role !== 'receiver') {
      throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidRole(name, role));
    }
    return { name, role, resourceId, overrides };
  });
}

/** Validates the runtime options against the declarations; every error names the bad value. */
export function resolveHeartbeatOptions(
  options: HeartbeatModuleOptions,
  declarations: readonly HeartbeatManagerDeclaration[],
): ResolvedHeartbeatOptions {
  if (typeof options !== 'object' || options === null) {
    throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidOption('options', 'an object', options));
  }
  const { resourceId, requestTimeout = DEFAULT_REQUEST_TIMEOUT_MS, clientLimits = {} } = options;
  const defaults: Partial<HeartbeatConfiguration> = {
    interval: options.interval,
    timeout: options.timeout,
    rpcFailureThreshold: options.rpcFailureThreshold,
  };
  const managers = declarations.map((declaration) => {
    const ownId = declaration.resourceId ?? resourceId;
    requireNonEmptyString(
      declaration.resourceId === undefined ? 'resourceId' : `managers.${declaration.name}.resourceId`,
      ownId,
    );
    const configuration = resolveHeartbeatConfiguration(
      { ...withoutUndefined(defaults), ...withoutUndefined(declaration.overrides) },
      `heartbeat manager "${declaration.name}"`,
    );
    return { name: declaration.name, role: declaration.role, resourceId: ownId, configuration };
  });
  requirePositiveNumber('requestTimeout', requestTimeout);
  const limits = { ...DEFAULT_CLIENT_LIMITS, ...withoutUndefined(clientLimits) };
  for (const [key, value] of Object.entries(limits)) {
    requirePositiveNumber(`clientLimits.${key}`, value);
  }
  return { managers, requestTimeout, clientLimits: limits, clock: options.clock, scheduler: options.scheduler };
}

function requireNonEmptyString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidOption(name, 'a non-empty string', value));
  }
}

function requirePositiveNumber(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new HeartbeatConfigurationError(HEARTBEAT_MESSAGES.invalidOption(name, 'a number > 0', value));
  }
}

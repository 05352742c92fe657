import { z } from 'zod';
import type { HeartbeatConfigurationProblem } from '../core/heartbeat-configuration.js';
import type {
  HeartbeatMetricsBuckets,
  HeartbeatMetricsOptions,
  HeartbeatMetricsRegistry,
} from './interfaces/heartbeat-metrics-options.interface.js';

/** The metrics' options with the defaults filled in. */
export interface ResolvedHeartbeatMetricsOptions {
  /** Absent: prom-client's global `register`, known only once prom-client is loaded. */
  readonly registry?: HeartbeatMetricsRegistry;
  readonly prefix: string;
  readonly perTarget: boolean;
  readonly buckets: Required<HeartbeatMetricsBuckets>;
}

export const DEFAULT_HEARTBEAT_METRICS_PREFIX = 'heartbeat_';

/**
 * Round trips: loopback to a slow cross-region link, up to the default request timeout. Time
 * since the last heartbeat: about one interval when healthy (10 s by default), the timeout (50 s)
 * when lost. Stalls: from the stall guard's lowest threshold (50 ms) up.
 */
export const DEFAULT_HEARTBEAT_METRICS_BUCKETS: Required<HeartbeatMetricsBuckets> = {
  roundTripSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  timeSinceLastHeartbeatSeconds: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120, 300],
  stallSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
};

const SETTINGS = ['registry', 'prefix', 'perTarget', 'buckets'] as const;
const BUCKET_SETTINGS = Object.keys(DEFAULT_HEARTBEAT_METRICS_BUCKETS);

/** The rule each setting breaks, as the error message says it ("must be <rule>"). */
export const HEARTBEAT_METRICS_RULES = {
  options: `an object with some of ${SETTINGS.join(', ')}`,
  registry:
    'a prom-client Registry (an object with registerMetric, getSingleMetric and removeSingleMetric)',
  prefix:
    'a string of letters, digits, "_" and ":" that does not start with a digit (it starts Prometheus metric names)',
  perTarget: 'true or false',
  buckets: `an object with some of ${BUCKET_SETTINGS.join(', ')}`,
  bucketList: 'a non-empty array of increasing finite numbers > 0 (seconds)',
  unknown: (known: readonly string[]) => `left out: known settings are ${known.join(', ')}`,
} as const;

const METRIC_NAME_PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

function isRegistry(value: unknown): value is HeartbeatMetricsRegistry {
  const registry = value as Partial<Record<keyof HeartbeatMetricsRegistry, unknown>> | null;
  return (
    typeof registry === 'object' &&
    registry !== null &&
    typeof registry.registerMetric === 'function' &&
    typeof registry.getSingleMetric === 'function' &&
    typeof registry.removeSingleMetric === 'function'
  );
}

function isBucketList(value: unknown): value is readonly number[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (bound, index) =>
        typeof bound === 'number' &&
        Number.isFinite(bound) &&
        bound > 0 &&
        (index === 0 || bound > (value[index - 1] as number)),
    )
  );
}

const unknownKeyError = (known: readonly string[], rule: string) => (issue: z.core.$ZodRawIssue) =>
  issue.code === 'unrecognized_keys' ? HEARTBEAT_METRICS_RULES.unknown(known) : rule;

const bucketList = z.custom<readonly number[]>(isBucketList, {
  error: HEARTBEAT_METRICS_RULES.bucketList,
});

/** The declared shape of the options; each setting's error is the rule it breaks. */
const heartbeatMetricsOptionsSchema = z.strictObject(
  {
    registry: z
      .custom<HeartbeatMetricsRegistry>(isRegistry, { error: HEARTBEAT_METRICS_RULES.registry })
      .optional(),
    prefix: z
      .custom<string>((value) => typeof value === 'string' && METRIC_NAME_PREFIX.test(value), {
        error: HEARTBEAT_METRICS_RULES.prefix,
      })
      .optional(),
    perTarget: z.boolean({ error: HEARTBEAT_METRICS_RULES.perTarget }).optional(),
    buckets: z
      .strictObject(
        {
          roundTripSeconds: bucketList.optional(),
          timeSinceLastHeartbeatSeconds: bucketList.optional(),
          stallSeconds: bucketList.optional(),
        },
        { error: unknownKeyError(BUCKET_SETTINGS, HEARTBEAT_METRICS_RULES.buckets) },
      )
      .optional(),
  },
  { error: unknownKeyError(SETTINGS, HEARTBEAT_METRICS_RULES.options) },
);

export type HeartbeatMetricsOptionsCheck =
  | { readonly ok: true; readonly options: ResolvedHeartbeatMetricsOptions }
  /** `problem.setting` is relative to the options (`prefix`, `buckets.stallSeconds`), `''` for them all. */
  | { readonly ok: false; readonly problem: HeartbeatConfigurationProblem };

/** Checks the metrics' options against their declared shape and fills in the defaults. */
export function checkHeartbeatMetricsOptions(options: unknown): HeartbeatMetricsOptionsCheck {
  const parsed = heartbeatMetricsOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      path.push(issue.keys[0]);
    }
    return {
      ok: false,
      problem: { setting: path.join('.'), rule: issue.message, value: valueAt(options, path) },
    };
  }
  const given: HeartbeatMetricsOptions = parsed.data;
  const buckets = { ...DEFAULT_HEARTBEAT_METRICS_BUCKETS };
  for (const [setting, list] of Object.entries(given.buckets ?? {})) {
    if (list !== undefined) {
      buckets[setting as keyof HeartbeatMetricsBuckets] = [...(list as readonly number[])];
    }
  }
  return {
    ok: true,
    options: {
      registry: given.registry,
      prefix: given.prefix ?? DEFAULT_HEARTBEAT_METRICS_PREFIX,
      perTarget: given.perTarget ?? false,
      buckets,
    },
  };
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    value = typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
  }
  return value;
}

/** Node's timers overflow above this delay and fire at once. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** A copy of `value` without its undefined properties, so they do not override defaults when spread. */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A value as an error message should show it: strings quoted, NaN and Infinity as themselves. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    value === undefined ||
    typeof value === 'symbol'
  ) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** True for a number of milliseconds a timer can wait: finite, > 0 and not above Node's limit. */
export function isTimerDelay(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_TIMER_DELAY_MS
  );
}

/** Scale: one library sender manager at the configured interval, and detection on those runs. */
import { detect, type Detection } from './detection.js';
import type { Fleet, WindowResult } from './fleet.js';
import {
  interval,
  log,
  monitorConfig,
  plan,
  timeout,
  warmUp,
  windowMs,
  withFleet,
} from './plan.js';

export interface ScaleRow {
  readonly targets: number;
  readonly result: WindowResult;
  /** Targets declared lost from the start of the run to the end of the window (none was killed). */
  readonly falseLosses: number;
  /** The class of the library's TCP targets. */
  readonly client: string;
}

export interface Scale {
  readonly rows: ScaleRow[];
  /** At `plan.detectionSize` targets (1,000). */
  readonly detection: Detection;
  /** At the largest scale size, if above `plan.detectionSize` (10,000 in a full run). */
  readonly detectionAtScale: Detection | null;
  /** The raw floor at the largest scale size: what the transport alone costs the monitor there. */
  readonly rawAtLargest: ScaleRow;
}

/** Waits for the kills' losses up to the timeout and three intervals after the last kill. */
const detectionWaitMs = timeout + 3 * interval;

/** One library run: warm-up, a measured window, then whatever `after` does with the fleet. */
export function libraryRun(
  targets: number,
  measureMs: number,
  after?: (fleet: Fleet) => Promise<void>,
): Promise<ScaleRow> {
  log(`library, ${targets} targets, interval ${interval} ms, timeout ${timeout} ms`);
  return withFleet(monitorConfig('library'), targets, async (fleet) => {
    await warmUp(interval, targets);
    const result = await fleet.measure(measureMs);
    const row = { targets, result, falseLosses: fleet.losses.length, client: fleet.client };
    await after?.(fleet);
    return row;
  });
}

export async function measureScale(): Promise<Scale> {
  const rows: ScaleRow[] = [];
  let detection: Detection | null = null;
  let detectionAtScale: Detection | null = null;
  const largest = plan.scaleSizes[plan.scaleSizes.length - 1];
  for (const targets of plan.scaleSizes) {
    const killing = targets === plan.detectionSize || targets === largest;
    rows.push(
      await libraryRun(targets, windowMs, async (fleet) => {
        if (!killing) {
          return;
        }
        log(`detection: killing ${plan.kills} hung and ${plan.kills} refusing of ${targets}`);
        const found = await detect(fleet, plan.kills, detectionWaitMs);
        if (targets === plan.detectionSize) {
          detection = found;
        } else {
          detectionAtScale = found;
        }
      }),
    );
  }
  detection ??= await detectionRun();
  return { rows, detection, detectionAtScale, rawAtLargest: await rawRun(largest) };
}

/** The raw floor on the same schedule and fleet size: bare sockets, no library, no Nest. */
function rawRun(targets: number): Promise<ScaleRow> {
  log(`raw floor, ${targets} targets, interval ${interval} ms`);
  return withFleet(monitorConfig('raw'), targets, async (fleet) => {
    await warmUp(interval, targets);
    const result = await fleet.measure(windowMs);
    return { targets, result, falseLosses: fleet.losses.length, client: fleet.client };
  });
}

/** When no scale size is the detection size (e.g. `--quick --targets 2000`). */
function detectionRun(): Promise<Detection> {
  log(`detection: library, ${plan.detectionSize} targets`);
  return withFleet(monitorConfig('library'), plan.detectionSize, async (fleet) => {
    await warmUp(interval, plan.detectionSize);
    return detect(fleet, plan.kills, detectionWaitMs);
  });
}

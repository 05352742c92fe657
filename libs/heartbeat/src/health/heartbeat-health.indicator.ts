import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { monotonicNow, type Clock } from '../core/clock.js';
import { HeartbeatConfigurationError } from '../core/heartbeat-configuration.js';
import type { HeartbeatEvent } from '../core/heartbeat-events.js';
import { timeSourcesOf } from '../core/heartbeat-services.js';
import { HEARTBEAT_RESOLVED_OPTIONS } from '../nest/heartbeat.constants.js';
import { HEARTBEAT_MESSAGES } from '../nest/heartbeat.messages.js';
import type { ResolvedHeartbeatOptions } from '../nest/heartbeat-options.validation.js';
import { HeartbeatRegistry } from '../nest/heartbeat.registry.js';
import type {
  HeartbeatHealth,
  HeartbeatHealthCheckOptions,
  HeartbeatHealthIndicatorResult,
  HeartbeatStall,
} from './interfaces/heartbeat-health.interface.js';

const DEFAULT_WINDOW_MS = 60_000;
/** Losses kept per manager at most: the memory stays bounded, whatever happens in a window. */
const MAX_TRACKED_LOSSES = 10_000;

/**
 * The times of one manager's losses (monotonic ms, when the indicator heard of them), oldest first,
 * no older than the longest window asked for.
 */
class LossLog {
  private readonly times: number[] = [];

  add(at: number, keepSince: number): void {
    this.times.push(at);
    this.forgetBefore(keepSince);
    if (this.times.length > MAX_TRACKED_LOSSES) {
      this.times.splice(0, this.times.length - MAX_TRACKED_LOSSES);
    }
  }

  countSince(since: number): number {
    let count = 0;
    for (let index = this.times.length - 1; index >= 0 && this.times[index] >= since; index -= 1) {
      count += 1;
    }
    return count;
  }

  forgetBefore(time: number): void {
    let stale = 0;
    while (stale < this.times.length && this.times[stale] < time) {
      stale += 1;
    }
    if (stale > 0) {
      this.times.splice(0, stale);
    }
  }
}

/**
 * A health indicator for `@nestjs/terminus` (11 or 12), in the style of its own: `isHealthy(key,
 * { manager, minLiveTargets?, window? })` resolves with `{ [key]: { status: 'up' | 'down', ... } }`,
 * which terminus's `HealthCheckService.check` reports as an error (503) when down. Nothing of
 * terminus is imported.
 *
 * Up when the manager runs (not stopped; a sender started), this process did not stall within the
 * window, and it has at least `minLiveTargets` live targets. It learns of losses and stalls from
 * the managers' events, watched from its first check on: an app that never checks makes no event.
 */
@Injectable()
export class HeartbeatHealthIndicator implements OnApplicationShutdown {
  private readonly clock: Clock;
  private readonly timeouts: ReadonlyMap<string, number>;
  private readonly losses = new Map<string, LossLog>();
  private lastStall: HeartbeatStall | null = null;
  /** When the indicator heard of `lastStall`, in monotonic ms: what its window is measured by. */
  private lastStallSeenAt = 0;
  /** The longest window asked for so far: how long losses are kept. */
  private retentionMs = 0;
  private subscription: Subscription | null = null;
  private closed = false;

  /**
   * Nest makes it, from the module's registry and options.
   * @internal
   */
  constructor(
    private readonly registry: HeartbeatRegistry,
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions,
  ) {
    this.clock = timeSourcesOf(options).clock;
    this.timeouts = new Map(
      options.managers.map(({ name, configuration }) => [name, configuration.timeout]),
    );
  }

  /**
   * Checks the manager declared under `options.manager` (throws if there is none, or for a bad
   * option). Use it in a health check: `() => heartbeat.isHealthy('heartbeat', { manager: 'workers' })`.
   */
  async isHealthy<Key extends string>(
    key: Key,
    options: HeartbeatHealthCheckOptions,
  ): Promise<HeartbeatHealthIndicatorResult<Key>> {
    const { manager: name, minLiveTargets = 0, window = DEFAULT_WINDOW_MS } = checkOptions(options);
    const entry = this.registry.findEntry(name);
    if (!entry) {
      throw new Error(HEARTBEAT_MESSAGES.noSuchManager(name, this.registry.getManagerNames()));
    }
    this.watch(window);
    // Windows and silences are durations: measured on the monotonic clock, so that a step of the
    // wall clock neither hides a recent loss or stall nor makes live targets look silent.
    const now = monotonicNow(this.clock);
    const losses = this.losses.get(name);
    losses?.forgetBefore(now - this.retentionMs);
    const timeout = this.timeouts.get(name)!;
    const { manager } = entry;
    const targets = manager.getMonitoredTargets();
    let liveTargets = 0;
    for (const target of targets) {
      // Not one declared lost meanwhile: with phi-accrual that comes well within the timeout.
      const silence = manager.isTargetRunning(target)
        ? manager.millisSinceLastHeartbeat(target)
        : -1;
      if (silence >= 0 && silence <= timeout) {
        liveTargets += 1;
      }
    }
    const reasons: string[] = [];
    if (manager.isStopped) {
      reasons.push(HEARTBEAT_MESSAGES.managerStopped(name));
    } else if (entry.role === 'sender' && !entry.manager.isStarted) {
      reasons.push(HEARTBEAT_MESSAGES.senderNotStarted(name));
    }
    const lastStall = this.lastStall;
    if (lastStall && this.lastStallSeenAt > now - window) {
      reasons.push(
        HEARTBEAT_MESSAGES.processStalled(lastStall.stallMs, now - this.lastStallSeenAt, window),
      );
    }
    if (liveTargets < minLiveTargets) {
      reasons.push(HEARTBEAT_MESSAGES.tooFewLiveTargets(liveTargets, minLiveTargets, timeout));
    }
    const health: HeartbeatHealth = {
      status: reasons.length === 0 ? 'up' : 'down',
      targets: targets.length,
      liveTargets,
      lostInWindow: losses?.countSince(now - window) ?? 0,
      lastStall: lastStall && { ...lastStall },
      ...(reasons.length > 0 && { reason: reasons.join('; ') }),
    };
    return { [key]: health } as HeartbeatHealthIndicatorResult<Key>;
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  /** Watches the events from the first check on, keeping losses for the longest window asked for. */
  private watch(window: number): void {
    this.retentionMs = Math.max(this.retentionMs, window);
    if (this.subscription || this.closed) {
      return;
    }
    this.subscription = this.registry.changes().subscribe(this.record);
  }

  /** Events come as they happen (the managers emit synchronously): heard now is when they were. */
  private readonly record = (event: HeartbeatEvent): void => {
    if (event.type === 'timeout' || event.type === 'unreachable') {
      const now = monotonicNow(this.clock);
      let log = this.losses.get(event.manager);
      if (!log) {
        log = new LossLog();
        this.losses.set(event.manager, log);
      }
      log.add(now, now - this.retentionMs);
    } else if (event.type === 'stalled') {
      // One stall is seen by each manager's guard: the process's latest is what matters.
      this.lastStall = { at: event.at, stallMs: event.stallMs };
      this.lastStallSeenAt = monotonicNow(this.clock);
    }
  };
}

function checkOptions(options: HeartbeatHealthCheckOptions): HeartbeatHealthCheckOptions {
  if (typeof options !== 'object' || options === null) {
    throw healthOptionError('options', 'an object { manager, minLiveTargets?, window? }', options);
  }
  const { manager, minLiveTargets, window } = options;
  if (typeof manager !== 'string' || manager.length === 0) {
    throw healthOptionError('manager', 'the name of a declared manager', manager);
  }
  if (
    minLiveTargets !== undefined &&
    (!Number.isSafeInteger(minLiveTargets) || minLiveTargets < 0)
  ) {
    throw healthOptionError('minLiveTargets', 'an integer >= 0', minLiveTargets);
  }
  if (
    window !== undefined &&
    (typeof window !== 'number' || !Number.isFinite(window) || window <= 0)
  ) {
    throw healthOptionError('window', 'a number of ms > 0', window);
  }
  return options;
}

function healthOptionError(
  setting: string,
  rule: string,
  value: unknown,
): HeartbeatConfigurationError {
  return new HeartbeatConfigurationError(
    HEARTBEAT_MESSAGES.invalidHealthOption(setting, rule, value),
    [{ setting, rule, value }],
  );
}

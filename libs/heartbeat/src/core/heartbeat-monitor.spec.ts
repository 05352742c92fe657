import { HeartbeatMonitor, HeartbeatMonitorState } from './heartbeat-monitor.js';
import type { HeartbeatTarget } from './heartbeat-target.interface.js';
import { ManualClock } from './manual-clock.js';

const target: HeartbeatTarget<string> = {
  requestHeartbeat: () => Promise.resolve(),
  receiveHeartbeat: () => Promise.resolve(),
};

function newMonitor(rpcFailureThreshold = 2) {
  const clock = new ManualClock();
  const timeouts: string[] = [];
  const unreachable: string[] = [];
  const monitor = new HeartbeatMonitor('peer', target, {
    clock,
    scheduler: clock,
    timeout: 200,
    rpcFailureThreshold,
    onTimeout: (id) => timeouts.push(id),
    onUnreachable: (id) => unreachable.push(id),
  });
  return { clock, monitor, timeouts, unreachable };
}

describe('HeartbeatMonitor', () => {
  it('starts RUNNING, with no heartbeat yet and its timeout armed', () => {
    const { clock, monitor } = newMonitor();

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Running);
    expect(monitor.getLastHeartbeat()).toBe(0);
    expect(monitor.resourceId).toBe('peer');
    expect(monitor.target).toBe(target);
    expect(clock.pendingTasks).toBe(1);
  });

  it('records the time of a heartbeat and re-arms the timeout from it', () => {
    const { clock, monitor, timeouts } = newMonitor();

    clock.advance(150);
    monitor.reportHeartbeat();
    expect(monitor.getLastHeartbeat()).toBe(clock.now());
    expect(clock.pendingTasks).toBe(1);

    clock.advance(199);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual(['peer']);
  });

  it('re-arms one timer per monitor where the scheduler can refresh it: a heartbeat schedules nothing', () => {
    const clock = new ManualClock();
    let scheduled = 0;
    const timeouts: string[] = [];
    const monitor = new HeartbeatMonitor('peer', target, {
      clock,
      scheduler: {
        schedule: (task, delay) => {
          scheduled += 1;
          return clock.schedule(task, delay);
        },
      },
      timeout: 200,
      rpcFailureThreshold: 2,
      onTimeout: (id) => timeouts.push(id),
      onUnreachable: () => undefined,
    });
    for (let beat = 0; beat < 5; beat += 1) {
      clock.advance(150);
      monitor.reportHeartbeat();
    }

    expect(scheduled).toBe(1);
    clock.advance(199);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual(['peer']);
    expect(clock.pendingTasks).toBe(0);
  });

  it('goes RUNNING -> TIMEOUT once, calling onTimeout once', () => {
    const { clock, monitor, timeouts } = newMonitor();

    clock.advance(200);
    clock.advance(10_000);

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Timeout);
    expect(timeouts).toEqual(['peer']);
  });

  it('stays in TIMEOUT: a heartbeat does not re-arm, a cancel or failures change nothing', () => {
    const { clock, monitor, timeouts, unreachable } = newMonitor(1);
    clock.advance(200);

    monitor.reportHeartbeat();
    expect(clock.pendingTasks).toBe(0);
    monitor.reportHeartbeatRpcFailure();
    monitor.cancel();
    clock.advance(10_000);

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Timeout);
    expect(timeouts).toEqual(['peer']);
    expect(unreachable).toEqual([]);
  });

  it('goes RUNNING -> UNREACHABLE at the threshold, cancelling its timer, calling onUnreachable once', () => {
    const { clock, monitor, timeouts, unreachable } = newMonitor(2);

    monitor.reportHeartbeatRpcFailure();
    expect(monitor.getState()).toBe(HeartbeatMonitorState.Running);
    monitor.reportHeartbeatRpcFailure();
    expect(monitor.getState()).toBe(HeartbeatMonitorState.Unreachable);
    expect(clock.pendingTasks).toBe(0);

    monitor.reportHeartbeatRpcFailure();
    monitor.reportHeartbeat();
    clock.advance(10_000);

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Unreachable);
    expect(unreachable).toEqual(['peer']);
    expect(timeouts).toEqual([]);
  });

  it('resets the failure count on a successful RPC', () => {
    const { monitor, unreachable } = newMonitor(2);

    monitor.reportHeartbeatRpcFailure();
    monitor.reportHeartbeatRpcSuccess();
    monitor.reportHeartbeatRpcFailure();

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Running);
    expect(unreachable).toEqual([]);
  });

  it('never becomes UNREACHABLE with threshold -1', () => {
    const { monitor, unreachable } = newMonitor(-1);

    for (let i = 0; i < 10; i++) {
      monitor.reportHeartbeatRpcFailure();
    }

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Running);
    expect(unreachable).toEqual([]);
  });

  it('goes RUNNING -> CANCELED on cancel, cancelling its timer, with no callback ever after', () => {
    const { clock, monitor, timeouts, unreachable } = newMonitor(1);

    monitor.cancel();
    monitor.cancel();
    expect(monitor.getState()).toBe(HeartbeatMonitorState.Canceled);
    expect(clock.pendingTasks).toBe(0);

    monitor.reportHeartbeat();
    monitor.reportHeartbeatRpcFailure();
    clock.advance(10_000);

    expect(monitor.getState()).toBe(HeartbeatMonitorState.Canceled);
    expect(timeouts).toEqual([]);
    expect(unreachable).toEqual([]);
  });
});

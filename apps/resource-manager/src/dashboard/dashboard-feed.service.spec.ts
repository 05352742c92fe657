import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { VirtualTimeScheduler, type Subscription } from 'rxjs';
import { FakeDashboardSources } from '../../../../test/fixtures/fake-dashboard-sources.js';
import { DashboardFeed } from './dashboard-feed.service.js';
import type { DashboardMessage, HeartbeatsMessage } from './dashboard.messages.js';

const PUSH_MS = 250;
/** Epoch ms at virtual time 0, so that `now` looks like a real clock. */
const EPOCH = 1_700_000_000_000;

const slotsOf = (message: HeartbeatsMessage) => message.taskManagers[0].slots;

/** What one page received, in order. */
class Page {
  readonly messages: DashboardMessage[] = [];
  completed = false;
  private readonly subscription: Subscription;

  constructor(feed: DashboardFeed) {
    this.subscription = feed.messages().subscribe({
      next: (message) => this.messages.push(message),
      complete: () => (this.completed = true),
    });
  }

  of<T extends DashboardMessage['type']>(type: T): Array<Extract<DashboardMessage, { type: T }>> {
    return this.messages.filter(
      (message): message is Extract<DashboardMessage, { type: T }> => message.type === type,
    );
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}

describe('DashboardFeed', () => {
  let scheduler: VirtualTimeScheduler;
  let cluster: FakeDashboardSources;
  let feed: DashboardFeed;
  const now = () => EPOCH + scheduler.now();

  /** Runs every timer due up to virtual time `t` (ms), and leaves the clock at `t`. */
  const advanceTo = (t: number) => {
    scheduler.maxFrames = t;
    scheduler.flush();
    scheduler.frame = t;
  };

  beforeEach(() => {
    scheduler = new VirtualTimeScheduler();
    cluster = new FakeDashboardSources();
    feed = new DashboardFeed(cluster.sources(), {
      pushIntervalMs: PUSH_MS,
      timelineLength: 3,
      now,
      scheduler,
    });
    feed.onModuleInit();
  });

  afterEach(() => feed.beforeApplicationShutdown());

  it('opens every page with a snapshot of the TaskManagers, their slots and the timeline so far', () => {
    cluster.register('tm-a', 2, now());
    advanceTo(40);
    cluster.register('tm-b', 1, now());
    cluster.allocate('tm-a', 1, 'job-7');

    const page = new Page(feed);

    expect(page.messages).toEqual([
      {
        type: 'snapshot',
        now: EPOCH + 40,
        resourceManagerId: 'resource-manager-0000abcd',
        heartbeat: { interval: 200, timeout: 1_500 },
        pushIntervalMs: PUSH_MS,
        taskManagers: [
          {
            id: 'tm-a',
            address: '127.0.0.1:40000',
            slotsNumber: 2,
            freeSlots: 1,
            // Allocation ids stay on the server.
            slots: [
              { index: 0, free: true, jobId: null },
              { index: 1, free: false, jobId: 'job-7' },
            ],
            lastHeartbeat: EPOCH,
            roundTripMs: null,
          },
          {
            id: 'tm-b',
            address: '127.0.0.1:40001',
            slotsNumber: 1,
            freeSlots: 1,
            slots: [{ index: 0, free: true, jobId: null }],
            lastHeartbeat: EPOCH + 40,
            roundTripMs: null,
          },
        ],
        timeline: [
          {
            kind: 'registered',
            at: EPOCH,
            taskManagerId: 'tm-a',
            address: '127.0.0.1:40000',
            slotsNumber: 2,
          },
          {
            kind: 'registered',
            at: EPOCH + 40,
            taskManagerId: 'tm-b',
            address: '127.0.0.1:40001',
            slotsNumber: 1,
          },
        ],
      },
    ]);
  });

  it('pushes registrations and releases to every open page at once, and keeps the last few for later pages', () => {
    const first = new Page(feed);
    const second = new Page(feed);

    cluster.register('tm-a', 1, now());
    advanceTo(10);
    cluster.release('tm-a', 'unreachable', now());

    for (const page of [first, second]) {
      expect(page.messages.map((message) => message.type)).toEqual([
        'snapshot',
        'registered',
        'released',
      ]);
      expect(page.of('registered')[0]).toEqual({
        type: 'registered',
        now: EPOCH,
        taskManager: {
          id: 'tm-a',
          address: '127.0.0.1:40000',
          slotsNumber: 1,
          freeSlots: 1,
          slots: [{ index: 0, free: true, jobId: null }],
          lastHeartbeat: EPOCH,
          roundTripMs: null,
        },
        entry: {
          kind: 'registered',
          at: EPOCH,
          taskManagerId: 'tm-a',
          address: '127.0.0.1:40000',
          slotsNumber: 1,
        },
      });
      expect(page.of('released')[0]).toEqual({
        type: 'released',
        now: EPOCH + 10,
        taskManagerId: 'tm-a',
        reason: 'unreachable',
        entry: { kind: 'released', at: EPOCH + 10, taskManagerId: 'tm-a', reason: 'unreachable' },
      });
    }

    cluster.register('tm-b', 1, now());
    cluster.release('tm-b', 'goodbye', now());
    // The timeline keeps 3 entries (timelineLength): the oldest went.
    const late = new Page(feed);
    expect(late.of('snapshot')[0].timeline.map((e) => `${e.taskManagerId} ${e.kind}`)).toEqual([
      'tm-a released',
      'tm-b registered',
      'tm-b released',
    ]);
    expect(late.of('snapshot')[0].taskManagers).toEqual([]);
  });

  it('coalesces heartbeats into one push per interval, with the latest of each TaskManager', () => {
    cluster.register('tm-a', 1, now());
    cluster.register('tm-b', 1, now());
    const page = new Page(feed);

    // Ten heartbeats of tm-a and two of tm-b within one push interval...
    for (let i = 1; i <= 10; i++) {
      advanceTo(i * 20);
      cluster.heartbeat('tm-a', now(), i);
    }
    cluster.heartbeat('tm-b', now(), 50);
    cluster.heartbeat('tm-b', now(), 60);
    advanceTo(PUSH_MS - 1);
    expect(page.of('heartbeats')).toEqual([]);

    // ...make one message, a push interval after the first of them.
    advanceTo(20 + PUSH_MS);
    expect(page.of('heartbeats')).toEqual([
      {
        type: 'heartbeats',
        now: EPOCH + 20 + PUSH_MS,
        taskManagers: [
          {
            id: 'tm-a',
            lastHeartbeat: EPOCH + 200,
            roundTripMs: 10,
            freeSlots: 1,
            slots: [{ index: 0, free: true, jobId: null }],
          },
          {
            id: 'tm-b',
            lastHeartbeat: EPOCH + 200,
            roundTripMs: 60,
            freeSlots: 1,
            slots: [{ index: 0, free: true, jobId: null }],
          },
        ],
      },
    ]);

    // Nothing is pushed while no heartbeat comes; the next one opens the next interval.
    advanceTo(2_000);
    expect(page.of('heartbeats')).toHaveLength(1);
    cluster.heartbeat('tm-a', now(), 7);
    advanceTo(2_000 + PUSH_MS);
    expect(page.of('heartbeats')).toHaveLength(2);
    expect(page.of('heartbeats')[1].taskManagers.map(({ id }) => id)).toEqual(['tm-a']);
  });

  it('pushes at most one message per interval however many TaskManagers heartbeat', () => {
    for (let i = 0; i < 500; i++) {
      cluster.register(`tm-${i}`, 1, now());
    }
    const page = new Page(feed);
    // Every TaskManager heartbeats every 100 ms for 2 s.
    for (let t = 0; t < 2_000; t += 100) {
      advanceTo(t);
      for (let i = 0; i < 500; i++) {
        cluster.heartbeat(`tm-${i}`, now(), 1);
      }
    }
    advanceTo(2_000 + PUSH_MS);
    // 10,000 heartbeats, 7 messages: each push interval opens with the first heartbeat after the
    // last push (at 0, 300, 600, ... ms) and carries every TaskManager once.
    const pushes = page.of('heartbeats');
    expect(pushes.map((push) => push.now - EPOCH)).toEqual([250, 550, 850, 1150, 1450, 1750, 2050]);
    for (const push of pushes) {
      expect(push.taskManagers).toHaveLength(500);
    }
  });

  it('sends a TaskManager’s slots only when they changed, and to all pages again when one connects', () => {
    cluster.register('tm-a', 2, now());
    const page = new Page(feed);

    const beat = (t: number) => {
      advanceTo(t);
      cluster.heartbeat('tm-a', now(), 3);
      advanceTo(t + PUSH_MS);
    };
    beat(0);
    beat(1_000);
    cluster.allocate('tm-a', 0, 'job-1');
    beat(2_000);
    beat(3_000);
    const late = new Page(feed);
    beat(4_000);

    const pushes = page.of('heartbeats');
    expect(pushes.map(slotsOf)).toEqual([
      [
        { index: 0, free: true, jobId: null },
        { index: 1, free: true, jobId: null },
      ],
      undefined,
      [
        { index: 0, free: false, jobId: 'job-1' },
        { index: 1, free: true, jobId: null },
      ],
      undefined,
      // A page connected: everyone gets the slots once more, so "unchanged" means the same for all.
      [
        { index: 0, free: false, jobId: 'job-1' },
        { index: 1, free: true, jobId: null },
      ],
    ]);
    expect(pushes.map((push) => push.taskManagers[0].freeSlots)).toEqual([2, 2, 1, 1, 1]);
    expect(late.of('heartbeats')).toEqual([pushes[4]]);
  });

  it('does not push a heartbeat of a TaskManager released before the push, nor any lost-event', () => {
    cluster.register('tm-a', 1, now());
    cluster.register('tm-b', 1, now());
    const page = new Page(feed);

    advanceTo(10);
    cluster.heartbeat('tm-a', now(), 4);
    cluster.heartbeat('tm-b', now(), 4);
    cluster.heartbeatEvents.next({
      type: 'unreachable',
      manager: 'taskManagers',
      at: now(),
      target: 'tm-b',
      failure: 'connect ECONNREFUSED',
    });
    cluster.release('tm-b', 'unreachable', now());
    advanceTo(10 + PUSH_MS);

    expect(page.messages.map((message) => message.type)).toEqual([
      'snapshot',
      'released',
      'heartbeats',
    ]);
    expect(page.of('heartbeats')[0].taskManagers.map(({ id }) => id)).toEqual(['tm-a']);
  });

  it('gives a page connecting later the last round trip seen, and forgets it once the TaskManager is released', () => {
    cluster.register('tm-a', 1, now());
    const watcher = new Page(feed);
    cluster.heartbeat('tm-a', now(), 12);
    advanceTo(PUSH_MS);

    expect(new Page(feed).of('snapshot')[0].taskManagers[0].roundTripMs).toBe(12);

    cluster.release('tm-a', 'timeout', now());
    cluster.register('tm-a', 1, now());
    expect(new Page(feed).of('snapshot')[0].taskManagers[0].roundTripMs).toBeNull();
    watcher.close();
  });

  it('subscribes to the heartbeat events once however many pages are open, and not at all when none is', () => {
    expect(cluster.heartbeatSubscribers).toBe(0);
    const first = new Page(feed);
    const second = new Page(feed);
    expect(cluster.heartbeatSubscribers).toBe(1);
    first.close();
    expect(cluster.heartbeatSubscribers).toBe(1);
    second.close();
    expect(cluster.heartbeatSubscribers).toBe(0);
  });

  it('ends every page’s stream on shutdown, and a page connecting after it gets nothing', () => {
    const page = new Page(feed);
    feed.beforeApplicationShutdown();
    expect(page.completed).toBe(true);
    expect(cluster.heartbeatSubscribers).toBe(0);

    const late = new Page(feed);
    expect(late.messages).toEqual([]);
    expect(late.completed).toBe(true);
  });

  it('logs a failing view lookup instead of throwing into the registrations, and keeps going', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const page = new Page(feed);
      // The feed looks the new TaskManager up in the fake's map: break that lookup once.
      const get = jest.spyOn(cluster.states, 'get').mockImplementationOnce(() => {
        throw new Error('views broke');
      });

      expect(() => cluster.register('tm-a', 1, now())).not.toThrow();
      expect(error).toHaveBeenCalledWith(expect.stringContaining('views broke'));
      get.mockRestore();

      cluster.release('tm-a', 'goodbye', now());
      expect(page.messages.map((message) => message.type)).toEqual(['snapshot', 'released']);
    } finally {
      error.mockRestore();
    }
  });
});

import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { DashboardFeed } from '../apps/resource-manager/src/dashboard/dashboard-feed.service.js';
import {
  DASHBOARD_FEED_OPTIONS,
  DASHBOARD_SOURCES,
} from '../apps/resource-manager/src/dashboard/dashboard-sources.js';
import { DashboardController } from '../apps/resource-manager/src/dashboard/dashboard.controller.js';
import {
  CHROMIUM_INSTALL_TIMEOUT_MS,
  launchBrowser,
  type TestBrowser,
} from './fixtures/browser.js';
import { cellText, sinceMs, timelineEntries } from './fixtures/dashboard-page.js';
import { sleep } from './fixtures/e2e-utils.js';
import { FakeDashboardSources } from './fixtures/fake-dashboard-sources.js';

// The dashboard page in a real headless Chromium, served by the dashboard's controller and feed
// in this process, fed from fakes: what the page shows for each message, and that it shows data
// as text only. (test/cluster/dashboard.e2e-spec.ts runs it against real processes.)

const TEST_TIMEOUT_MS = 30_000;

/** Waits (bounded) until `read` returns something `accept` takes; fails with the last value. */
async function until<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(value)}`,
      );
    }
    await sleep(25);
  }
}

/** The dashboard's controller and feed alone, fed by `cluster`, on a loopback port. */
async function startDashboard(
  cluster: FakeDashboardSources,
  options: NestApplicationOptions = {},
  port = 0,
): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule({
    controllers: [DashboardController],
    providers: [
      DashboardFeed,
      { provide: DASHBOARD_SOURCES, useValue: cluster.sources() },
      { provide: DASHBOARD_FEED_OPTIONS, useValue: { pushIntervalMs: 50 } },
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false, ...options });
  await app.listen(port, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/` };
}

describe('the dashboard page (Chromium, fake cluster)', () => {
  let browser: TestBrowser;
  let app: INestApplication | undefined;
  let cluster: FakeDashboardSources;
  let url: string;
  let page: Page;
  /** Console errors and page errors (a CSP violation is one). */
  let problems: string[];
  /** Every request the page made, as "METHOD path". */
  let requests: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, CHROMIUM_INSTALL_TIMEOUT_MS + TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    cluster = new FakeDashboardSources();
    // As the ResourceManager's main.ts does: Chromium opens spare connections that never carry a
    // request, and the HTTP server would wait for them (minutes) when it closes.
    ({ app, url } = await startDashboard(cluster, { forceCloseConnections: true }));
    page = await browser.context.newPage();
    problems = [];
    requests = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => {
      requests.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
  }, TEST_TIMEOUT_MS);

  afterEach(async () => {
    await page?.close().catch(() => undefined);
    await app?.close();
    app = undefined;
  });

  it(
    'renders the snapshot, then the pushed registrations, heartbeats and losses, and ticks the time since a heartbeat by itself',
    async () => {
      cluster.register('tm-a', 2, Date.now());
      cluster.allocate('tm-a', 1, 'job-7');
      cluster.register('tm-b', 3, Date.now());

      await page.goto(url);
      await page.locator('#connection[data-state="live"]').waitFor();
      await page.locator('#task-managers tr[data-task-manager="tm-b"]').waitFor();
      expect(await cellText(page, 'tm-a', 'id')).toBe('tm-a');
      expect(await cellText(page, 'tm-a', 'address')).toBe('127.0.0.1:40000');
      expect(await cellText(page, 'tm-a', 'slots')).toBe('1 free / 2');
      expect(await cellText(page, 'tm-a', 'slot-map')).toBe('job-7');
      expect(await cellText(page, 'tm-b', 'slot-map')).toBe('all free');
      expect(await cellText(page, 'tm-a', 'round-trip')).toBe('\u2014');
      expect(await page.locator('#resource-manager').textContent()).toBe(
        'resource-manager-0000abcd',
      );
      expect(await page.locator('#summary').textContent()).toBe(
        '2 TaskManagers, 4 of 5 slots free',
      );

      // No message comes, yet the time since tm-a's last heartbeat grows: the page counts it.
      const before = await sinceMs(page, 'tm-a');
      await sleep(500);
      expect(await sinceMs(page, 'tm-a')).toBeGreaterThanOrEqual(before + 300);

      // A pushed heartbeat: its round trip shows, the time since it starts over, new slots show.
      cluster.allocate('tm-a', 0, 'job-7');
      cluster.heartbeat('tm-a', Date.now(), 17);
      await until(
        () => cellText(page, 'tm-a', 'round-trip'),
        (text) => text === '17 ms',
        'a round trip of 17 ms',
      );
      expect(await sinceMs(page, 'tm-a')).toBeLessThan(300);
      expect(await cellText(page, 'tm-a', 'slots')).toBe('0 free / 2');
      expect(await cellText(page, 'tm-a', 'slot-map')).toBe('job-7 \u00d72');

      // A loss: the row is marked lost with its reason, and the timeline names it first.
      cluster.release('tm-b', 'unreachable', Date.now());
      await page
        .locator('#task-managers tr[data-task-manager="tm-b"][data-state="lost"]')
        .waitFor();
      expect(await cellText(page, 'tm-b', 'status')).toBe('lost: unreachable');
      const newest = page.locator('#timeline li').first();
      expect(await newest.getAttribute('data-task-manager')).toBe('tm-b');
      expect(await newest.getAttribute('data-reason')).toBe('unreachable');
      expect(await newest.textContent()).toMatch(/tm-blost: unreachable$/);
      expect(await page.locator('#summary').textContent()).toBe('1 TaskManager, 0 of 2 slots free');

      // It registers again: its row is live again, and the timeline has all four entries.
      cluster.register('tm-b', 3, Date.now());
      await page.locator('#task-managers tr[data-task-manager="tm-b"][data-state="up"]').waitFor();
      expect(await timelineEntries(page)).toEqual([
        'tm-b registered',
        'tm-b released',
        'tm-b registered',
        'tm-a registered',
      ]);

      // All of it came over the one event stream: the page polled nothing.
      expect(requests).toEqual(['GET /', 'GET /events']);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows hostile ids, addresses and reasons as text: none of them becomes markup or runs',
    async () => {
      const id = `<img src=x onerror="document.title='pwned'">`;
      const address = `"><script>document.title='pwned'</script>`;
      const reason = `<b onmouseover="document.title='pwned'">x</b>`;
      cluster.register(id, 1, Date.now(), address);
      cluster.allocate(id, 0, `<i>job</i>`);

      await page.goto(url);
      await page.locator('#connection[data-state="live"]').waitFor();
      await until(
        () => cellText(page, id, 'id'),
        (text) => text === id,
        'the hostile id as text',
      );
      expect(await cellText(page, id, 'address')).toBe(address);
      expect(await cellText(page, id, 'slot-map')).toBe('<i>job</i>');
      cluster.release(id, reason, Date.now());
      await until(
        () => page.locator('#timeline li').first().textContent(),
        (text) => text?.endsWith(`released: ${reason}`) === true,
        'the release with the hostile reason as text',
      );

      expect(await page.title()).toBe('ResourceManager dashboard');
      expect(await page.locator('script').count()).toBe(1);
      expect(await page.locator('main img, main script, main b, main i').count()).toBe(0);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'is served with a policy that lets only its own inline script and style run',
    async () => {
      const response = await page.goto(url);
      const headers = response!.headers();
      expect(headers['content-type']).toBe('text/html; charset=utf-8');
      expect(headers['x-content-type-options']).toBe('nosniff');
      const policy = headers['content-security-policy'];
      expect(policy).toMatch(/default-src 'none'/);
      expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
      expect(policy).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
      expect(policy).toMatch(/connect-src 'self'/);
      expect(policy).not.toMatch(/unsafe/);

      // Under that policy the script runs (it connects) and the style applies (the header's grey).
      await page.locator('#connection[data-state="live"]').waitFor();
      expect(
        await page
          .locator('header')
          .evaluate(
            (header) => header.ownerDocument.defaultView.getComputedStyle(header).backgroundColor,
          ),
      ).toBe('rgb(246, 248, 250)');

      // An inline script the policy does not name is refused.
      await page.locator('body').evaluate((body) => {
        const script = body.ownerDocument.createElement('script');
        script.textContent = 'document.title = "injected"';
        body.appendChild(script);
      });
      expect(await page.title()).toBe('ResourceManager dashboard');
      expect(problems).toEqual([expect.stringMatching(/Content Security Policy/)]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'says it is reconnecting once the server goes, and starts over from a new snapshot when it is back',
    async () => {
      cluster.register('tm-a', 1, Date.now());
      await page.goto(url);
      await page.locator('#task-managers tr[data-task-manager="tm-a"]').waitFor();
      const { port } = new URL(url);
      await app!.close();
      await page.locator('#connection[data-state="reconnecting"]').waitFor();

      // Another ResourceManager start on the same port, where only tm-b is registered.
      cluster = new FakeDashboardSources();
      cluster.register('tm-b', 2, Date.now());
      ({ app } = await startDashboard(cluster, { forceCloseConnections: true }, Number(port)));
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: 5_000 });
      await page.locator('#task-managers tr[data-task-manager="tm-b"]').waitFor();
      expect(await cellText(page, 'tm-a', 'id')).toBeNull();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'ends its event streams on shutdown, so the server closes at once even without forced closing',
    async () => {
      const own = await startDashboard(new FakeDashboardSources());
      let open = true;
      try {
        const response = await fetch(`${own.url}events`, { signal: AbortSignal.timeout(5_000) });
        expect(response.headers.get('content-type')).toBe('text/event-stream');
        const reader = response.body!.getReader();
        const first = new TextDecoder().decode((await reader.read()).value);
        expect(first).toMatch(/^event: snapshot$/m);
        expect(first).toMatch(/^retry: 1000$/m);
        const data = JSON.parse(/^data: (.*)$/m.exec(first)![1]);
        expect(data).toMatchObject({ type: 'snapshot', taskManagers: [], timeline: [] });

        const started = Date.now();
        const [closed, rest] = await Promise.all([
          own.app.close().then(() => {
            open = false;
            return Date.now() - started;
          }),
          reader.read(),
        ]);
        expect(rest.done).toBe(true);
        // Without ending the stream and its connection, this takes Node's keep-alive timeout (5 s).
        expect(closed).toBeLessThan(1_000);
      } finally {
        if (open) {
          await own.app.close();
        }
      }
    },
    TEST_TIMEOUT_MS,
  );
});

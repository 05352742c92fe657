import { mkdir, mkdtemp, readFile, rm as remove } from 'node:fs/promises';
import { once } from 'node:events';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import {
  CHROMIUM_INSTALL_TIMEOUT_MS,
  launchBrowser,
  type TestBrowser,
} from '../fixtures/browser.js';
import { cellText, sinceMs, timelineEntries } from '../fixtures/dashboard-page.js';
import {
  Cluster,
  FAST_HEARTBEATS,
  HOST,
  noteTiming,
  sleep,
  TEST_TIMEOUT_MS,
  waitFor,
  waitForLine,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

// The ResourceManager's dashboard in a real headless Chromium, against a real ResourceManager and
// two TaskManagers (processes on loopback, short heartbeats). The tests run in order: the second
// kills tm-b, the third stops the ResourceManager.
//
// The screenshot is taken after the kill: tm-a live with job-1 on its slots, tm-b marked lost,
// and the timeline with both registrations and the loss. It goes to a temp dir, or to
// $DASHBOARD_SCREENSHOT (the README's picture: apps/resource-manager/dashboard.png).
const { interval, timeout } = FAST_HEARTBEATS;
/** Detection takes the timeout at the latest; the margin covers the push interval and scheduling. */
const LOSS_BUDGET_MS = timeout + 1_500;

const row = (page: Page, id: string, state: 'up' | 'lost') =>
  page.locator(`#task-managers tr[data-task-manager="${id}"][data-state="${state}"]`);

const listeningPort = async (tm: TaskManagerProcess) =>
  Number((await waitForLine(tm, /listening on 127\.0\.0\.1:(\d+) /))[1]);

describe('the ResourceManager dashboard in Chromium (real processes)', () => {
  const cluster = new Cluster();
  let rm: ResourceManagerProcess;
  let tmA: TaskManagerProcess;
  let tmB: TaskManagerProcess;
  let browser: TestBrowser | undefined;
  let page: Page;
  let screenshotDir: string | undefined;
  /** Every request the page made, as "METHOD path". */
  const requests: string[] = [];
  /** Console errors and page errors while the ResourceManager was up. */
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    rm = await cluster.startResourceManager();
    const fencingToken = await rm.ready();
    // One after the other, so that the rows (and the screenshot) come in a fixed order.
    tmA = cluster.startTaskManager({ id: 'tm-a', slots: 3, resourceManagerTcpPort: rm.tcpPort });
    await tmA.registered(fencingToken);
    tmB = cluster.startTaskManager({ id: 'tm-b', slots: 2, resourceManagerTcpPort: rm.tcpPort });
    await tmB.registered(fencingToken);
    page = await browser.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) =>
      requests.push(`${request.method()} ${new URL(request.url()).pathname}`),
    );
  }, CHROMIUM_INSTALL_TIMEOUT_MS + TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await cluster.killAll();
    if (screenshotDir) {
      await remove(screenshotDir, { recursive: true, force: true });
    }
  });

  it(
    'shows both TaskManagers live with their addresses, slots, jobs and round trips, all pushed over one event stream',
    async () => {
      await page.goto(`http://127.0.0.1:${rm.httpPort}/`);
      await page.locator('#connection[data-state="live"]').waitFor();
      await row(page, 'tm-a', 'up').waitFor();
      await row(page, 'tm-b', 'up').waitFor();
      expect(await cellText(page, 'tm-a', 'id')).toBe('tm-a');
      expect(await cellText(page, 'tm-a', 'address')).toBe(`127.0.0.1:${await listeningPort(tmA)}`);
      expect(await cellText(page, 'tm-b', 'address')).toBe(`127.0.0.1:${await listeningPort(tmB)}`);
      expect(await cellText(page, 'tm-a', 'slots')).toBe('3 free / 3');
      expect(await cellText(page, 'tm-b', 'slots')).toBe('2 free / 2');

      // Heartbeats arrive: round trips show, and the time since the last one stays short.
      for (const id of ['tm-a', 'tm-b']) {
        await waitFor(async () => /^\d+ ms$/.test((await cellText(page, id, 'round-trip')) ?? ''), {
          timeoutMs: 5_000,
          description: `a round trip for ${id} on the page`,
        });
        const since = await sinceMs(page, id);
        expect(since).toBeGreaterThanOrEqual(0);
        expect(since).toBeLessThan(timeout);
      }

      // Slots allocated through the HTTP API show once the TaskManager's next heartbeat reports them.
      const allocated = await rm.http('POST', '/slots/allocate', { jobId: 'job-1', count: 2 });
      expect(allocated.status).toBe(200);
      await waitFor(async () => (await cellText(page, 'tm-a', 'slots')) === '1 free / 3', {
        timeoutMs: 5_000,
        description: "tm-a's allocated slots on the page",
      });
      expect(await cellText(page, 'tm-a', 'slot-map')).toBe('job-1 \u00d72');
      expect(await cellText(page, 'tm-b', 'slot-map')).toBe('all free');
      expect(await page.locator('#summary').textContent()).toBe(
        '2 TaskManagers, 3 of 5 slots free',
      );

      expect(requests).toEqual(['GET /', 'GET /events']);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'marks a TaskManager killed with SIGKILL lost within the heartbeat timeout, and the timeline names it with its reason',
    async () => {
      await row(page, 'tm-b', 'up').waitFor();
      const killedAt = Date.now();
      await tmB.kill('SIGKILL');
      await row(page, 'tm-b', 'lost').waitFor({ timeout: LOSS_BUDGET_MS + 5_000 });
      const shownAt = Date.now();
      noteTiming('dashboard: SIGKILLed tm-b shown lost after', shownAt - killedAt, LOSS_BUDGET_MS);
      expect(shownAt - killedAt).toBeLessThanOrEqual(LOSS_BUDGET_MS);

      const reason = await row(page, 'tm-b', 'lost').getAttribute('data-reason');
      expect(reason).toMatch(/^(timeout|unreachable)$/);
      expect(await cellText(page, 'tm-b', 'status')).toBe(
        reason === 'timeout' ? 'lost: heartbeat timeout' : 'lost: unreachable',
      );
      const newest = page.locator('#timeline li').first();
      expect(await newest.getAttribute('data-task-manager')).toBe('tm-b');
      expect(await newest.getAttribute('data-kind')).toBe('released');
      expect(await newest.getAttribute('data-reason')).toBe(reason);
      expect(await newest.textContent()).toContain(`tm-b${await cellText(page, 'tm-b', 'status')}`);
      expect(await timelineEntries(page)).toEqual([
        'tm-b released',
        'tm-b registered',
        'tm-a registered',
      ]);
      // The ResourceManager says the same.
      expect(rm.lostLines('tm-b')).toEqual([
        expect.stringMatching(/lost: (unreachable|heartbeat timeout),/),
      ]);

      // tm-a is untouched and keeps heartbeating.
      await sleep(3 * interval);
      expect(await row(page, 'tm-a', 'up').count()).toBe(1);
      expect(await sinceMs(page, 'tm-a')).toBeLessThan(timeout);
      expect(await page.locator('#summary').textContent()).toBe('1 TaskManager, 1 of 3 slots free');

      const target =
        process.env.DASHBOARD_SCREENSHOT !== undefined && process.env.DASHBOARD_SCREENSHOT !== ''
          ? resolve(process.env.DASHBOARD_SCREENSHOT)
          : join((screenshotDir = await mkdtemp(join(tmpdir(), 'dashboard-'))), 'dashboard.png');
      await mkdir(dirname(target), { recursive: true });
      // As tall as the content (fullPage), without a screen's worth of white below it.
      await page.setViewportSize({ width: 1280, height: 400 });
      await page.screenshot({ path: target, fullPage: true });
      const png = await readFile(target);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');

      expect(requests).toEqual(['GET /', 'GET /events']);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'lets the ResourceManager stop at once on SIGTERM with the dashboard open, and the page says it is reconnecting',
    async () => {
      await page.locator('#connection[data-state="live"]').waitFor();
      // A connection that carries no request, as browsers keep spare ones: a closing HTTP server
      // waits for it (Node's headers timeout, a minute or more) unless it drops it.
      const spare = connect(rm.httpPort, HOST);
      await once(spare, 'connect');
      spare.on('error', () => undefined);
      const stoppedAt = Date.now();
      // Throws if it has not exited within 5 s.
      const status = await rm.kill('SIGTERM', 5_000);
      spare.destroy();
      noteTiming('dashboard: ResourceManager stopped after', Date.now() - stoppedAt, 5_000);
      expect(status.signal === 'SIGTERM' || status.code === 0).toBe(true);
      await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 5_000 });
    },
    TEST_TIMEOUT_MS,
  );
});

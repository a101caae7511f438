import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { adminApi, describeBrowser, launchBrowser, loginPage, startStandalone, type Standalone } from './support/browser';
import { browserTestDags } from './support/dags';

// The live connection survives a webserver restart: a page left open on the grid sees the
// events stream drop, reconnects by itself, and shows later changes live, without a reload.
jest.setTimeout(180_000);

describeBrowser('web UI: live updates after a webserver restart', () => {
  let server: Standalone;
  let browser: Browser;
  let page: Page;
  let dagsDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dagsDir = browserTestDags();
    [server, browser] = await Promise.all([startStandalone({}, dagsDir), launchBrowser()]);
    ({ page } = await loginPage(browser, server.url, 'admin', server.adminPassword));
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dagsDir) rmSync(dagsDir, { recursive: true, force: true });
  });

  const running = (runId: string) => `[data-testid="run-grid"] a[data-run="${runId}"][data-task="long"][data-state="running"]`;
  const finished = (runId: string) => `[data-testid="run-grid"] thead a[data-run="${runId}"][data-state="success"]`;

  it('reconnects after the standalone restarts and shows a new run turn green live', async () => {
    await page.goto('/dags/ui_actions?tab=grid');
    await page.locator('.live-open').waitFor();
    const first = await adminApi<{ runId: string }>(server, 'POST', '/dags/ui_actions/runs', {});
    await page.waitForSelector(running(first.runId), { timeout: 30_000 });
    await adminApi(server, 'POST', `/dags/ui_actions/runs/${first.runId}/tasks/long/mark`, { state: 'success' });
    await page.waitForSelector(finished(first.runId), { timeout: 30_000 });
    // A reload would drop this; it must still be there at the end.
    await page.evaluate('window.notReloaded = true');
    const streams: string[] = [];
    page.on('request', (r) => { if (r.url().endsWith('/api/v1/events')) streams.push(r.url()); });

    // While it is down, the events stream is answered 503, as a reverse proxy in front of the
    // webserver would: the browser's EventSource then gives up for good, and the page itself
    // must open a new one (a refused connection alone, the browser retries by itself).
    await page.route('**/api/v1/events', (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'restarting' }));
    const restart = server.restart();
    await page.locator('.live-closed').waitFor({ timeout: 30_000 }); // the page saw the stream drop
    await restart;
    await page.unroute('**/api/v1/events');
    await page.locator('.live-open').waitFor({ timeout: 30_000 });
    expect(streams.length).toBeGreaterThanOrEqual(1); // a new events stream, opened by the page itself

    // While the stream is open the page does not poll: this run's states can only come as events.
    const second = await adminApi<{ runId: string }>(server, 'POST', '/dags/ui_actions/runs', {});
    await page.waitForSelector(running(second.runId), { timeout: 30_000 });
    await adminApi(server, 'POST', `/dags/ui_actions/runs/${second.runId}/tasks/long/mark`, { state: 'success' });
    for (const task of ['long', 'next', 'last']) {
      await page.waitForSelector(`[data-testid="run-grid"] a[data-run="${second.runId}"][data-task="${task}"][data-state="success"]`, { timeout: 30_000 });
    }
    await page.waitForSelector(finished(second.runId), { timeout: 30_000 });
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    expect(await page.locator('.live-open').count()).toBe(1);
  });

  it('threw no error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});

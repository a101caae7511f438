import { adminApi, describeBrowser, useStandalonePage } from './support/browser';
import { browserTestDags } from './support/dags';

// The live connection survives a webserver restart: a page left open on the grid sees the
// events stream drop, reconnects by itself, and shows later changes live, without a reload.
jest.setTimeout(180_000);

describeBrowser('web UI: live updates after a webserver restart', () => {
  const ui = useStandalonePage({ dags: browserTestDags });

  const running = (runId: string) => `[data-testid="run-grid"] a[data-run="${runId}"][data-task="long"][data-state="running"]`;
  const finished = (runId: string) => `[data-testid="run-grid"] thead a[data-run="${runId}"][data-state="success"]`;

  it('reconnects after the standalone restarts and shows a new run turn green live', async () => {
    await ui.page.goto('/dags/ui_actions?tab=grid');
    await ui.page.locator('.live-open').waitFor();
    const first = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_actions/runs', {});
    await ui.page.waitForSelector(running(first.runId), { timeout: 30_000 });
    await adminApi(ui.server, 'POST', `/dags/ui_actions/runs/${first.runId}/tasks/long/mark`, { state: 'success' });
    await ui.page.waitForSelector(finished(first.runId), { timeout: 30_000 });
    // A reload would drop this; it must still be there at the end.
    await ui.page.evaluate('window.notReloaded = true');
    const streams: string[] = [];
    ui.page.on('request', (r) => { if (r.url().endsWith('/api/v1/events')) streams.push(r.url()); });

    // While it is down, the events stream is answered 503, as a reverse proxy in front of the
    // webserver would: the browser's EventSource then gives up for good, and the page itself
    // must open a new one (a refused connection alone, the browser retries by itself).
    await ui.page.route('**/api/v1/events', (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'restarting' }));
    const restart = ui.server.restart();
    await ui.page.locator('.live-closed').waitFor({ timeout: 30_000 }); // the page saw the stream drop
    await restart;
    await ui.page.unroute('**/api/v1/events');
    await ui.page.locator('.live-open').waitFor({ timeout: 30_000 });
    expect(streams.length).toBeGreaterThanOrEqual(1); // a new events stream, opened by the page itself

    // While the stream is open the page does not poll: this run's states can only come as events.
    const second = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_actions/runs', {});
    await ui.page.waitForSelector(running(second.runId), { timeout: 30_000 });
    await adminApi(ui.server, 'POST', `/dags/ui_actions/runs/${second.runId}/tasks/long/mark`, { state: 'success' });
    for (const task of ['long', 'next', 'last']) {
      await ui.page.waitForSelector(`[data-testid="run-grid"] a[data-run="${second.runId}"][data-task="${task}"][data-state="success"]`, { timeout: 30_000 });
    }
    await ui.page.waitForSelector(finished(second.runId), { timeout: 30_000 });
    expect(await ui.page.evaluate('window.notReloaded')).toBe(true);
    expect(await ui.page.locator('.live-open').count()).toBe(1);
  });

  it('threw no error in the page', () => {
    expect(ui.pageErrors).toEqual([]);
  });
});

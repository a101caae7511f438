import type { Browser, Page, Route } from 'playwright-core';
import type { TriesPage } from '@swarmflow/contracts';
import { describeBrowser, launchBrowser, loginPage, startStandalone, type Standalone } from './support/browser';

// The workers table is drawn from two answers: the workers (GET /workers) and their running
// tries (GET /tries?state=running). Until the second is in, a worker's Running cell says
// nothing, not "idle". Here that answer is held in the browser (page.route) until let go.
jest.setTimeout(120_000);

const RUNNING = '**/api/v1/tries?state=running&limit=500';

describeBrowser('web UI: the workers table while its running tries load', () => {
  let server: Standalone;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startStandalone(), launchBrowser()]);
    ({ page } = await loginPage(browser, server.url, 'admin', server.adminPassword));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says nothing of a worker\'s running tries before they are in, then shows them', async () => {
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let worker = '';
    const slowRunning = async (route: Route) => {
      await held;
      const at = new Date().toISOString();
      const answer: TriesPage = {
        items: [{
          tiId: 1, dagId: 'held_dag', runId: 'held_run', taskId: 'held_task', state: 'running', tryNumber: 1, maxTries: 1, queue: 'default',
          worker, hostname: null, exitCode: null, reason: null, queuedAt: at, startedAt: at, endedAt: null, durationSeconds: 1,
        }],
        total: 1, limit: 500, offset: 0,
      };
      // (A failed test may have unrouted it meanwhile: then its answer goes nowhere.)
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) }).catch(() => undefined);
    };
    await page.route(RUNNING, slowRunning);
    try {
      await page.goto('/workers');
      const row = page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]');
      await row.waitFor();
      worker = (await row.getAttribute('data-worker'))!;
      const running = row.locator('> td').nth(5);
      expect(await running.innerText()).toBe('…');
      letGo();
      await running.getByRole('link', { name: 'held_dag.held_task' }).waitFor();
      expect(await running.getByRole('link', { name: 'run', exact: true }).getAttribute('href')).toBe('/dags/held_dag/runs/held_run');
    } finally {
      letGo();
      await page.unroute(RUNNING, slowRunning);
    }
  });
});

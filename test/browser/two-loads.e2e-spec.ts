import type { Route } from 'playwright-core';
import type { DagSummaryDto, ImportErrorDto, TriesPage } from '@swarmflow/contracts';
import { describeBrowser, useStandalonePage } from './support/browser';

// Views drawn from two API answers say nothing wrong while the second is still out: the
// workers table (GET /workers, then GET /tries?state=running for the Running cells) and the
// DAG list's import errors count (GET /dags, then GET /import-errors). The second answer is
// held in the browser (page.route) until the test lets it go.
jest.setTimeout(120_000);

const RUNNING = '**/api/v1/tries?state=running&limit=500';

describeBrowser('web UI: views drawn from two answers, while the second loads', () => {
  const ui = useStandalonePage();

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
    await ui.page.route(RUNNING, slowRunning);
    try {
      await ui.page.goto('/workers');
      const row = ui.page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]');
      await row.waitFor();
      worker = (await row.getAttribute('data-worker'))!;
      const running = row.locator('> td').nth(5);
      expect(await running.innerText()).toBe('…');
      letGo();
      await running.getByRole('link', { name: 'held_dag.held_task' }).waitFor();
      expect(await running.getByRole('link', { name: 'run', exact: true }).getAttribute('href')).toBe('/dags/held_dag/runs/held_run');
    } finally {
      letGo();
      await ui.page.unroute(RUNNING, slowRunning);
    }
  });

  it('counts the import errors once GET /import-errors answers, not the flagged DAGs before (a file that never imported has none)', async () => {
    const at = new Date().toISOString();
    const flagged: DagSummaryDto = {
      dagId: 'held_flagged', fileloc: 'held_flagged.ts', isPaused: false, isActive: true, schedule: null, latestVersion: 'v1', tags: [],
      description: null, lastRun: null, recentRuns: [], nextRun: null, importError: { message: 'held_flagged.ts:3: SyntaxError', at },
    };
    const errors: ImportErrorDto[] = [
      { fileloc: 'held_flagged.ts', message: 'held_flagged.ts:3: SyntaxError', at },
      { fileloc: 'held_never.ts', message: 'held_never.ts:1: SyntaxError', at }, // never imported: no DAG on the list
    ];
    const dags = (route: Route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify([flagged]) });
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const slowErrors = async (route: Route) => {
      await held;
      // (A failed test may have unrouted it meanwhile: then its answer goes nowhere.)
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(errors) }).catch(() => undefined);
    };
    await ui.page.route('**/api/v1/dags', dags);
    await ui.page.route('**/api/v1/import-errors', slowErrors);
    try {
      await ui.page.goto('/dags');
      await ui.page.getByTestId('dag-table').locator('tr[data-dag="held_flagged"] .import-flag').waitFor();
      const link = ui.page.getByTestId('import-errors-link');
      expect(await link.textContent()).toBe('Import errors (…)');
      letGo();
      await link.getByText('Import errors (2)').waitFor();
    } finally {
      letGo();
      await ui.page.unroute('**/api/v1/import-errors', slowErrors);
      await ui.page.unroute('**/api/v1/dags', dags);
    }
  });
});

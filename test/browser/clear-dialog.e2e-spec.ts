import type { Request, Route } from 'playwright-core';
import { describeBrowser, useStandalonePage } from './support/browser';

// "Clear with upstream" on a try's page is one API call (the server clears the task, its
// upstream and its downstream in one transaction, or none of them), previewed by the dry run of
// that same call. The API's answers are made up in the browser (page.route), and each clear
// request the page sends is recorded.
jest.setTimeout(120_000);

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 9, 0, s)).toISOString();
const V1 = 'c1'.padEnd(64, '0');
const task = (taskId: string, upstream: string[] = []) => ({
  taskId, kind: 'process', command: 'true', env: {}, cwd: null, upstream, triggerRule: 'all_success', retries: 0, retryDelayMs: 1000,
  retryBackoff: 'fixed', maxRetryDelayMs: 1000, timeoutMs: null, queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: null,
});
// prepare → extract → train → report
const dag = {
  dagId: 'chain', fileloc: 'chain.ts', isPaused: false, isActive: true, schedule: null, latestVersion: V1, tags: [], description: null,
  lastRun: null, recentRuns: [], nextRun: null, importError: null, catchup: false, startDate: null, maxActiveRuns: 16, maxActiveTasks: 16, params: {},
  tasks: [task('prepare'), task('extract', ['prepare']), task('train', ['extract']), task('report', ['train'])],
};
const ti = {
  dagId: 'chain', runId: 'r1', taskId: 'train', state: 'failed', tryNumber: 1, maxTries: 1, queue: 'default', pool: 'default_pool',
  worker: 'w1', hostname: 'h1', exitCode: 1, reason: 'exit code 1', queuedAt: at(0), startedAt: at(1), endedAt: at(2), nextRetryAt: null,
  outputs: null, cachedFrom: null, history: [], tries: [],
};
const preview = {
  dagId: 'chain', runId: 'r1', dryRun: true, cleared: ['prepare', 'extract', 'train', 'report'], busy: [],
  taskInstances: [
    { taskId: 'prepare', state: 'success', tryNumber: 1 }, { taskId: 'extract', state: 'success', tryNumber: 1 },
    { taskId: 'train', state: 'failed', tryNumber: 1 }, { taskId: 'report', state: 'upstream_failed', tryNumber: 0 },
  ],
};
// The same dry run without the upstream: the task and its downstream.
const downstreamOnly = {
  ...preview, cleared: ['train', 'report'], taskInstances: preview.taskInstances.filter((t) => t.taskId === 'train' || t.taskId === 'report'),
};
const json = (route: Route, body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

describeBrowser('web UI: clear with upstream and downstream', () => {
  const ui = useStandalonePage();
  const clears: { task: string; body: Record<string, unknown> }[] = [];
  /** While set, a dry run without the upstream is answered only once it resolves (a slow answer). */
  let slowDownstreamOnly: Promise<void> | null = null;

  beforeAll(async () => {
    await ui.page.route('**/api/v1/dags/chain/runs/r1/tasks/train', (route) => json(route, ti));
    await ui.page.route('**/api/v1/dags/chain/runs/r1', (route) => json(route, { dagId: 'chain', runId: 'r1', versionHash: V1 }));
    await ui.page.route(`**/api/v1/dags/chain/versions/${V1}`, (route) => json(route, dag));
    await ui.page.route('**/api/v1/dags/chain/runs/r1/tasks/train/logs/stream?try=1', (route) => route.fulfill({
      status: 200, contentType: 'text/event-stream', body: 'event: end\ndata: {}\n\n',
    }));
    await ui.page.route('**/api/v1/dags/chain/runs/r1/tasks/*/clear', async (route, request: Request) => {
      const body = request.postDataJSON() as Record<string, unknown>;
      clears.push({ task: request.url().split('/').at(-2)!, body });
      if (!body.dryRun) return json(route, { dagId: 'chain', runId: 'r1', cleared: preview.cleared });
      if (!body.upstream && slowDownstreamOnly) await slowDownstreamOnly;
      return json(route, body.upstream ? preview : downstreamOnly);
    });
  });

  it('previews and clears the task with its upstream and downstream in one request', async () => {
    await ui.page.goto('/dags/chain/runs/r1/tasks/train');
    await ui.page.getByRole('button', { name: '↻ Clear…' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Clear' });
    await dialog.getByText('with upstream (2)').click();
    await dialog.getByTestId('action-preview').getByText('prepare').waitFor();
    expect(await dialog.getByTestId('action-preview').locator('li code').allTextContents()).toEqual(['prepare', 'extract', 'train', 'report']);
    await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
    await ui.page.getByRole('status').getByText('Cleared prepare, extract, train, report: they run again.').waitFor();
    // The preview asked for the same selection as the clear; nothing was sent per ancestor.
    expect(clears.at(-2)).toEqual({ task: 'train', body: { downstream: true, upstream: true, dryRun: true } });
    expect(clears.filter((c) => !c.body.dryRun)).toEqual([{ task: 'train', body: { downstream: true, upstream: true } }]);
  });

  it('shows the preview of the selection made last, when the answer for the one before comes after it', async () => {
    let letGo!: () => void;
    slowDownstreamOnly = new Promise<void>((resolve) => (letGo = resolve));
    try {
      await ui.page.goto('/dags/chain/runs/r1/tasks/train');
      const slowAnswer = ui.page.waitForEvent('requestfinished', (r) => r.url().endsWith('/tasks/train/clear') && (r.postDataJSON() as { upstream?: boolean }).upstream === false);
      await ui.page.getByRole('button', { name: '↻ Clear…' }).click(); // previews train with its downstream: held
      const dialog = ui.page.getByRole('dialog', { name: 'Clear' });
      await dialog.getByText('Previewing…').waitFor();
      await dialog.getByText('with upstream (2)').click(); // previews with the upstream too: answered at once
      const shown = dialog.getByTestId('action-preview').locator('li code');
      await dialog.getByTestId('action-preview').getByText('prepare').waitFor();
      letGo();
      await slowAnswer;
      // Until the page has handled that answer (the browser has painted twice since).
      await ui.page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
      expect(await shown.allTextContents()).toEqual(['prepare', 'extract', 'train', 'report']);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    } finally {
      letGo();
      slowDownstreamOnly = null;
    }
  });
});

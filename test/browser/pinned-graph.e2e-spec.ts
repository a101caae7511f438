import type { Locator, Page, Route } from 'playwright-core';
import { describeBrowser, useStandalonePage } from './support/browser';

// The Graph tab of a DAG draws the version the chosen run is pinned to, not the latest: a run
// of an older version runs that version's tasks and edges. The API's answers are made up in
// the browser (page.route): two versions of one DAG, a run on each.
jest.setTimeout(120_000);

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 9, 0, s)).toISOString();
const task = (taskId: string, upstream: string[] = []) => ({
  taskId, kind: 'process', command: 'true', env: {}, cwd: null, upstream, triggerRule: 'all_success', retries: 0, retryDelayMs: 1000,
  retryBackoff: 'fixed', maxRetryDelayMs: 1000, timeoutMs: null, queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: null,
});
const version = (hash: string, tasks: ReturnType<typeof task>[]) => ({
  dagId: 'evolving', fileloc: 'evolving.ts', isPaused: false, isActive: true, schedule: null, latestVersion: 'v2'.padEnd(64, '0'), tags: [], description: null,
  lastRun: null, recentRuns: [], nextRun: null, importError: null, catchup: false, startDate: null, maxActiveRuns: 16, maxActiveTasks: 16, params: {},
  tasks, hash,
});
const V1 = 'v1'.padEnd(64, '0');
const V2 = 'v2'.padEnd(64, '0');
// v1: extract → clean; v2: extract → train → report (clean is gone).
const latest = version(V2, [task('extract'), task('train', ['extract']), task('report', ['train'])]);
const older = version(V1, [task('extract'), task('clean', ['extract'])]);
const ti = (taskId: string, state: string) => ({
  taskId, state, tryNumber: 1, maxTries: 1, queue: 'default', pool: 'default_pool', worker: null, hostname: null, exitCode: null, reason: null,
  queuedAt: null, startedAt: at(1), endedAt: at(2), nextRetryAt: null, outputs: null, cachedFrom: null,
});
const run = (runId: string, versionHash: string, tis: ReturnType<typeof ti>[]) => ({
  dagId: 'evolving', runId, runType: 'manual', state: 'success', logicalDate: at(0), conf: {}, params: {}, versionHash, createdAt: at(0),
  startedAt: at(1), endedAt: at(3), reason: null, cacheForce: null, taskInstances: tis,
});
const grid = {
  dagId: 'evolving',
  runs: [
    run('new_run', V2, [ti('extract', 'cached'), ti('train', 'success'), ti('report', 'success')]),
    run('old_run', V1, [ti('extract', 'success'), ti('clean', 'success')]),
  ],
};
const json = (route: Route, body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

describeBrowser('web UI: the graph of a run pinned to an older version', () => {
  const ui = useStandalonePage();

  beforeAll(async () => {
    await ui.page.route('**/api/v1/dags/evolving', (route) => json(route, latest));
    await ui.page.route('**/api/v1/dags/evolving/grid?limit=25', (route) => json(route, grid));
    await ui.page.route(`**/api/v1/dags/evolving/versions/${V1}`, (route) => json(route, older));
  });

  /** The elements' attributes, `a:b` per element. */
  const attrs = async (loc: Locator, ...names: string[]) =>
    Promise.all((await loc.all()).map(async (el) => (await Promise.all(names.map((n) => el.getAttribute(n)))).join(':')));
  const nodes = (p: Page) => attrs(p.locator('svg.dag-graph g.node'), 'data-task', 'data-state');

  it("draws the old run's version (its tasks and edges), the latest for a run of it; the legend has cached and removed", async () => {
    await ui.page.goto('/dags/evolving?tab=graph&run=old_run');
    await ui.page.locator('svg.dag-graph g.node[data-task="clean"]').waitFor();
    expect((await nodes(ui.page)).sort()).toEqual(['clean:success', 'extract:success']);
    expect(await ui.page.locator('svg.dag-graph polyline.edge').count()).toBe(1);
    expect(await ui.page.getByTestId('graph-version').textContent()).toBe(`this run is pinned to an older version (${V1.slice(0, 10)}): the graph shows it`);

    await ui.page.locator('select').first().selectOption('new_run');
    await ui.page.locator('svg.dag-graph g.node[data-task="report"]').waitFor();
    expect((await nodes(ui.page)).sort()).toEqual(['extract:cached', 'report:success', 'train:success']);
    expect(await ui.page.getByTestId('graph-version').count()).toBe(0);

    const legend = await attrs(ui.page.getByLabel('Legend').locator('[data-state]'), 'data-state');
    expect(legend).toEqual(expect.arrayContaining(['cached', 'removed']));
  });

  it('draws nothing while the runs are loading: not the latest version, which the chosen run may not run', async () => {
    // The grid (the runs, and so which version the chosen run is pinned to) answers only when let go.
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const slowGrid = async (route: Route) => {
      await held;
      await json(route, grid).catch(() => undefined); // (unrouted meanwhile by a failed test: the answer goes nowhere)
    };
    await ui.page.route('**/api/v1/dags/evolving/grid?limit=25', slowGrid);
    try {
      await ui.page.goto('/dags/evolving?tab=graph&run=old_run');
      // The DAG is in (its tab's toolbar is drawn), the runs are not: no graph yet, and no "no runs yet".
      await ui.page.getByLabel('Legend').waitFor();
      expect(await ui.page.locator('svg.dag-graph g.node').count()).toBe(0);
      expect(await ui.page.locator('select').first().textContent()).toBe('loading the runs…');
      letGo();
      await ui.page.locator('svg.dag-graph g.node[data-task="clean"]').waitFor();
      expect((await nodes(ui.page)).sort()).toEqual(['clean:success', 'extract:success']);
    } finally {
      letGo();
      await ui.page.unroute('**/api/v1/dags/evolving/grid?limit=25', slowGrid);
    }
  });
});

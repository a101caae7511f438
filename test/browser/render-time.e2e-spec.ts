import { cpus, loadavg } from 'node:os';
import type { Browser, Page, Route } from 'playwright-core';
import { Database } from '@swarmflow/persistence';
import { seedBigViews } from '@swarmflow/persistence/test-support/big-views';
import { createTestDatabase, postgresAdminUrl, postgresAvailable, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { describeBrowser, launchBrowser, loginPage, startStandalone, startWebserver, type Standalone, type Webserver } from './support/browser';

// How long the big views take to render in this machine's chromium: a DAG list of 1,000
// DAGs and a grid of 100 runs × 200 tasks. Measured and printed, not asserted (issue 16 asks
// for under a second), twice: with the API answers made up in the browser (page.route), which
// isolates the UI's own work, and with the real webserver answering from PostgreSQL seeded
// with the same views (what a user sees; the made-up answers of 20,000 cells spend most of
// their time in playwright's route, not in the page). From navigation to the first rows painted.
jest.setTimeout(120_000);

const iso = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const RUN_STATES = ['success', 'failed', 'running', 'queued'];
const STATES = ['success', 'success', 'success', 'failed', 'running', 'up_for_retry', 'queued', 'none'];

function fakeDags(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    dagId: `dag_${String(i).padStart(4, '0')}`, fileloc: `dags/f${i % 50}.ts`, isPaused: i % 7 === 0, isActive: true,
    schedule: i % 3 ? '0 3 * * *' : null, latestVersion: 'v1', tags: [`team${i % 10}`, i % 2 ? 'ml' : 'etl'],
    description: `Generated DAG number ${i}`, lastRun: { runId: `r${i}_4`, state: STATES[i % 4], logicalDate: iso(i * 1000) },
    recentRuns: Array.from({ length: 5 }, (_, k) => ({ runId: `r${i}_${4 - k}`, state: RUN_STATES[(i + k) % 4], logicalDate: iso(i * 1000 - k) })),
    nextRun: i % 3 ? iso(86_400_000) : null, importError: i % 97 === 0 ? { message: `dags/f${i % 50}.ts:12: SyntaxError`, at: iso(0) } : null,
  }));
}

function fakeGrid(runs: number, tasks: number) {
  const taskIds = Array.from({ length: tasks }, (_, t) => `task_${String(t).padStart(3, '0')}`);
  return {
    detail: {
      dagId: 'big', fileloc: 'big.ts', isPaused: false, isActive: true, schedule: null, latestVersion: 'v1', tags: [], description: null,
      lastRun: null, nextRun: null, importError: null, catchup: false, startDate: null, maxActiveRuns: 16, maxActiveTasks: 16, params: {},
      tasks: taskIds.map((taskId, t) => ({
        taskId, kind: 'process', command: 'true', env: {}, cwd: null, upstream: t ? [taskIds[t - 1]] : [], triggerRule: 'all_success', retries: 1,
        retryDelayMs: 1000, retryBackoff: 'fixed', maxRetryDelayMs: 1000, timeoutMs: null, queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: null,
      })),
    },
    grid: {
      dagId: 'big',
      runs: Array.from({ length: runs }, (_, r) => ({
        dagId: 'big', runId: `run_${r}`, runType: 'manual', state: STATES[r % 4], logicalDate: iso(r * 60_000), conf: {}, params: {}, versionHash: 'v1',
        createdAt: iso(r * 60_000), startedAt: iso(r * 60_000), endedAt: iso(r * 60_000 + 30_000),
        taskInstances: taskIds.map((taskId, t) => ({
          taskId, state: STATES[(r + t) % STATES.length], tryNumber: (r + t) % 5 === 0 ? 2 : 1, maxTries: 2, queue: 'default', pool: 'default_pool',
          worker: 'w1', hostname: 'h1', exitCode: 0, reason: null, queuedAt: iso(0), startedAt: iso(1000), endedAt: iso(2000 + t), nextRetryAt: null,
        })),
      })),
    },
  };
}

/** The little of the page's DOM that the in-page checks use (this file compiles without the DOM lib). */
interface InPage {
  document: { querySelector(selector: string): unknown };
  performance: { getEntriesByType(type: 'resource'): { name: string }[] };
}

const json = (route: Route, body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

/** One view's figures: ms from navigation to painted, and to the last API answer's end, per try. */
interface Timed {
  wall: number[];
  answered: number[];
  cpu: string;
}

/** The real-server half needs PostgreSQL: without it the tests say so and skip, except under CI=true. */
const withPostgres = postgresAvailable() || process.env.CI === 'true';
const itWithPostgres = withPostgres ? it : it.skip;

describeBrowser('web UI: render time of big views (reported)', () => {
  let server: Standalone;
  let web: Webserver | undefined;
  let testDb: TestDatabase | undefined;
  let browser: Browser;
  /** On the standalone server, the API answers made up by page.route. */
  let page: Page;
  /** On the webserver over the seeded PostgreSQL database. */
  let realPage: Page;
  const report: string[] = [];
  const figures: Record<'list' | 'grid', { madeUp?: Timed; real?: Timed; api?: string }> = { list: {}, grid: {} };

  /** A migrated database seeded with the big views, and `swarmflow webserver` over it. */
  async function startRealServer(): Promise<void> {
    if (!postgresAvailable()) throw new Error(`PostgreSQL is required under CI=true but ${postgresAdminUrl()} is not reachable`);
    testDb = await createTestDatabase();
    const db = new Database({ url: testDb.url, poolSize: 1 });
    try {
      const start = Date.now();
      await seedBigViews(db);
      report.push(`(seeding PostgreSQL with 1,000 DAGs, 5,095 runs and 20,000 task instances: ${Date.now() - start} ms)`);
    } finally {
      await db.close();
    }
    web = await startWebserver(testDb.url);
  }

  beforeAll(async () => {
    [server, browser] = await Promise.all([startStandalone(), launchBrowser(), withPostgres ? startRealServer() : undefined]);
    ({ page } = await loginPage(browser, server.url, 'admin', server.adminPassword));
    if (web) ({ page: realPage } = await loginPage(browser, web.url, 'admin', web.adminPassword));
  });
  afterAll(async () => {
    const side = (f: { madeUp?: Timed; real?: Timed }, key: 'wall' | 'answered') =>
      `made-up ${f.madeUp ? f.madeUp[key].join(', ') : '-'} ms | real ${f.real ? f.real[key].join(', ') : '-'} ms`;
    const table = (['list', 'grid'] as const).map((view) => [
      `${view === 'list' ? 'DAG list, 1,000 DAGs' : 'Grid, 100 runs × 200 tasks'}:`,
      `  painted (navigation to the first rows painted): ${side(figures[view], 'wall')}`,
      `  API answers in (the view's answers' end, from navigation): ${side(figures[view], 'answered')}`,
      ...(figures[view].api ? [`  ${figures[view].api}`] : []),
    ].join('\n'));
    if (report.length) {
      process.stdout.write(`\nRender times (chromium ${browser?.version()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs);` +
        ` made-up = answers from page.route on the standalone server, real = swarmflow webserver over PostgreSQL:\n${table.map((l) => l.replace(/^/gm, '  ')).join('\n')}\n${report.map((l) => `  ${l}`).join('\n')}\n`);
    }
    await browser?.close();
    await server?.stop();
    await web?.stop();
    await testDb?.drop();
  });

  /**
   * Milliseconds from navigating to `url` to `selector` being in the page and painted, for
   * each of `tries`; and where the page's main thread spent its time meanwhile (Chrome's own
   * counters through CDP, less sensitive than wall time to other processes on a busy machine):
   * script, style recalculation, layout, and all tasks.
   */
  async function measure(on: Page, url: string, selector: string, needs: string[], tries = 3): Promise<Timed> {
    const wall: number[] = [];
    /** Per try: ms from the navigation to the end of the last answer of the API paths `needs` (Resource Timing); the rest is rendering. */
    const answered: number[] = [];
    const cdp = await on.context().newCDPSession(on);
    await cdp.send('Performance.enable');
    const counters = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const spent = { ScriptDuration: 0, RecalcStyleDuration: 0, LayoutDuration: 0, TaskDuration: 0 };
    for (let i = 0; i < tries; i++) {
      await on.goto('/runs');
      await on.getByRole('heading', { name: 'Runs' }).waitFor();
      // And its list of runs answered: the server must not still be busy with it (5,000 runs on the real one).
      await on.waitForFunction(() => (globalThis as unknown as InPage).performance.getEntriesByType('resource').some((e) => e.name.includes('/api/v1/runs?')), undefined, { timeout: 30_000 });
      await on.evaluate('performance.clearResourceTimings()');
      const before = await counters();
      const start = Date.now();
      await on.evaluate(`window.__navAt = performance.now(); window.history.pushState(null, '', ${JSON.stringify(url)}); window.dispatchEvent(new Event('sf:navigate'))`);
      // A plain querySelector once per frame: playwright's selector engine, polling, would take
      // as much of the page's main thread as the rendering measured.
      // (A function, not a string: the page's CSP refuses eval.)
      await on.waitForFunction((sel) => (globalThis as unknown as InPage).document.querySelector(sel) !== null, selector, { polling: 'raf', timeout: 30_000 });
      // Until the browser has painted it.
      await on.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
      wall.push(Date.now() - start);
      // The first answer to each of `needs` (the page may ask again later, e.g. the DAG after its grid).
      answered.push(await on.evaluate(`Math.round(Math.max(...${JSON.stringify(needs)}.map((need) => Math.min(...performance.getEntriesByType('resource')
        .filter((e) => new URL(e.name).pathname === need).map((e) => e.responseEnd)))) - window.__navAt)`));
      const after = await counters();
      for (const key of Object.keys(spent) as (keyof typeof spent)[]) spent[key] += ((after[key] ?? 0) - (before[key] ?? 0)) * 1000;
    }
    await cdp.detach();
    const avg = (ms: number) => Math.round(ms / tries);
    const cpu = `main thread per try: script ${avg(spent.ScriptDuration)} ms, style ${avg(spent.RecalcStyleDuration)} ms, layout ${avg(spent.LayoutDuration)} ms, all tasks ${avg(spent.TaskDuration)} ms`;
    return { wall, cpu, answered };
  }

  /** The real webserver's answer to `apiPath` timed from node (the browser's session): ms per try and its size. */
  async function timeApi(apiPath: string, tries = 3): Promise<string> {
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < tries; i++) {
      const start = Date.now();
      const res = await realPage.context().request.get(`/api/v1${apiPath}`);
      bytes = (await res.body()).length;
      expect(res.status()).toBe(200);
      ms.push(Date.now() - start);
    }
    return `GET /api/v1${apiPath} from the real webserver, timed from node: ${ms.join(', ')} ms, ${(bytes / 1e6).toFixed(1)} MB`;
  }

  it('a DAG list of 1,000 DAGs', async () => {
    const dags = fakeDags(1000);
    await page.route('**/api/v1/dags', (route) => json(route, dags));
    const { wall, cpu, answered } = figures.list.madeUp = await measure(page, '/dags', 'tr[data-dag="dag_0000"]', ['/api/v1/dags']);
    // Rows out of view are not rendered (spacers): the rows in the DOM, then the last one after scrolling the page down.
    const rendered = await page.locator('[data-testid="dag-table"] tbody tr[data-dag]').count();
    expect(rendered).toBeGreaterThanOrEqual(10);
    // Each row shows the last runs its DAG came with (the list asks for no other runs).
    const dots = await page.locator('tr[data-dag="dag_0001"] .recent-runs a').all();
    expect(await Promise.all(dots.map((dot) => dot.getAttribute('title')))).toEqual([
      'r1_4: failed', 'r1_3: running', 'r1_2: queued', 'r1_1: success', 'r1_0: failed',
    ]);
    await page.getByText('1000 of 1000').waitFor();
    const start = Date.now();
    await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
    await page.waitForFunction((sel) => (globalThis as unknown as InPage).document.querySelector(sel) !== null, 'tr[data-dag="dag_0999"]', { polling: 'raf' });
    const scrolled = Date.now() - start;
    report.push(`DAG list, 1,000 DAGs, made-up answers: ${wall.join(', ')} ms to the first rows painted (answers from page.route, the last one in at ${answered.join(', ')} ms; ${rendered} of 1,000 rows in the DOM: rows out of view are spacers); ${cpu}; ${scrolled} ms to the last row after scrolling to the bottom`);
    await page.unrouteAll();
  });

  it('a grid of 100 runs × 200 tasks', async () => {
    const { detail, grid } = fakeGrid(100, 200);
    await page.route('**/api/v1/dags/big', (route) => json(route, detail));
    await page.route('**/api/v1/dags/big/grid?limit=100', (route) => json(route, grid));
    const { wall, cpu, answered } = figures.grid.madeUp = await measure(page, '/dags/big?tab=grid&runs=100', 'a[data-run="run_99"][data-task="task_000"]', ['/api/v1/dags/big', '/api/v1/dags/big/grid']);
    // Rows out of view are not rendered (spacers): the cells in the DOM, then the last row after a scroll.
    const rendered = await page.locator('[data-testid="run-grid"] tbody a.cell').count();
    expect(rendered).toBeGreaterThanOrEqual(100);
    const start = Date.now();
    await page.locator('.grid-wrap').evaluate((el) => ((el as unknown as { scrollTop: number; scrollHeight: number }).scrollTop = (el as unknown as { scrollHeight: number }).scrollHeight));
    await page.waitForFunction((sel) => (globalThis as unknown as InPage).document.querySelector(sel) !== null, 'a[data-run="run_99"][data-task="task_199"]', { polling: 'raf' });
    const scrolled = Date.now() - start;
    // Runs out of view (from 60 runs) are not rendered either: the newest, on the right, after scrolling there.
    await page.locator('.grid-wrap').evaluate((el) => ((el as unknown as { scrollLeft: number; scrollWidth: number }).scrollLeft = (el as unknown as { scrollWidth: number }).scrollWidth));
    await page.waitForFunction((sel) => (globalThis as unknown as InPage).document.querySelector(sel) !== null, 'a[data-run="run_0"][data-task="task_199"]', { polling: 'raf' });
    report.push(`Grid, 100 runs × 200 tasks, made-up answers: ${wall.join(', ')} ms to the first rows painted (the API answers in at ${answered.join(', ')} ms; ${rendered} of 20,000 cells in the DOM: rows, and runs, out of view are spacers); ${cpu}; ${scrolled} ms to the last row after scrolling to the bottom`);
    // The keyboard reaches cells that were not rendered: End to the newest run, PageDown to the last task.
    await page.locator('.grid-wrap').evaluate((el) => ((el as unknown as { scrollLeft: number; scrollTop: number }).scrollLeft = 0, (el as unknown as { scrollTop: number }).scrollTop = 0));
    // The scroll back re-renders the windowed rows and runs: focus the first cell once it is
    // there and stays focused (a focus given to a cell about to be replaced is lost, and End
    // then goes nowhere: seen once in CI).
    type Active = { document: { activeElement: { getAttribute(n: string): string | null } | null } };
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { focus(): void } | null } }).document;
      doc.querySelector('a[data-r="0"][data-c="0"]')?.focus();
      const active = (globalThis as unknown as Active).document.activeElement;
      return active?.getAttribute('data-r') === '0' && active?.getAttribute('data-c') === '0';
    }, undefined, { polling: 100 });
    await page.keyboard.press('End');
    await page.waitForFunction(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('data-c') === '99');
    await page.unrouteAll();
  });
  // The keyboard walks the windowed grid from top to bottom and back, twice: each key press
  // must move the focus (a press was lost 1 walk in 3 or 4 when an effect of the scroll's
  // re-render, still pending at the press, took the focus meant for the new cell).
  it('PageDown and PageUp walk the windowed rows, every key press moving the focus', async () => {
    const { detail, grid } = fakeGrid(100, 200);
    await page.route('**/api/v1/dags/big', (route) => json(route, detail));
    await page.route('**/api/v1/dags/big/grid?limit=100', (route) => json(route, grid));
    await page.goto('/dags/big?tab=grid&runs=100');
    // The cell in the tab order (the first task's newest run, far right) is rendered though
    // its run is out of the horizontal window: Tab reaches the grid.
    await page.locator('a[data-r="0"][data-c="99"][tabindex="0"]').focus();
    // (one key at a time, as a person presses them: each waits for the focus to move)
    type Focus = { document: { activeElement: { getAttribute(n: string): string | null } | null } };
    // (The page's default wait: a lost press never moves the focus, however long the wait; a 5 s limit was a speed check a loaded CI machine can fail.)
    const focusedRow = (want: number) => page.waitForFunction((row) => (globalThis as unknown as Focus).document.activeElement?.getAttribute('data-r') === String(row), want);
    for (let walk = 0; walk < 2; walk++) {
      for (let r = 0; r < 199; ) {
        await page.keyboard.press('PageDown');
        r = Math.min(199, r + 10);
        await focusedRow(r);
      }
      expect(await page.evaluate('document.activeElement.getAttribute("data-task")')).toBe('task_199');
      for (let r = 199; r > 0; ) {
        await page.keyboard.press('PageUp');
        r = Math.max(0, r - 10);
        await focusedRow(r);
      }
      expect(await page.evaluate('document.activeElement.getAttribute("data-task")')).toBe('task_000');
    }
    await page.unrouteAll();
  });

  // The same views from the real webserver, over a database seeded as the DAG processor,
  // scheduler and workers would have left it (libs/persistence seedBigViews).
  itWithPostgres('a DAG list of 1,000 DAGs, from the real webserver', async () => {
    const { wall, cpu, answered } = figures.list.real = await measure(realPage, '/dags', 'tr[data-dag="dag_0000"]', ['/api/v1/dags']);
    await realPage.getByText('1000 of 1000').waitFor();
    // The seeded runs, newest first: dag_0001's last five, a day apart, one in four failed.
    const dots = await realPage.locator('tr[data-dag="dag_0001"] .recent-runs a').all();
    expect(await Promise.all(dots.map((dot) => dot.getAttribute('title')))).toEqual(
      [0, 1, 2, 3, 4].map((k) => expect.stringMatching(new RegExp(`^scheduled__\\S+: ${(1 + k) % 4 === 1 ? 'failed' : 'success'}$`))),
    );
    figures.list.api = await timeApi('/dags');
    report.push(`DAG list, 1,000 DAGs, real webserver: ${wall.join(', ')} ms to the first rows painted (the API answers in at ${answered.join(', ')} ms); ${cpu}`);
  });

  itWithPostgres('a grid of 100 runs × 200 tasks, from the real webserver', async () => {
    const { wall, cpu, answered } = figures.grid.real = await measure(realPage, '/dags/big?tab=grid&runs=100', 'a[data-run="run_99"][data-task="task_000"]', ['/api/v1/dags/big', '/api/v1/dags/big/grid']);
    // The oldest run (on the left) succeeded, task_006 on its second try (one cell in seven).
    const retried = realPage.locator('a[data-run="run_99"][data-task="task_006"]');
    expect(await retried.getAttribute('data-state')).toBe('success');
    expect(await retried.locator('sup.retries').textContent()).toBe('2');
    expect(await realPage.locator('[data-testid="run-grid"] tbody a.cell').count()).toBeGreaterThanOrEqual(100);
    figures.grid.api = await timeApi('/dags/big/grid?limit=100');
    report.push(`Grid, 100 runs × 200 tasks, real webserver: ${wall.join(', ')} ms to the first rows painted (the API answers in at ${answered.join(', ')} ms); ${cpu}`);
  });
});

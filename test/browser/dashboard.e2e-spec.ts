// The workers dashboard against the API it shows (issue 16): every column of a worker's row,
// its running tries linked to their runs, the /workers/:name deep link, the queue depth chart
// (one line per topic; its measure and time range change what is drawn), the filters of the
// "all tries" table (local-time From/To included), the admin Variables and Pools forms, and a
// run's graph turning from running to success live. Own server: the chart needs samples older
// than 15 minutes, written into the stopped embedded database before a restart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { REPO } from '../support/processes';
import { adminApi, describeBrowser, launchBrowser, loginPage, startStandalone, type Standalone } from './support/browser';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';

jest.setTimeout(180_000);

/** A task that runs until the test creates `<gates>/<run id>`, then one after it; and a DAG with a task on a queue nobody serves. */
function dashDags(dir: string, gates: string): void {
  writeFileSync(path.join(dir, 'dash_hold.yaml'), `id: dash_hold
description: "Dashboard tests: hold runs until the test opens its gate"
defaults:
  retries: 0
tasks:
  hold: >-
    while [ ! -e "${gates}/$SWARMFLOW_RUN_ID" ]; do sleep 0.1; done; echo released
  after:
    upstream: [hold]
    shell: echo after
`);
  writeFileSync(path.join(dir, 'dash_two.yaml'), `id: dash_two
description: "Dashboard tests: one task on default, one on side_q (no worker serves it: it stays queued)"
defaults:
  retries: 0
tasks:
  here: { shell: "echo here" }
  there: { shell: "echo there", queue: side_q }
`);
}

interface ApiWorker {
  name: string; hostname: string; state: string; queues: string[]; concurrency: number; gpus: number; running: unknown[];
  processed: number; failed: number; lastHeartbeatAt: string; startedAt: string | null; version: string | null;
}
interface ApiTry { dagId: string; runId: string; taskId: string; state: string; queue: string; worker: string | null; startedAt: string | null; queuedAt: string | null }

/** "12.3 s", "4m 5s", "2h 3m", "1d 2h" (formatDuration) in seconds. */
function seconds(text: string): number {
  let m = /^([\d.]+) s$/.exec(text);
  if (m) return Number(m[1]);
  m = /^(\d+)m (\d+)s$/.exec(text);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  m = /^(\d+)h (\d+)m$/.exec(text);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60;
  m = /^(\d+)d (\d+)h$/.exec(text);
  if (m) return Number(m[1]) * 86_400 + Number(m[2]) * 3600;
  throw new Error(`not a duration: "${text}"`);
}

/** A time as a datetime-local value in Europe/Paris (the browser contexts' zone). */
function parisLocal(ms: number): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(ms).replace(' ', 'T');
}

/** The API as the logged-in browser user (cookie + CSRF), answering status and body. */
async function apiInPage(page: Page, method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const csrf = (await page.context().cookies()).find((c) => c.name === 'swarmflow_csrf')?.value ?? '';
  return page.evaluate(async ([m, p, b, token]) => {
    const res = await fetch(`/api/v1${p}`, {
      method: m, headers: { 'X-CSRF-Token': decodeURIComponent(token!), ...(b === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: b === undefined ? undefined : JSON.stringify(b),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }, [method, apiPath, body, csrf] as const);
}

describeBrowser('web UI: the workers dashboard against its API, the tries filters, the admin forms, the live graph', () => {
  let server: Standalone;
  let browser: Browser;
  let dags: string;
  let gates: string;
  let worker: ApiWorker;
  let holdRun = '';

  const trigger = async (dagId: string) => (await adminApi<{ runId: string }>(server, 'POST', `/dags/${dagId}/runs`, {})).runId;
  const runState = async (dagId: string, runId: string) => (await adminApi<{ state: string }>(server, 'GET', `/dags/${dagId}/runs/${encodeURIComponent(runId)}`)).state;

  beforeAll(async () => {
    dags = mkdtempSync(path.join(tmpdir(), 'swarmflow-dash16-dags-'));
    gates = mkdtempSync(path.join(tmpdir(), 'swarmflow-dash16-gates-'));
    dashDags(dags, gates);
    [server, browser] = await Promise.all([startStandalone({}, dags), launchBrowser()]);
    // Queue depth samples from before this server started: the chart's time range has something to cut.
    // (In a child node: PGlite's wasm loading needs dynamic import, which jest's module VM refuses.)
    // Three consecutive samples (15 s apart) half an hour ago.
    const now = Date.now();
    const rows = [0, 1, 2].map((i) => [new Date(now - (now % 15_000) - 30 * 60_000 + i * 15_000).toISOString(), [5, 9, 3][i], [1, 2, 7][i]]);
    await server.restart(async () => {
      execFileSync(process.execPath, ['-e', `
        const { PGlite } = require('@electric-sql/pglite');
        (async () => {
          const db = await PGlite.create(process.argv[1]);
          for (const [at, ready, queued] of JSON.parse(process.argv[2])) {
            await db.query("INSERT INTO queue_depth_sample (at, queue, ready, unacked, consumers, queued, running) VALUES ($1, 'archive_q', $2, 0, 0, $3, 0), ($1, 'default', 1, 0, 1, 0, 0)", [at, ready, queued]);
          }
          await db.close();
        })().catch((err) => { console.error(err); process.exit(1); });
      `, path.join(server.home, 'db'), JSON.stringify(rows)], { cwd: REPO, stdio: 'inherit' });
    });
    await adminApi(server, 'POST', '/users', { name: 'vic', role: 'viewer', password: 'vic-password-1' });
    worker = (await adminApi<ApiWorker[]>(server, 'GET', '/workers')).find((w) => w.name.startsWith('standalone-'))!;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dags, { recursive: true, force: true });
    rmSync(gates, { recursive: true, force: true });
  });

  it('shows a running worker\'s row as GET /workers has it, links its running try to its run, and opens /workers/:name by deep link', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    holdRun = await trigger('dash_hold');
    await page.goto('/workers');
    const row = page.locator(`[data-testid=workers-table] tr[data-worker="${worker.name}"]`);
    await row.getByRole('link', { name: 'dash_hold.hold' }).waitFor();

    // Every column against the API, read at about the same time (retried while a heartbeat lands in between).
    const read = async () => {
      const api = (await apiInPage(page, 'GET', '/workers')).body as ApiWorker[];
      const w = api.find((x) => x.name === worker.name)!;
      const cells = (await row.locator('> td').allInnerTexts()).map((t) => t.trim());
      const now = Date.now();
      const shown = {
        name: cells[0]!.split('\n')[0], hostname: cells[0]!.split('\n').at(-1), state: cells[1]!.replace(/^\W+\s*/, ''),
        queues: cells[2], slots: cells[3]!.replace(/\s+/g, ' '), gpus: cells[4], processed: cells[6], failed: cells[7], version: cells[9],
        heartbeatAgeWithin2s: Math.abs(Number(/^(\d+) s ago$/.exec(cells[8]!)?.[1]) - (now - Date.parse(w.lastHeartbeatAt)) / 1000) <= 2.5,
        uptimeWithin2s: Math.abs(seconds(cells[10]!) - (now - Date.parse(w.startedAt!)) / 1000) <= 2.5,
      };
      const expected = {
        name: w.name, hostname: w.hostname, state: w.state, queues: w.queues.join(''), slots: `${w.running.length}/${w.concurrency} (${w.concurrency - w.running.length} free)`,
        gpus: String(w.gpus), processed: String(w.processed), failed: String(w.failed), version: w.version ?? '—', heartbeatAgeWithin2s: true, uptimeWithin2s: true,
      };
      return { shown, expected, w };
    };
    const compared = await waitUntil('the worker row to show what GET /workers says, with the held try running', async () => {
      const r = await read();
      return JSON.stringify(r.shown) === JSON.stringify(r.expected) && r.w.running.length === 1 ? r : undefined;
    }, { intervalMs: 100 }).catch(async (err: Error) => {
      const r = await read(); // a readable difference
      expect(r.shown).toEqual(r.expected);
      throw err;
    });
    expect(compared.shown.state).toBe('active');
    expect(compared.shown.queues).toBe('default');
    expect(compared.w.version).toMatch(/^\d+\.\d+\.\d+/);

    // The running try links to its run.
    await row.getByRole('link', { name: 'run', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `/dags/dash_hold/runs/${encodeURIComponent(holdRun)}`);
    await page.locator('[data-testid=run-tasks] tr[data-task=hold][data-state=running]').waitFor();

    // The worker's own page, opened by its address.
    await page.goto(`/workers/${encodeURIComponent(worker.name)}`);
    await page.getByRole('heading', { name: worker.name, exact: true }).waitFor();
    await page.locator(`[data-testid=workers-table] tr[data-worker="${worker.name}"] [data-worker-state=active]`).waitFor();
    await page.getByText(worker.hostname, { exact: true }).first().waitFor();
    await page.locator('[data-testid=tries-table] tr[data-task=hold][data-state=running]').waitFor();
    await page.goto('/workers/no_such_worker');
    // A worker that never reported: said so, not an empty page; a Retry (it may start yet) and the way to the workers.
    const noWorker = page.getByRole('alert');
    await expect(noWorker.innerText()).resolves.toMatch(/^Could not load worker no_such_worker: .*no_such_worker[\s\S]*It may have been removed, or the link is wrong\.\n/);
    await noWorker.getByRole('button', { name: '↻ Retry' }).waitFor();
    expect(await noWorker.getByRole('link', { name: 'See the workers' }).getAttribute('href')).toBe('/workers');
    expect(await page.locator('[data-testid=workers-table]').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows heartbeat age and uptime by the server\'s clock, right in a browser whose clock is an hour off', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    await page.clock.setSystemTime(Date.now() + 3600_000);
    await page.goto('/workers');
    const row = page.locator(`[data-testid=workers-table] tr[data-worker="${worker.name}"]`);
    await row.waitFor();
    const w = (await adminApi<ApiWorker[]>(server, 'GET', '/workers')).find((x) => x.name === worker.name)!;
    const cells = (await row.locator('> td').allInnerTexts()).map((t) => t.trim());
    const age = Number(/^(\d+) s ago$/.exec(cells[8]!)?.[1]);
    expect(age).toBeLessThan(30);
    expect(await row.locator('td:nth-child(9) .warn-text').count()).toBe(0);
    expect(Math.abs(seconds(cells[10]!) - (Date.now() - Date.parse(w.startedAt!)) / 1000)).toBeLessThan(10);
    await context.close();
  });

  it('draws the held run\'s graph node as running, then as success once it ends, without a reload', async () => {
    if (!holdRun || (await runState('dash_hold', holdRun)) !== 'running') holdRun = await trigger('dash_hold');
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    await page.goto(`/dags/dash_hold?tab=graph&run=${encodeURIComponent(holdRun)}`);
    const hold = page.locator('svg.dag-graph g.node[data-task=hold]');
    await page.locator('svg.dag-graph g.node[data-task=hold][data-state=running]').waitFor();
    // In the page (this file has no DOM types).
    const look = () => hold.evaluate((g: any) => {
      const { document, getComputedStyle } = globalThis as any;
      const probe = document.createElement('span');
      document.body.append(probe);
      const colour = (name: string): string => { probe.style.color = `var(--${name})`; return getComputedStyle(probe).color; };
      const expected = { running: colour('running'), success: colour('success') };
      probe.remove();
      return {
        label: g.getAttribute('aria-label') as string, icon: g.querySelector('.node-icon').textContent as string,
        bar: getComputedStyle(g.querySelector('.node-bar')).fill as string, expected,
      };
    });
    const running = await look();
    expect(running).toMatchObject({ label: 'hold: running', icon: '▶', bar: running.expected.running });
    expect(running.expected.running).not.toBe(running.expected.success);
    // A mark that a reload would lose; and the events feed is open (the page polls only while it is not).
    await page.evaluate(() => { (globalThis as unknown as { notReloaded: boolean }).notReloaded = true; });
    await page.locator('.topbar-right .live.live-open').waitFor();
    const runBadge = page.locator('.toolbar > .state[data-state]').first();
    expect(await runBadge.getAttribute('data-state')).toBe('running');

    writeFileSync(path.join(gates, holdRun), '');
    await page.locator('svg.dag-graph g.node[data-task=after][data-state=success]').waitFor();
    const done = await look();
    expect(done).toMatchObject({ label: 'hold: success', icon: '✓', bar: done.expected.success });
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await page.locator('.toolbar > .state[data-state=success]').first().waitFor();
    expect(await page.locator('.topbar-right .live.live-open').count()).toBe(1);
    await context.close();
  });

  it('draws one line per queue topic; the measure and time range selects change what is drawn', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const historyQueues = async (minutes: number) => {
      const h = (await apiInPage(page, 'GET', `/queues/history?minutes=${minutes}`)).body as { samples: { queue: string }[] };
      return [...new Set(h.samples.map((s) => s.queue))].sort();
    };
    // The server's own first sample (taken a second after start) is there too.
    await waitUntil('a live sample of the default topic', async () => (await historyQueues(15)).includes('default'), { intervalMs: 100 });
    await page.goto('/workers');
    const chart = page.locator('figure.depth-chart');
    const drawn = async () => ({
      lines: await chart.locator('svg[role=img] g[data-queue]').evaluateAll((gs) => gs.map((g) => (g as unknown as { getAttribute(name: string): string }).getAttribute('data-queue'))),
      paths: await chart.locator('svg[role=img] g[data-queue] path').count(),
      legend: (await chart.locator('figcaption > span').allInnerTexts()).map((t) => t.trim()),
    });
    const archivePoints = () => chart.locator('g[data-queue=archive_q] circle title').allTextContents();
    const topTick = async () => Math.max(...(await chart.locator('text.chart-label').allTextContents()).map(Number).filter((n) => !Number.isNaN(n)));

    await chart.locator('g[data-queue=archive_q]').waitFor();
    const hour = await historyQueues(60);
    expect(hour).toEqual(expect.arrayContaining(['archive_q', 'default']));
    expect(await drawn()).toEqual({ lines: hour, paths: hour.length, legend: hour });
    expect((await archivePoints()).map((t) => t.split(' at ')[0])).toEqual(['archive_q: 5 ready', 'archive_q: 9 ready', 'archive_q: 3 ready']);
    expect(await topTick()).toBe(9);
    // The time axis spans the hour asked for, ending now (the server's clock), not the first to the
    // last sample: the samples of half an hour ago sit near the middle, after the empty half hour.
    // (Read at once: the chart reloads every 15 s.)
    type El = { getAttribute(name: string): string | null; querySelector(s: string): El | null; querySelectorAll(s: string): ArrayLike<El>; textContent: string | null };
    const axis = () => chart.evaluate((figure) => {
      const fig = figure as unknown as El;
      const f = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
      const from = fig.getAttribute('data-from')!;
      const to = fig.getAttribute('data-to')!;
      return {
        from: Date.parse(from), to: Date.parse(to),
        firstArchiveX: Number(fig.querySelector('g[data-queue=archive_q] circle')?.getAttribute('cx')),
        timeLabels: Array.from(fig.querySelectorAll('svg[role=img] > text.chart-label')).map((t) => t.textContent ?? '').filter((t) => Number.isNaN(Number(t))),
        expectedLabels: [f.format(new Date(from)), f.format(new Date(to))],
      };
    });
    const hourAxis = await axis();
    expect((hourAxis.to - hourAxis.from) / 60_000).toBe(60);
    expect(Math.abs(Date.now() - hourAxis.to)).toBeLessThan(60_000);
    expect(hourAxis.timeLabels).toEqual(hourAxis.expectedLabels);
    const plot = { l: 36, w: 640 - 36 - 8 }; // DepthChart's padding and width
    const firstArchiveAt = Date.parse(((await apiInPage(page, 'GET', '/queues/history?minutes=60&queue=archive_q')).body as { samples: { at: string }[] }).samples[0]!.at);
    expect(Math.abs(hourAxis.firstArchiveX - (plot.l + ((firstArchiveAt - hourAxis.from) / (hourAxis.to - hourAxis.from)) * plot.w))).toBeLessThan(1);
    expect(hourAxis.firstArchiveX).toBeGreaterThan(plot.l + plot.w / 3); // half an hour in, give or take the test's own minutes
    // A line per run of consecutive samples: the half hour this server was down is a gap, not a slope.
    const subpaths = async (queue: string) => ((await chart.locator(`g[data-queue=${queue}] path`).getAttribute('d')) ?? '').split('M').filter(Boolean).map((p) => p.trim().split(' L').length);
    expect(await subpaths('archive_q')).toEqual([3]);
    expect(await subpaths('default')).toEqual([3, expect.any(Number)]);
    const readyPath = await chart.locator('g[data-queue=archive_q] path').getAttribute('d');

    await page.getByRole('combobox', { name: /^Chart/ }).selectOption('queued');
    await waitUntil('the chart to draw queued tries', async () => (await archivePoints())[0]?.startsWith('archive_q: 1 queued'), { intervalMs: 100 });
    expect((await archivePoints()).map((t) => t.split(' at ')[0])).toEqual(['archive_q: 1 queued', 'archive_q: 2 queued', 'archive_q: 7 queued']);
    expect(await topTick()).toBe(7);
    expect(await chart.locator('g[data-queue=archive_q] path').getAttribute('d')).not.toBe(readyPath);
    expect(new URL(page.url()).searchParams.get('measure')).toBe('queued');

    await page.getByRole('combobox', { name: /^Over/ }).selectOption('15');
    await chart.locator('g[data-queue=archive_q]').waitFor({ state: 'detached' });
    const quarter = await historyQueues(15);
    expect(quarter).not.toContain('archive_q');
    expect(await drawn()).toEqual({ lines: quarter, paths: quarter.length, legend: quarter });
    expect(new URL(page.url()).searchParams.get('minutes')).toBe('15');
    const quarterAxis = await axis();
    expect((quarterAxis.to - quarterAxis.from) / 60_000).toBe(15);
    expect(quarterAxis.timeLabels).toEqual(quarterAxis.expectedLabels);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('narrows the all-tries table by state, queue, worker, DAG and the local-time From/To fields', async () => {
    const twoRun = await trigger('dash_two');
    await waitUntil('dash_two: here succeeded, there queued on side_q', async () => {
      const tries = (await adminApi<{ items: ApiTry[] }>(server, 'GET', '/tries?dag=dash_two')).items;
      return tries.some((t) => t.taskId === 'here' && t.state === 'success') && tries.some((t) => t.taskId === 'there' && t.state === 'queued');
    }, { intervalMs: 100 });
    if ((await adminApi<{ total: number }>(server, 'GET', '/tries?dag=dash_hold')).total === 0) await trigger('dash_hold');

    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('/workers/tries');
    const form = page.getByRole('form', { name: 'Filter tries' });
    const rows = async () => (await page.locator('[data-testid=tries-table] tbody tr').evaluateAll((trs) => trs.map((tr) => {
      const tds = (tr as unknown as { querySelectorAll(s: string): Iterable<{ textContent: string | null }> }).querySelectorAll('td');
      const c = [...tds].map((td) => (td.textContent ?? '').trim());
      return `${c[1]}.${c[3]} ${c[0]} ${c[5]} ${c[6]}`;
    }))).sort();
    const showing = async (expected: string[]) => {
      try {
        await waitUntil(`the rows ${JSON.stringify(expected)}`, async () => JSON.stringify(await rows()) === JSON.stringify([...expected].sort()), { timeoutMs: 15_000, intervalMs: 100 });
      } catch {
        expect(await rows()).toEqual([...expected].sort());
      }
    };
    const filter = async (f: { state?: string; queue?: string; worker?: string; dag?: string; from?: string; to?: string }) => {
      await form.getByRole('combobox', { name: /^State/ }).selectOption(f.state ?? '');
      await form.getByRole('textbox', { name: 'Queue', exact: true }).fill(f.queue ?? '');
      await form.getByRole('textbox', { name: 'Worker', exact: true }).fill(f.worker ?? '');
      await form.getByRole('textbox', { name: 'DAG', exact: true }).fill(f.dag ?? '');
      await form.getByLabel('From', { exact: true }).fill(f.from ?? '');
      await form.getByLabel('To', { exact: true }).fill(f.to ?? '');
      await form.getByRole('button', { name: 'Filter' }).click();
    };
    const here = `dash_two.here ✓success default ${worker.name}`;
    const there = 'dash_two.there …queued side_q —';

    await page.locator('[data-testid=tries-table] tr[data-task=here]').waitFor();
    const all = await rows();
    expect(all).toEqual(expect.arrayContaining([here, there]));
    expect(all.some((r) => r.startsWith('dash_hold.'))).toBe(true);
    // The Started column: a try that has not started shows when it was queued, and says so.
    const startedCell = (task: string) => page.locator(`[data-testid=tries-table] tr[data-task=${task}] td`).nth(7).innerText();
    expect(await startedCell('there')).toMatch(/^queued \d/);
    expect(await startedCell('here')).toMatch(/^\d/);
    // The Try cell opens that try on the task's page.
    expect(await page.locator('[data-testid=tries-table] tr[data-task=here][data-try="1"] td').nth(4).getByRole('link', { name: /^1\/\d+$/ }).getAttribute('href'))
      .toMatch(/\/dags\/dash_two\/runs\/[^/]+\/tasks\/here\?try=1$/);

    await filter({ dag: 'dash_two' });
    await showing([here, there]);
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ dag: 'dash_two' });
    await filter({ dag: 'dash_two', queue: 'side_q' });
    await showing([there]);
    await filter({ dag: 'dash_two', state: 'success' });
    await showing([here]);
    await filter({ dag: 'dash_two', worker: worker.name });
    await showing([here]);
    await filter({ queue: 'side_q' });
    await showing([there]);
    await filter({ dag: 'dash_hold' });
    const hold = await waitUntil('only dash_hold rows', async () => {
      const got = await rows();
      return got.length > 0 && got.every((r) => r.startsWith('dash_hold.')) ? got : undefined;
    }, { intervalMs: 100 });
    expect(hold.some((r) => r.startsWith('dash_hold.hold '))).toBe(true);

    // From (inclusive) and To (exclusive) in the browser's zone, around the minute the side_q try was queued.
    const [sideTry] = (await adminApi<{ items: ApiTry[] }>(server, 'GET', `/tries?dag=dash_two&queue=side_q`)).items;
    expect(sideTry!.runId).toBe(twoRun);
    const at = Date.parse(sideTry!.startedAt ?? sideTry!.queuedAt!);
    const minute = at - (at % 60_000);
    const [thisMinute, nextMinute] = [parisLocal(minute), parisLocal(minute + 60_000)];
    const empty = page.getByText('No tries match these filters');
    await filter({ dag: 'dash_two', queue: 'side_q', from: nextMinute });
    await empty.waitFor();
    expect(new URL(page.url()).searchParams.get('since')).toBe(new Date(minute + 60_000).toISOString());
    await expect(form.getByLabel('From', { exact: true }).inputValue()).resolves.toBe(nextMinute);
    await filter({ dag: 'dash_two', queue: 'side_q', from: thisMinute });
    await showing([there]);
    await filter({ dag: 'dash_two', queue: 'side_q', to: thisMinute });
    await empty.waitFor();
    expect(new URL(page.url()).searchParams.get('until')).toBe(new Date(minute).toISOString());
    await filter({ dag: 'dash_two', queue: 'side_q', from: thisMinute, to: nextMinute });
    await showing([there]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('adds, replaces and deletes variables (a secret never reaches the browser) and pools through the admin forms', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const bodies: string[] = [];
    const puts: { url: string; status: number; sent: string | null }[] = [];
    page.on('response', async (res) => {
      if (!res.url().includes('/api/v1/')) return;
      if (res.request().method() === 'PUT') puts.push({ url: res.url(), status: res.status(), sent: res.request().postData() });
      bodies.push(await res.text().catch(() => ''));
    });
    await page.goto('/admin/variables');
    const form = page.getByRole('form', { name: 'Set a variable' });
    const table = page.locator('[data-testid=variables-table]');

    await form.getByLabel('Key').fill('dash_plain');
    await form.getByLabel('Value').fill('plain-value-1');
    await form.getByLabel('Description').fill('a plain one');
    await form.getByRole('button', { name: 'Add variable' }).click();
    await table.locator('tr[data-key=dash_plain]').getByText('plain-value-1').waitFor();

    await form.getByLabel('Key').fill('dash_secret');
    await form.getByLabel('Secret').check();
    await form.getByLabel('Value').fill('first-secret-QX7');
    await form.getByRole('button', { name: 'Add variable' }).click();
    const secretRow = table.locator('tr[data-key=dash_secret]');
    await secretRow.getByText('secret', { exact: true }).waitFor();
    await expect(secretRow.getByLabel('hidden secret value').textContent()).resolves.toBe('••••••••');
    const firstUpdate = ((await adminApi<{ key: string; updatedAt: string }[]>(server, 'GET', '/variables')).find((v) => v.key === 'dash_secret'))!.updatedAt;

    // Replace: the form opens empty (the value is never sent to the browser) and write-only.
    await secretRow.getByRole('button', { name: 'Edit dash_secret' }).click();
    await expect(form.getByLabel('Key').isDisabled()).resolves.toBe(true);
    await expect(form.getByLabel('Value').inputValue()).resolves.toBe('');
    await expect(form.getByLabel('Value').getAttribute('type')).resolves.toBe('password');
    await form.getByLabel('Value').fill('second-secret-QX7');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('button', { name: 'Add variable' }).waitFor();
    const replaced = await waitUntil('the secret to be replaced', async () => {
      const v = (await adminApi<{ key: string; secret: boolean; updatedAt: string; value?: unknown }[]>(server, 'GET', '/variables')).find((x) => x.key === 'dash_secret');
      return v && v.updatedAt !== firstUpdate ? v : undefined;
    }, { intervalMs: 100 });
    expect(replaced.secret).toBe(true);
    expect(puts.map((p) => [new URL(p.url).pathname, p.status, JSON.parse(p.sent!).value])).toEqual([
      ['/api/v1/variables/dash_plain', 201, 'plain-value-1'],
      ['/api/v1/variables/dash_secret', 201, 'first-secret-QX7'],
      ['/api/v1/variables/dash_secret', 200, 'second-secret-QX7'],
    ]);
    await page.reload();
    await secretRow.waitFor();
    for (const secret of ['first-secret-QX7', 'second-secret-QX7']) {
      expect(await page.content()).not.toContain(secret);
      expect(bodies.filter((b) => b.includes(secret))).toEqual([]);
    }

    // Deleting asks first, naming what goes; Cancel keeps it (a secret could not be recovered).
    const variableKeys = async () => (await adminApi<{ key: string }[]>(server, 'GET', '/variables')).map((v) => v.key);
    const plainRow = table.locator('tr[data-key=dash_plain]');
    const deletes: string[] = [];
    page.on('request', (req) => { if (req.method() === 'DELETE') deletes.push(new URL(req.url()).pathname); });
    await plainRow.getByRole('button', { name: 'Delete dash_plain' }).click();
    const plainConfirm = plainRow.getByRole('group', { name: 'Confirm deletion of dash_plain' });
    expect(await plainConfirm.getByRole('alert').innerText()).toBe('Delete variable dash_plain?');
    await plainConfirm.getByRole('button', { name: 'Cancel deletion of dash_plain' }).click();
    await plainConfirm.waitFor({ state: 'detached' });
    await plainRow.getByRole('button', { name: 'Delete dash_plain' }).waitFor();
    expect(await variableKeys()).toEqual(expect.arrayContaining(['dash_plain', 'dash_secret']));
    expect(deletes).toEqual([]);
    await plainRow.getByRole('button', { name: 'Delete dash_plain' }).click();
    await plainConfirm.getByRole('button', { name: 'Confirm deletion of dash_plain' }).click();
    await plainRow.waitFor({ state: 'detached' });
    await secretRow.getByRole('button', { name: 'Delete dash_secret' }).click();
    const secretConfirm = secretRow.getByRole('group', { name: 'Confirm deletion of dash_secret' });
    expect(await secretConfirm.getByRole('alert').innerText()).toBe('Delete secret variable dash_secret? Its value cannot be recovered: only set again.');
    await secretConfirm.getByRole('button', { name: 'Confirm deletion of dash_secret' }).click();
    await secretRow.waitFor({ state: 'detached' });
    expect(deletes).toEqual(['/api/v1/variables/dash_plain', '/api/v1/variables/dash_secret']);
    expect((await adminApi<{ key: string }[]>(server, 'GET', '/variables')).map((v) => v.key)).not.toEqual(expect.arrayContaining(['dash_plain']));
    expect((await adminApi<{ key: string }[]>(server, 'GET', '/variables')).filter((v) => v.key.startsWith('dash_'))).toEqual([]);

    // Pools: add with slots, change, delete.
    await page.goto('/admin/pools');
    const poolForm = page.getByRole('form', { name: 'Set a pool' });
    const pools = page.locator('[data-testid=pools-table]');
    const poolSlots = async () => (await adminApi<{ name: string; slots: number }[]>(server, 'GET', '/pools')).find((p) => p.name === 'dash_pool')?.slots;
    await poolForm.getByLabel('Name').fill('dash_pool');
    await poolForm.getByLabel('Slots').fill('3');
    await poolForm.getByLabel('Description').fill('three at once');
    await poolForm.getByRole('button', { name: 'Save pool' }).click();
    const poolRow = pools.locator('tr[data-pool=dash_pool]');
    await poolRow.waitFor();
    await expect(poolRow.locator('td').allInnerTexts()).resolves.toEqual(['dash_pool', '3', 'three at once', expect.any(String)]);
    expect(await poolSlots()).toBe(3);
    await poolRow.getByRole('button', { name: 'Edit dash_pool' }).click();
    await expect(poolForm.getByLabel('Slots').inputValue()).resolves.toBe('3');
    await poolForm.getByLabel('Slots').fill('5');
    await poolForm.getByRole('button', { name: 'Save pool' }).click();
    await waitUntil('the pool row to show 5 slots', async () => (await poolRow.locator('td').nth(1).innerText()) === '5', { intervalMs: 100 });
    expect(await poolSlots()).toBe(5);
    await poolRow.getByRole('button', { name: 'Delete dash_pool' }).click();
    const poolConfirm = poolRow.getByRole('group', { name: 'Confirm deletion of dash_pool' });
    expect(await poolConfirm.getByRole('alert').innerText()).toBe('Delete pool dash_pool?');
    await poolConfirm.getByRole('button', { name: 'Cancel deletion of dash_pool' }).click();
    await poolConfirm.waitFor({ state: 'detached' });
    expect(await poolSlots()).toBe(5);
    await poolRow.getByRole('button', { name: 'Delete dash_pool' }).click();
    await poolConfirm.getByRole('button', { name: 'Confirm deletion of dash_pool' }).click();
    await poolRow.waitFor({ state: 'detached' });
    expect(await poolSlots()).toBeUndefined();
    await context.close();
  });

  it('gives a viewer no write buttons on the admin pages, and the API refuses the viewer\'s writes (403)', async () => {
    await adminApi(server, 'PUT', '/pools/dash_kept', { slots: 2, description: 'viewer tests' });
    await adminApi(server, 'PUT', '/variables/dash_kept', { value: 'v' });
    const { context, page } = await loginPage(browser, server.url, 'vic', 'vic-password-1');
    // A deep link to Variables shows Pools, the one section a viewer has, read-only.
    await page.goto('/admin/variables');
    await page.locator('[data-testid=pools-table] tr[data-pool=dash_kept]').waitFor();
    expect(await page.getByRole('navigation', { name: 'Admin' }).getByRole('link').allTextContents()).toEqual(['Pools']);
    expect(await page.getByRole('form').count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Pools' }).getByRole('button').count()).toBe(0);
    expect(await page.locator('[data-testid=variables-table]').count()).toBe(0);
    const refused = [
      await apiInPage(page, 'PUT', '/pools/dash_viewer', { slots: 1 }),
      await apiInPage(page, 'PUT', '/pools/dash_kept', { slots: 9 }),
      await apiInPage(page, 'DELETE', '/pools/dash_kept'),
      await apiInPage(page, 'PUT', '/variables/dash_viewer', { value: 'x' }),
      await apiInPage(page, 'DELETE', '/variables/dash_kept'),
      await apiInPage(page, 'GET', '/variables'),
    ];
    expect(refused.map((r) => [r.status, (r.body as { reason?: string }).reason])).toEqual(Array(6).fill([403, 'forbidden']));
    expect((await adminApi<{ name: string; slots: number }[]>(server, 'GET', '/pools')).find((p) => p.name === 'dash_kept')?.slots).toBe(2);
    expect((await adminApi<{ key: string }[]>(server, 'GET', '/variables')).map((v) => v.key)).toEqual(expect.arrayContaining(['dash_kept']));
    expect((await adminApi<{ key: string }[]>(server, 'GET', '/variables')).map((v) => v.key)).not.toContain('dash_viewer');
    await context.close();
  });
});

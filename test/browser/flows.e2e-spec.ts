import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { adminApi, describeBrowser, loginPage, screenshot, useStandalonePage } from './support/browser';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { browserTestDags } from './support/dags';
import { formatDuration } from '../../apps/ui/src/components/duration';

// What a user does in the web UI, against a real standalone server (embedded database,
// in-memory broker, a worker) in Debian's chromium.
jest.setTimeout(180_000);

describeBrowser('web UI: DAGs, runs and tasks', () => {
  const ui = useStandalonePage({ dags: browserTestDags });

  /** The grid cell of `taskId` in `runId`. */
  const cell = (runId: string, taskId: string) => ui.page.locator(`[data-testid="run-grid"] a[data-run="${runId}"][data-task="${taskId}"]`);

  it('lists the DAGs with search and tags, and opens one by its deep link', async () => {
    await ui.page.goto('/dags');
    const table = ui.page.getByTestId('dag-table');
    await table.locator('tr[data-dag="ml_pipeline"]').waitFor();
    await table.locator('tr[data-dag="ui_flaky"]').waitFor();
    await ui.page.getByLabel('Search DAGs').fill('fan_out');
    await table.locator('tr[data-dag="ml_pipeline"]').waitFor({ state: 'detached' });
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(ui.page.url()).toContain('q=fan_out');
    await ui.page.getByLabel('Search DAGs').fill('');
    await table.getByRole('button', { name: 'ml', exact: true }).first().click();
    await table.locator('tr[data-dag="ui_flaky"]').waitFor({ state: 'detached' });
    expect(ui.page.url()).toContain('tag=ml');
  });

  it('triggers ml_pipeline from the form: the API\'s message on a bad param, then the grid turns green live', async () => {
    await ui.page.goto('/dags/ml_pipeline/trigger');
    const dataset = ui.page.locator('select#param-dataset'); // an enum param is a select
    expect(await dataset.inputValue()).toBe('small');
    await ui.page.locator('#param-epochs').fill('ten');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    const fieldError = ui.page.locator('[data-param="epochs"] .field-error');
    await fieldError.waitFor();
    // Worded for a form: the field's problem and fix, without the API's example of a JSON body (or the CLI's --conf).
    const problem = await fieldError.textContent();
    expect(problem).toBe('must be integer (got "ten"). Fix: enter a whole number.');
    expect(problem).not.toContain('--conf');
    expect(problem).not.toContain('the body {');
    // In raw JSON mode the user writes the body: there the API's example is the right fix.
    await ui.page.getByRole('button', { name: 'Raw JSON' }).click();
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.locator('.error-box').filter({ hasText: 'conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. the body {"conf": {"epochs":' }).waitFor();
    await ui.page.getByRole('button', { name: 'Form', exact: true }).click();
    expect(await fieldError.textContent()).toBe('must be integer (got "ten"). Fix: enter a whole number.');
    // Out of range (minimum 1): the API's message; once the value changes, it no longer applies
    // and goes, before any submit.
    await ui.page.locator('#param-epochs').fill('0');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await waitUntil('the out-of-range error on epochs', async () => {
      const text = await fieldError.textContent({ timeout: 1000 }).catch(() => null);
      return text && /minimum|at least|>= ?1/i.test(text) ? text : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    expect(await ui.page.locator('#param-epochs').getAttribute('aria-invalid')).toBe('true');
    await ui.page.locator('#param-epochs').fill('3');
    await fieldError.waitFor({ state: 'detached' });
    expect(await ui.page.locator('#param-epochs').getAttribute('aria-invalid')).toBeNull();
    await screenshot(ui.page, 'trigger-form');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.waitForURL(/\/dags\/ml_pipeline\?tab=grid&triggered=/);
    const runId = new URL(ui.page.url()).searchParams.get('triggered')!;
    // No reload from here: the states arrive live, over the events stream (not the fallback poll).
    await ui.page.locator('.live-open').waitFor();
    for (const task of ['ingest', 'preprocess', 'train', 'evaluate']) {
      await ui.page.waitForSelector(`[data-testid="run-grid"] a[data-run="${runId}"][data-task="${task}"][data-state="success"]`, { timeout: 60_000 });
    }
    await ui.page.waitForSelector(`[data-testid="run-grid"] thead a[data-run="${runId}"][data-state="success"]`, { timeout: 30_000 });
    await screenshot(ui.page, 'grid');
    const run = await adminApi<{ conf: Record<string, unknown> }>(ui.server, 'GET', `/dags/ml_pipeline/runs/${runId}`);
    expect(run.conf).toEqual({ dataset: 'small', epochs: 3, learning_rate: expect.anything(), min_accuracy: expect.anything() });
  });

  it('shows a param\'s range (ml_pipeline\'s min_accuracy, 0 to 1) on its field, and a value outside it gets the API\'s message there', async () => {
    await ui.page.goto('/dags/ml_pipeline/trigger');
    const field = ui.page.locator('[data-param="min_accuracy"]');
    const input = ui.page.locator('#param-min_accuracy');
    await input.waitFor();
    expect(await field.locator('.muted.small').textContent()).toBe('evaluate fails below this test accuracy — number · min 0 · max 1 · default 0.6');
    expect(await input.getAttribute('placeholder')).toBe('0 – 1');
    /** The API's own refusal of `conf` (nothing is created: the trigger is refused). */
    const refusal = async (conf: Record<string, unknown>) => {
      const token = readFileSync(path.join(ui.server.home, 'standalone-token'), 'utf8').trim();
      const res = await fetch(`${ui.server.url}/api/v1/dags/ml_pipeline/runs`, {
        method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ conf }),
      });
      expect(res.status).toBe(400);
      return (await res.json()) as { message: string; field: string; problem: string; hint: string };
    };
    const fieldError = field.locator('.field-error');
    for (const value of [1.5, -0.25]) {
      const expected = await refusal({ min_accuracy: value });
      expect(expected.field).toBe('conf.min_accuracy');
      await input.fill(String(value));
      await fieldError.waitFor({ state: 'detached' }); // the previous value's error goes once it changes
      await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
      await fieldError.waitFor();
      // The API's problem with the value and its fix, without the fix's example of a JSON body.
      expect(expected.hint).toBe('pass a valid value');
      expect(await fieldError.textContent()).toBe(`${expected.problem}. Fix: enter a valid value.`);
      expect(expected.message).toContain(`conf.min_accuracy ${expected.problem}. Fix: pass a valid value, e.g. the body {"conf": `);
      expect(expected.problem).toContain(value > 1 ? '<= 1' : '>= 0');
      expect(await input.getAttribute('aria-invalid')).toBe('true');
    }
    expect(new URL(ui.page.url()).pathname).toBe('/dags/ml_pipeline/trigger'); // refused: still on the form
  });

  it('triggers from raw JSON with a logical date picked in the user\'s zone (Europe/Paris here)', async () => {
    await ui.page.goto('/dags/ui_flaky/trigger');
    await ui.page.getByRole('button', { name: 'Raw JSON' }).click();
    const conf = ui.page.getByLabel('conf JSON');
    // The textarea is filled on the next render after the switch: wait for it, then read it.
    const raw = await waitUntil('the raw JSON to hold the form\'s values', async () => (await conf.inputValue()) || undefined, { timeoutMs: 10_000, intervalMs: 50 });
    expect(JSON.parse(raw)).toEqual({ ticks: 3 }); // the form's values, defaults included
    await conf.fill('{"ticks": 1}');
    await ui.page.getByLabel('Logical date').fill('2026-01-02T03:04:05');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.waitForURL(/triggered=/);
    const runId = new URL(ui.page.url()).searchParams.get('triggered')!;
    const run = await adminApi<{ conf: unknown; logicalDate: string }>(ui.server, 'GET', `/dags/ui_flaky/runs/${runId}`);
    expect(run).toMatchObject({ conf: { ticks: 1 }, logicalDate: '2026-01-02T02:04:05.000Z' });
    // The same date again: refused, in words for the page (the CLI's `tasks clear … --downstream` is for the CLI).
    await ui.page.goto('/dags/ui_flaky/trigger');
    await ui.page.getByLabel('Logical date').fill('2026-01-02T03:04:05');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    const refused = ui.page.locator('.error-box').filter({ hasText: `already has a run at logical date 2026-01-02T02:04:05.000Z: "${runId}"` });
    await refused.waitFor();
    expect(await refused.textContent()).toContain('Fix: to run that date again, clear the tasks of that run, or pick another logical date.');
    expect(await refused.textContent()).not.toMatch(/--|swarmflow /);

    // Times show in the user's zone; hovering one gives its UTC time.
    await ui.page.goto(`/dags/ui_flaky/runs/${encodeURIComponent(runId)}`);
    const logical = ui.page.locator('dl.kv dt:text-is("Logical date") + dd time');
    await logical.hover();
    expect(await logical.getAttribute('title')).toBe('2026-01-02 02:04:05 UTC');
    expect(await logical.textContent()).toMatch(/03:04:05/); // Paris, UTC+1 in January
  });

  it('keeps the conf keys that are no params when switching raw JSON → form, and triggers with them', async () => {
    await ui.page.goto('/dags/ui_flaky/trigger');
    await ui.page.getByRole('button', { name: 'Raw JSON' }).click();
    await ui.page.getByLabel('conf JSON').fill('{"ticks": 2, "label": "from-raw", "notify": {"to": ["ops"]}}');
    await ui.page.getByRole('button', { name: 'Form', exact: true }).click();
    expect(await ui.page.locator('#param-ticks').inputValue()).toBe('2');
    // Nothing on this page is live: no live indicator (it said a red "offline", as if the server were down).
    expect(await ui.page.locator('.topbar-right .live').count()).toBe(0);
    const other = ui.page.getByLabel('Other conf keys');
    expect(JSON.parse(await other.inputValue())).toEqual({ label: 'from-raw', notify: { to: ['ops'] } });
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.waitForURL(/triggered=/);
    const runId = new URL(ui.page.url()).searchParams.get('triggered')!;
    const run = await adminApi<{ conf: unknown }>(ui.server, 'GET', `/dags/ui_flaky/runs/${runId}`);
    expect(run.conf).toEqual({ ticks: 2, label: 'from-raw', notify: { to: ['ops'] } });

    // Form → raw JSON shows them back with the params; a param typed among them is refused, not sent twice.
    await ui.page.goto('/dags/ui_flaky/trigger');
    await ui.page.getByLabel('Other conf keys').fill('{"label": "x"}');
    await ui.page.getByRole('button', { name: 'Raw JSON' }).click();
    expect(JSON.parse(await ui.page.getByLabel('conf JSON').inputValue())).toEqual({ ticks: 3, label: 'x' });
    await ui.page.getByRole('button', { name: 'Form', exact: true }).click();
    await ui.page.getByLabel('Other conf keys').fill('{"ticks": 5}');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.getByRole('alert').getByText('Other conf keys: "ticks" is a param: set it in its field above.').waitFor();
    expect(new URL(ui.page.url()).pathname).toBe('/dags/ui_flaky/trigger');
  });

  it('shows the graph laid out with the run\'s states, and the latest definition', async () => {
    await ui.page.goto('/dags/ml_pipeline?tab=graph');
    await ui.page.waitForSelector('svg.dag-graph g.node[data-task="evaluate"][data-state="success"]');
    const xs = await ui.page.locator('svg.dag-graph g.node').evaluateAll((nodes) => nodes.map((n) => (n as unknown as { getAttribute(name: string): string | null }).getAttribute('transform')));
    expect(new Set(xs).size).toBe(4); // four distinct positions from the layout
    await screenshot(ui.page, 'graph');
    await ui.page.goto('/dags/ml_pipeline?tab=definition');
    await ui.page.getByTestId('definition-json').waitFor({ state: 'attached' });
    expect(await ui.page.getByTestId('definition-json').textContent()).toContain('"taskId": "train"');
  });

  it('opens a task\'s log while it runs and sees lines arrive live, then the try finish', async () => {
    await ui.page.goto('/dags/ui_flaky/trigger');
    // 30 ticks, 12 s: the page must open the log while it still runs (with 12, 4.8 s, a slow CI page load could miss it).
    await ui.page.locator('#param-ticks').fill('30');
    await ui.page.getByRole('button', { name: '▶ Trigger run' }).click();
    await ui.page.waitForURL(/triggered=/);
    const runId = new URL(ui.page.url()).searchParams.get('triggered')!;
    await ui.page.waitForSelector(`[data-testid="run-grid"] a[data-run="${runId}"][data-task="slow"][data-state="running"]`, { timeout: 30_000 });
    await cell(runId, 'slow').click();
    await ui.page.getByTestId('task-details').waitFor();
    expect(decodeURIComponent(new URL(ui.page.url()).pathname)).toBe(`/dags/ui_flaky/runs/${runId}/tasks/slow`);
    await ui.page.getByTestId('log-status').getByText('● live').waitFor();
    await ui.page.getByTestId('log').getByText('tick 3 of 30').waitFor();
    expect(await ui.page.getByTestId('log').textContent()).not.toContain('tick 30 of 30');
    await screenshot(ui.page, 'task-log');
    await ui.page.getByTestId('log').getByText('tick 30 of 30').waitFor({ timeout: 30_000 });
    await ui.page.getByTestId('log-status').getByText('■ try finished').waitFor({ timeout: 30_000 });
  });

  it('clears a failed task with its downstream after a preview, and sees it rerun and succeed', async () => {
    const { runId } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_flaky/runs', { conf: { ticks: 1 } });
    await ui.page.goto(`/dags/ui_flaky/runs/${runId}`);
    await ui.page.waitForSelector('[data-testid="run-tasks"] tr[data-task="flaky"][data-state="failed"]', { timeout: 60_000 });
    await ui.page.waitForSelector('[data-testid="run-tasks"] tr[data-task="after"][data-state="upstream_failed"]', { timeout: 30_000 });
    await ui.page.goto(`/dags/ui_flaky/runs/${runId}/tasks/flaky`);
    await ui.page.getByTestId('log').getByText('failing on purpose').waitFor();
    await ui.page.getByRole('button', { name: '↻ Clear…' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Clear' });
    await dialog.getByLabel('with downstream').check();
    const preview = dialog.getByTestId('action-preview');
    await preview.getByText('after').waitFor();
    expect(await preview.locator('li code').allTextContents()).toEqual(['flaky', 'after']);
    await screenshot(ui.page, 'clear-preview');
    await dialog.getByRole('button', { name: 'Clear', exact: true }).click();
    await ui.page.getByRole('status').getByText('Cleared flaky, after').waitFor();
    // The page follows the new try live: its log, then success.
    await ui.page.getByRole('link', { name: 'Try 2 (latest)' }).waitFor({ timeout: 30_000 });
    await ui.page.getByTestId('log').getByText('flaky: ok on try 2').waitFor({ timeout: 30_000 });
    await ui.page.goto(`/dags/ui_flaky/runs/${runId}`);
    await ui.page.waitForSelector('[data-testid="run-tasks"] tr[data-task="after"][data-state="success"]', { timeout: 30_000 });
  });

  it('a viewer sees no write buttons, and the API refuses the writes', async () => {
    await adminApi(ui.server, 'POST', '/users', { name: 'vera', role: 'viewer', password: 'viewer-password-1' });
    const viewer = await loginPage(ui.browser, ui.server.url, 'vera', 'viewer-password-1');
    const p = viewer.page;
    await p.getByTestId('current-user').getByText('viewer').waitFor();
    await p.goto('/dags/ml_pipeline');
    await p.getByTestId('run-grid').waitFor();
    expect(await p.getByRole('link', { name: '▶ Trigger' }).count()).toBe(0);
    // The DAG's state as text, not a control.
    expect(await p.getByTestId('pause-state').textContent()).toBe('active');
    expect(await p.getByRole('switch').count()).toBe(0);
    expect(await p.getByRole('checkbox').count()).toBe(0);
    // A deep link to the trigger form: no form the API would refuse.
    await p.goto('/dags/ml_pipeline/trigger');
    await p.getByTestId('trigger-not-allowed').getByText('you are viewer').waitFor();
    expect(await p.getByRole('button', { name: '▶ Trigger run' }).count()).toBe(0);
    const { runs } = await adminApi<{ runs: { runId: string }[] }>(ui.server, 'GET', '/dags/ml_pipeline/grid?limit=1');
    await p.goto(`/dags/ml_pipeline/runs/${runs[0]!.runId}/tasks/train`);
    await p.getByTestId('task-details').waitFor();
    // The actions are drawn with the DAG's version (the Kind row comes from it): only then does their absence mean something.
    await p.getByTestId('task-details').locator('dt:text-is("Kind")').waitFor();
    for (const name of ['↻ Clear…', '✓ Mark success…', '✗ Mark failed…', '■ Kill…']) expect(await p.getByRole('button', { name }).count()).toBe(0);
    await screenshot(p, 'task-viewer');
    // The page's own session, with its CSRF token: refused for the role, not for the token.
    const status = await p.evaluate(async (runId) => {
      const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken: string };
      const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken };
      const trigger = await fetch('/api/v1/dags/ml_pipeline/runs', { method: 'POST', headers, body: '{}' });
      const clear = await fetch(`/api/v1/dags/ml_pipeline/runs/${runId}/tasks/train/clear`, { method: 'POST', headers, body: '{}' });
      return [trigger.status, ((await trigger.json()) as { message: string }).message, clear.status];
    }, runs[0]!.runId);
    expect(status).toEqual([403, expect.stringContaining('needs role operator; you are viewer'), 403]);
    await viewer.context.close();
  });

  it('pauses and unpauses a DAG from the list (the API follows); a viewer sees the state but no switch, and the API refuses it', async () => {
    const isPaused = async () => (await adminApi<{ isPaused: boolean }>(ui.server, 'GET', '/dags/ui_flaky')).isPaused;
    expect(await isPaused()).toBe(false);
    await ui.page.goto('/dags');
    const row = ui.page.getByTestId('dag-table').locator('tr[data-dag="ui_flaky"]');
    await row.getByRole('switch', { name: 'Pause ui_flaky' }).click();
    await row.getByRole('switch', { name: 'Unpause ui_flaky' }).waitFor();
    expect(await row.getByRole('switch').isChecked()).toBe(false);
    await row.locator('.switch').getByText('paused', { exact: true }).waitFor();
    expect(await isPaused()).toBe(true);

    await adminApi(ui.server, 'POST', '/users', { name: 'pat', role: 'viewer', password: 'viewer-password-2' });
    const viewer = await loginPage(ui.browser, ui.server.url, 'pat', 'viewer-password-2');
    await viewer.page.goto('/dags');
    const viewerRow = viewer.page.getByTestId('dag-table').locator('tr[data-dag="ui_flaky"]');
    const viewerState = viewerRow.getByTestId('pause-state');
    await viewerState.waitFor();
    expect(await viewerState.textContent()).toBe('paused');
    expect(await viewer.page.getByTestId('dag-table').getByRole('switch').count()).toBe(0);
    expect(await viewer.page.getByTestId('dag-table').getByRole('checkbox').count()).toBe(0);
    const status = await viewer.page.evaluate(async () => {
      const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken: string };
      const res = await fetch('/api/v1/dags/ui_flaky', { method: 'PATCH', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken }, body: '{"isPaused":false}' });
      return res.status;
    });
    expect(status).toBe(403);
    await viewer.context.close();
    expect(await isPaused()).toBe(true);

    await row.getByRole('switch', { name: 'Unpause ui_flaky' }).click();
    await row.getByRole('switch', { name: 'Pause ui_flaky' }).waitFor();
    expect(await isPaused()).toBe(false);
  });

  it('has a dark mode', async () => {
    await ui.page.goto('/dags/ml_pipeline?tab=graph');
    await ui.page.getByRole('button', { name: /Theme/ }).click(); // system → dark
    expect(await ui.page.locator('html').getAttribute('data-theme')).toBe('dark');
    await ui.page.waitForSelector('svg.dag-graph g.node');
    await screenshot(ui.page, 'graph-dark');
    await ui.page.getByRole('button', { name: /Theme/ }).click(); // dark → light
    await ui.page.getByRole('button', { name: /Theme/ }).click(); // light → system
  });

  it('shows the last runs\' states on the DAG list once there are some', async () => {
    await ui.page.goto('/dags');
    await ui.page.locator('tr[data-dag="ml_pipeline"] .recent-runs [data-state="success"]').first().waitFor();
    await ui.page.locator('tr[data-dag="ui_flaky"] .recent-runs [data-state]').first().waitFor();
    await screenshot(ui.page, 'dag-list');
  });

  it('shows a cron DAG\'s schedule and its next run (the API\'s, in the user\'s zone, UTC on hover); a DAG without one says manual', async () => {
    writeFileSync(path.join(ui.dagsDir, 'ui_cron.yaml'), 'id: ui_cron\nschedule: "15 6 * * 1"\ntags: [test]\ntasks:\n  hello: echo hello\n');
    await parsedDag('ui_cron');
    const listed = await adminApi<{ dagId: string; schedule: string | null; nextRun: string | null }[]>(ui.server, 'GET', '/dags');
    const cron = listed.find((d) => d.dagId === 'ui_cron')!;
    expect(cron.schedule).toBe('15 6 * * 1');
    // Mondays 06:15 UTC: the next one, within a week.
    const next = new Date(cron.nextRun!);
    expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 6, 15]);
    expect(next.getTime() - Date.now()).toBeGreaterThan(0);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
    expect(listed.find((d) => d.dagId === 'ui_flaky')).toMatchObject({ schedule: null, nextRun: null });

    await ui.page.goto('/dags');
    const row = ui.page.getByTestId('dag-table').locator('tr[data-dag="ui_cron"]');
    await row.waitFor();
    expect(await row.locator('td:nth-child(3) code').textContent()).toBe('15 6 * * 1');
    const nextRun = row.locator('td:nth-child(4) time');
    expect(await nextRun.getAttribute('datetime')).toBe(cron.nextRun);
    await nextRun.hover();
    expect(await nextRun.getAttribute('title')).toBe(`${cron.nextRun!.slice(0, 10)} ${cron.nextRun!.slice(11, 19)} UTC`);
    // In Europe/Paris (the context's zone): 07:15 in winter, 08:15 in summer; its date there.
    const paris = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(next).map((p) => [p.type, p.value]));
    const shown = (await nextRun.textContent())!;
    expect(shown).toContain(`${paris.hour}:15:00`);
    expect(paris.hour).not.toBe('06');
    for (const part of [paris.year!, paris.month!, paris.day!]) expect(shown).toContain(part);

    const manual = ui.page.getByTestId('dag-table').locator('tr[data-dag="ui_flaky"]');
    expect(await manual.locator('td:nth-child(3)').textContent()).toBe('manual');
    expect(await manual.locator('td:nth-child(3) [title]').getAttribute('title')).toBe('No schedule: it runs only when triggered');
    expect(await manual.locator('td:nth-child(4) time').count()).toBe(0);
    expect(await manual.locator('td:nth-child(4)').textContent()).toBe('—');
  });

  it('marks a task that failed once and succeeded on its retry in the grid: its try count in the cell, its latest try\'s duration on hover', async () => {
    writeFileSync(path.join(ui.dagsDir, 'ui_retry.yaml'), `id: ui_retry
schedule: null
tags: [test, ui]
defaults:
  retries: 1
  retry_delay: 200ms
tasks:
  wobbly: >-
    if [ "$SWARMFLOW_TRY_NUMBER" = 1 ]; then echo "wobbly: failing on purpose (try 1)" >&2; exit 3; fi;
    sleep 1.2; echo "wobbly: ok on try $SWARMFLOW_TRY_NUMBER"
  steady: echo steady
`);
    await parsedDag('ui_retry');
    await adminApi(ui.server, 'POST', '/dags/ui_retry/runs', { runId: 'retry_1' });
    expect(await runEnded('ui_retry', 'retry_1')).toBe('success');
    const ti = await adminApi<{ tryNumber: number; maxTries: number; startedAt: string; endedAt: string }>(ui.server, 'GET', '/dags/ui_retry/runs/retry_1/tasks/wobbly');
    expect(ti).toMatchObject({ tryNumber: 2, maxTries: 2 });
    const ms = Date.parse(ti.endedAt) - Date.parse(ti.startedAt);
    expect(ms).toBeGreaterThanOrEqual(1200); // try 2's times (it slept 1.2 s), not the failed try's
    const duration = formatDuration(ms);

    await ui.page.goto('/dags/ui_retry?tab=grid');
    const wobbly = cell('retry_1', 'wobbly');
    await ui.page.locator('[data-testid="run-grid"] a[data-run="retry_1"][data-task="wobbly"][data-state="success"]').waitFor();
    expect(await wobbly.locator('sup.retries').textContent()).toBe('2');
    await wobbly.hover();
    const title = `wobbly in retry_1: success · try 2 of 2 · ${duration}`;
    await ui.page.locator(`[data-testid="run-grid"] a[data-run="retry_1"][data-task="wobbly"][title="${title}"]`).waitFor();
    expect(await wobbly.getAttribute('aria-label')).toBe(title);
    // A task that succeeded on its first try has no mark.
    const steady = cell('retry_1', 'steady');
    expect(await steady.locator('sup.retries').count()).toBe(0);
    await steady.hover();
    await ui.page.locator('[data-testid="run-grid"] a[data-run="retry_1"][data-task="steady"][title^="steady in retry_1: success · try 1 of 2 · "]').waitFor();
  });

  it('is usable with the keyboard: Tab reaches the tables with a visible focus, arrows move in the grid, Enter opens the try, Escape comes back, ? lists the shortcuts', async () => {
    /** What has the focus: its data attributes, and whether it is outlined. */
    const focused = () => ui.page.evaluate(`(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      return { tag: el.tagName, r: el.getAttribute('data-r'), c: el.getAttribute('data-c'), task: el.getAttribute('data-task'), run: el.getAttribute('data-run'),
        inGrid: !!el.closest('[data-testid="run-grid"] tbody'), inDags: !!el.closest('[data-testid="dag-table"] tbody'),
        outlined: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
    })()`) as Promise<{ tag: string; r: string | null; c: string | null; task: string | null; run: string | null; inGrid: boolean; inDags: boolean; outlined: boolean } | null>;
    /** Presses Tab until `done(focus)`, at most `max` times; the number of presses. */
    const tabUntil = async (done: (f: NonNullable<Awaited<ReturnType<typeof focused>>>) => boolean, max = 80) => {
      for (let i = 1; i <= max; i++) {
        await ui.page.keyboard.press('Tab');
        const f = await focused();
        if (f && done(f)) return i;
      }
      throw new Error(`Tab never reached it in ${max} presses (focus: ${JSON.stringify(await focused())})`);
    };

    // The DAG list: its rows' links are in the tab order, outlined when focused.
    await ui.page.goto('/dags');
    await ui.page.getByTestId('dag-table').locator('tr[data-dag="ml_pipeline"]').waitFor();
    await tabUntil((f) => f.inDags);
    expect((await focused())!.outlined).toBe(true);

    // The grid: one tab stop (the newest run of the first task), then the arrow keys.
    await ui.page.goto('/dags/ml_pipeline?tab=grid');
    await ui.page.locator('[data-testid="run-grid"] tbody a.cell').first().waitFor();
    const presses = await tabUntil((f) => f.inGrid);
    const start = (await focused())!;
    expect(start).toMatchObject({ tag: 'A', r: '0', outlined: true });
    const lastCol = Number(start.c);
    await ui.page.keyboard.press('ArrowDown');
    expect(await focused()).toMatchObject({ r: '1', c: String(lastCol) });
    await ui.page.keyboard.press('ArrowDown');
    await ui.page.keyboard.press('ArrowUp');
    expect(await focused()).toMatchObject({ r: '1', c: String(lastCol) });
    await ui.page.keyboard.press('Home');
    expect(await focused()).toMatchObject({ r: '1', c: '0' });
    await ui.page.keyboard.press('End');
    expect(await focused()).toMatchObject({ r: '1', c: String(lastCol) });
    await ui.page.keyboard.press('ArrowDown');
    const target = (await focused())!;
    expect(target).toMatchObject({ r: '2', c: String(lastCol), inGrid: true });
    // The whole grid is one Tab stop: Shift+Tab leaves it.
    await ui.page.keyboard.press('Shift+Tab');
    expect((await focused())?.inGrid).toBe(false);
    await ui.page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ r: '2', c: String(lastCol) });

    // Enter opens that try; Escape comes back to the grid, on the same cell.
    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL((url) => url.pathname === `/dags/ml_pipeline/runs/${encodeURIComponent(target.run!)}/tasks/${target.task}`);
    await ui.page.getByTestId('task-details').waitFor();
    await ui.page.keyboard.press('Escape');
    await ui.page.waitForURL((url) => url.pathname === '/dags/ml_pipeline');
    // (A function, not a string: the page's CSP refuses eval.)
    await ui.page.waitForFunction(([task, run]) => {
      const active = (globalThis as unknown as { document: { activeElement: { getAttribute(name: string): string | null } | null } }).document.activeElement;
      return active?.getAttribute('data-task') === task && active?.getAttribute('data-run') === run;
    }, [target.task, target.run] as const);

    // ? lists the shortcuts; Escape closes the list and gives the focus back.
    await ui.page.keyboard.press('?');
    const help = ui.page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    await help.getByText('Grid: open the try of the focused cell', { exact: false }).waitFor();
    await screenshot(ui.page, 'shortcuts');
    await ui.page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
    expect(await focused()).toMatchObject({ task: target.task, run: target.run });
    expect(presses).toBeGreaterThan(0);
  });

  it('flags files that fail to import on the DAG list, and gives each its own line (never a helper\'s) and the fix', async () => {
    const helpers = path.join(ui.dagsDir, '_ui_helpers');
    mkdirSync(helpers, { recursive: true });
    const helper = (body: string) => `export function label(): string {\n  const value = process.env.UI_LABEL_NEVER_SET;\n  ${body}\n  return value ?? 'fine';\n}\n`;
    writeFileSync(path.join(helpers, 'config.ts'), helper('// the broken version throws on this line'));
    writeFileSync(path.join(ui.dagsDir, 'ui_helper_boom.ts'),
      "import { dag, shell } from 'swarmflow';\nimport { label } from './_ui_helpers/config';\n\nconst name = label();\n" +
      "export default dag({ id: 'ui_helper_boom' }, () => {\n  shell('a', `echo ${name}`);\n});\n");
    const syntax = (call: string) => `import { dag, shell } from 'swarmflow';\n\nexport default dag({ id: 'ui_syntax' }, () => {\n  ${call}\n});\n`;
    writeFileSync(path.join(ui.dagsDir, 'ui_syntax.ts'), syntax("shell('a', 'echo fine');"));
    const dagIds = async () => (await adminApi<{ dagId: string }[]>(ui.server, 'GET', '/dags')).map((d) => d.dagId);
    await waitUntil('both DAGs to import', async () => {
      const ids = await dagIds();
      return ids.includes('ui_helper_boom') && ids.includes('ui_syntax');
    }, { timeoutMs: 60_000, intervalMs: 250 });

    // Broken: a syntax error on line 4 of ui_syntax.ts; the helper throws (its line 3) when ui_helper_boom.ts
    // calls it (its line 4); ui_never.ts imports a helper with a syntax error on its line 3 (the file never imported).
    writeFileSync(path.join(ui.dagsDir, 'ui_syntax.ts'), syntax("shell('a', 'echo broken';"));
    writeFileSync(path.join(helpers, 'config.ts'), helper("if (value === undefined) throw new Error('UI_LABEL_NEVER_SET is not set');"));
    writeFileSync(path.join(helpers, 'bad.ts'), "export const command =\n  'echo' +\n  ;\n");
    writeFileSync(path.join(ui.dagsDir, 'ui_never.ts'),
      "import { dag, shell } from 'swarmflow';\nimport { command } from './_ui_helpers/bad';\n\nexport default dag({ id: 'ui_never' }, () => {\n  shell('a', command);\n});\n");
    const broken = ['ui_helper_boom.ts', 'ui_never.ts', 'ui_syntax.ts'];
    const errors = await waitUntil('the three files\' import errors', async () => {
      const list = await adminApi<{ fileloc: string; message: string }[]>(ui.server, 'GET', '/import-errors');
      return broken.every((f) => list.some((e) => e.fileloc === f)) ? list : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });

    // The list: the DAGs that imported before are flagged; the count covers the file that never did.
    await ui.page.goto('/dags');
    const table = ui.page.getByTestId('dag-table');
    for (const dagId of ['ui_syntax', 'ui_helper_boom']) await table.locator(`tr[data-dag="${dagId}"] .import-flag`).waitFor();
    expect(await table.locator('tr[data-dag="ml_pipeline"] .import-flag').count()).toBe(0);
    await ui.page.getByTestId('import-errors-link').getByText(`Import errors (${errors.length})`).waitFor();
    expect(errors.length).toBe(3);

    await table.locator('tr[data-dag="ui_syntax"] .import-flag').click();
    await ui.page.waitForURL((url) => url.pathname === '/import-errors' && url.searchParams.get('file') === 'ui_syntax.ts');
    const card = (file: string) => ui.page.locator(`section.import-error[data-file="${file}"]`);
    await card('ui_syntax.ts').waitFor();
    expect(await ui.page.locator('section.import-error').count()).toBe(1);
    expect(await card('ui_syntax.ts').getByTestId('import-error-line').textContent()).toBe(' line 4');
    expect(await card('ui_syntax.ts').getByTestId('import-error-elsewhere').count()).toBe(0);
    expect(await card('ui_syntax.ts').locator('pre').textContent()).toContain("shell('a', 'echo broken';");
    expect(await card('ui_syntax.ts').getByTestId('import-error-fix').textContent()).toMatch(/^Fix: correct the file; .*the last version that imported runs: ui_syntax\./);

    await ui.page.goto('/import-errors');
    // A syntax error in the imported module: no line of the DAG file at all, and the fix names the module.
    await card('ui_never.ts').waitFor();
    expect(await card('ui_never.ts').getByTestId('import-error-line').count()).toBe(0);
    expect(await card('ui_never.ts').getByTestId('import-error-elsewhere').textContent())
      .toBe('The error is in a module this file imports: _ui_helpers/bad.ts line 3 (not a line of ui_never.ts).');
    expect(await card('ui_never.ts').getByTestId('import-error-fix').textContent())
      .toMatch(/^Fix: correct _ui_helpers\/bad\.ts, which this file imports; .* no DAG of this file is known \(it never imported\)\./);
    // Thrown in the helper: the DAG file's line is the call, the helper's line is named as the helper's.
    expect(await card('ui_helper_boom.ts').getByTestId('import-error-line').textContent()).toBe(' line 4');
    expect(await card('ui_helper_boom.ts').getByTestId('import-error-elsewhere').textContent())
      .toBe('Thrown in a module this file imports: _ui_helpers/config.ts line 3 (not a line of ui_helper_boom.ts).');
    await screenshot(ui.page, 'import-errors');
  });

  /** The DAG once a parse has stored it (GET /dags/:id answers), or its version other than `not`. */
  const parsedDag = (dagId: string, not?: string) => waitUntil(`${dagId} parsed${not ? ' anew' : ''}`, async () => {
    const dag = await adminApi<{ latestVersion: string }>(ui.server, 'GET', `/dags/${dagId}`).catch(() => null);
    return dag && dag.latestVersion !== not ? dag : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
  /** Waits until the run ends, and returns its state. */
  const runEnded = (dagId: string, runId: string) => waitUntil(`run ${runId} to end`, async () => {
    const run = await adminApi<{ state: string }>(ui.server, 'GET', `/dags/${dagId}/runs/${runId}`);
    return run.state === 'success' || run.state === 'failed' ? run.state : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100 });

  it('updates the DAG list and the import errors live: a new DAG file\'s row appears, a broken file is flagged, a pause through the API flips the switch', async () => {
    /** Answers of GET `apiPath` the page got: its first load, then the reload once the events stream opened (`resync`). */
    const loads = (apiPath: string) => {
      const seen = { n: 0 };
      const onResponse = (r: { url(): string }) => { if (new URL(r.url()).pathname === apiPath) seen.n++; };
      ui.page.on('response', onResponse);
      return { twice: () => waitUntil(`two loads of ${apiPath}`, () => seen.n >= 2, { timeoutMs: 20_000, intervalMs: 20 }), stop: () => ui.page.off('response', onResponse) };
    };
    const dagLoads = loads('/api/v1/dags');
    await ui.page.goto('/dags');
    const table = ui.page.getByTestId('dag-table');
    await table.locator('tr[data-dag="ml_pipeline"]').waitFor();
    await dagLoads.twice(); // from here on, no reload but for the server's `dag` events
    dagLoads.stop();
    const file = path.join(ui.dagsDir, 'ui_live.yaml');
    writeFileSync(file, 'id: ui_live\nschedule: null\ntags: [test]\ntasks:\n  hello: echo hello\n');
    const row = table.locator('tr[data-dag="ui_live"]');
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('.import-flag').count()).toBe(0);

    writeFileSync(file, 'id: ui_live\ntasks:\n  hello: [unclosed\n'); // broken: the last good version stays, flagged
    await row.locator('.import-flag').waitFor({ timeout: 30_000 });

    const toggle = ui.page.getByRole('switch', { name: 'Pause ui_live', exact: true });
    expect(await toggle.isChecked()).toBe(true);
    await adminApi(ui.server, 'PATCH', '/dags/ui_live', { isPaused: true });
    await ui.page.getByRole('switch', { name: 'Unpause ui_live', exact: true }).waitFor({ timeout: 15_000 });
    expect(await ui.page.getByRole('switch', { name: 'Unpause ui_live', exact: true }).isChecked()).toBe(false);

    // The DAG's own page too: unpaused through the API, its switch flips.
    const dagPageLoads = loads('/api/v1/dags/ui_live');
    await ui.page.goto('/dags/ui_live');
    await ui.page.getByRole('switch', { name: 'Unpause', exact: true }).waitFor();
    await dagPageLoads.twice();
    dagPageLoads.stop();
    await adminApi(ui.server, 'PATCH', '/dags/ui_live', { isPaused: false });
    await ui.page.getByRole('switch', { name: 'Pause', exact: true }).waitFor({ timeout: 15_000 });

    // The import errors page follows too: the file fixed, its error goes.
    const errorLoads = loads('/api/v1/import-errors');
    await ui.page.goto('/import-errors');
    const error = ui.page.locator('section.import-error').filter({ hasText: 'ui_live.yaml' });
    await error.waitFor();
    await errorLoads.twice();
    errorLoads.stop();
    writeFileSync(file, 'id: ui_live\nschedule: null\ntasks:\n  hello: echo hello again\n');
    await error.waitFor({ state: 'detached', timeout: 30_000 });
  });

  it('searches the runs on the server: a quiet DAG\'s one run is found behind 150 newer runs of a busy one; the state filter too; no match says so', async () => {
    writeFileSync(path.join(ui.dagsDir, 'ui_quiet.yaml'), 'id: ui_quiet\nschedule: null\ntasks:\n  once: echo once\n');
    writeFileSync(path.join(ui.dagsDir, 'ui_busy.yaml'), 'id: ui_busy\nschedule: null\ntasks:\n  never: echo never\n');
    await Promise.all([parsedDag('ui_quiet'), parsedDag('ui_busy')]);
    await adminApi(ui.server, 'PATCH', '/dags/ui_busy', { isPaused: true }); // its runs stay queued: nothing runs
    const { runId: quiet } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_quiet/runs', { runId: 'quiet_1' });
    expect(await runEnded('ui_quiet', quiet)).toBe('success');
    for (let batch = 0; batch < 15; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i;
        return adminApi(ui.server, 'POST', '/dags/ui_busy/runs', { runId: `busy_${n}`, logicalDate: new Date(Date.UTC(2025, 0, 1, 0, n)).toISOString() });
      }));
    }
    const rows = ui.page.getByTestId('runs-table').locator('tbody tr');
    await ui.page.goto('/runs?q=ui_quiet');
    await rows.filter({ hasText: 'quiet_1' }).waitFor();
    expect(await rows.count()).toBe(1);
    // State: success over ui_* runs is quiet's only (the busy ones wait, their DAG paused).
    await ui.page.goto('/runs?q=ui_&state=success');
    await rows.filter({ hasText: 'quiet_1' }).waitFor();
    expect(await rows.filter({ hasText: 'busy_' }).count()).toBe(0);
    const busyState = (await adminApi<{ state: string }>(ui.server, 'GET', '/dags/ui_busy/runs/busy_149')).state;
    expect(['queued', 'running']).toContain(busyState);
    await ui.page.getByLabel('State').selectOption(busyState);
    await rows.filter({ hasText: 'busy_149' }).waitFor();
    expect(await rows.filter({ hasText: 'quiet_1' }).count()).toBe(0);
    await ui.page.getByLabel('Filter runs').fill('busy_7');
    const matching = await waitUntil('the runs matching busy_7', async () => {
      const ids = (await rows.locator('td:nth-child(3)').allTextContents()).sort();
      return ids.length > 0 && !ids.includes('busy_149') ? ids : undefined;
    }, { timeoutMs: 20_000, intervalMs: 50 });
    expect(matching).toEqual(['busy_7', 'busy_70', 'busy_71', 'busy_72', 'busy_73', 'busy_74', 'busy_75', 'busy_76', 'busy_77', 'busy_78', 'busy_79']);
    // A DAG's runs tab: a search that matches nothing says so (the DAG has runs).
    await ui.page.goto('/dags/ui_busy?tab=runs&q=nothing_like_it');
    await ui.page.getByText('No run matches these filters.').waitFor();
    expect(await ui.page.getByText('Trigger one').count()).toBe(0);
    await ui.page.goto('/dags/ui_busy?tab=runs&q=busy_14');
    await rows.filter({ hasText: 'busy_149' }).waitFor();
    expect(await rows.count()).toBe(11); // busy_14, busy_140 … busy_149
  });

  it('a cached try shows where it was cached from (a link to that try), its outputs and its source try\'s artefacts', async () => {
    writeFileSync(path.join(ui.dagsDir, 'ui_cached.yaml'), `id: ui_cached
schedule: null
tags: [test, ui]
tasks:
  prep:
    cache: true
    shell: >-
      d="\${SWARMFLOW_ARTIFACTS_URL#file://}"; mkdir -p "$d"; printf 'model weights' > "$d/model.bin";
      echo '{"rows": 42, "model": "m42"}' > "$SWARMFLOW_OUTPUT"
`);
    await parsedDag('ui_cached');
    const { runId: first } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_cached/runs', { runId: 'cache_first' });
    expect(await runEnded('ui_cached', first)).toBe('success');
    const { runId: second } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_cached/runs', { runId: 'cache_second' });
    expect(await runEnded('ui_cached', second)).toBe('success');

    await ui.page.goto(`/dags/ui_cached/runs/${second}/tasks/prep`);
    await ui.page.getByTestId('task-details').locator('[data-state="cached"]').waitFor();
    const outputs = ui.page.getByTestId('try-outputs');
    await outputs.waitFor();
    expect(JSON.parse((await outputs.textContent())!)).toEqual({ rows: 42, model: 'm42' });
    await ui.page.getByTestId('try-artifacts').getByText('model.bin').waitFor();
    expect(await ui.page.getByTestId('try-artifacts').textContent()).toContain('13 B');
    const link = ui.page.getByTestId('cached-from').getByRole('link');
    expect(await link.textContent()).toBe('cache_first / prep, try 1');
    // No try ran (the API's tryNumber stays 0): the page says so, not "Try 1 of n", and has no log.
    expect((await adminApi<{ tryNumber: number }>(ui.server, 'GET', `/dags/ui_cached/runs/${second}/tasks/prep`)).tryNumber).toBe(0);
    expect(await ui.page.getByTestId('no-try').textContent()).toBe('no try ran: cached from cache_first / prep, try 1');
    expect(await ui.page.getByTestId('no-try').getByRole('link').getAttribute('href')).toBe(`/dags/ui_cached/runs/${first}/tasks/prep?try=1`);
    const details = await ui.page.getByTestId('task-details').textContent();
    expect(details).not.toMatch(/Try\s*\d+ of \d+/);
    expect(details).not.toMatch(/Started|Exit code|Worker/);
    expect(await ui.page.getByRole('link', { name: 'Cached, no try (latest)' }).getAttribute('aria-current')).toBe('page');
    expect(await ui.page.getByRole('link', { name: /^Try \d/ }).count()).toBe(0);
    expect(await ui.page.getByTestId('no-try-log').textContent()).toContain('No try ran');
    await screenshot(ui.page, 'task-cached');
    await link.click();
    await ui.page.waitForURL((url) => url.pathname === `/dags/ui_cached/runs/${first}/tasks/prep` && url.searchParams.get('try') === '1');
    await ui.page.getByTestId('task-details').locator('[data-state="success"]').waitFor();
    expect(JSON.parse((await ui.page.getByTestId('try-outputs').textContent())!)).toEqual({ rows: 42, model: 'm42' });
    expect(await ui.page.getByTestId('cached-from').count()).toBe(0);
  });

  it('shows a run pinned to an older version with that version\'s definition, after the DAG file changed', async () => {
    const file = path.join(ui.dagsDir, 'ui_evolving.yaml');
    writeFileSync(file, 'id: ui_evolving\nschedule: null\ntasks:\n  extract: echo extract\n  clean:\n    upstream: [extract]\n    shell: echo clean\n');
    const v1 = (await parsedDag('ui_evolving')).latestVersion;
    const { runId } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_evolving/runs', { runId: 'on_v1' });
    writeFileSync(file, 'id: ui_evolving\nschedule: null\ntasks:\n  extract: echo extract\n  train:\n    upstream: [extract]\n    shell: echo train\n');
    const v2 = (await parsedDag('ui_evolving', v1)).latestVersion;
    expect(v2).not.toBe(v1);

    await ui.page.goto(`/dags/ui_evolving/runs/${runId}`);
    await ui.page.getByRole('link', { name: v1 }).click(); // the run's version: its pinned view
    await ui.page.waitForURL((url) => url.searchParams.get('tab') === 'definition' && url.searchParams.get('version') === v1);
    const json = ui.page.getByTestId('definition-json');
    await json.filter({ hasText: '"taskId": "clean"' }).waitFor({ state: 'attached' });
    expect(await json.textContent()).not.toContain('"taskId": "train"');
    await ui.page.getByText('an older one').waitFor();
    await ui.page.getByRole('link', { name: 'show the latest' }).click();
    await json.filter({ hasText: '"taskId": "train"' }).waitFor({ state: 'attached' });
    expect(await json.textContent()).not.toContain('"taskId": "clean"');
  });

  it('a deep link to a DAG, run or task that does not exist says so, and links where to go instead', async () => {
    /** The page's error box that starts with `start`. */
    const alert = (start: string) => ui.page.getByRole('alert').filter({ hasText: start });

    await ui.page.goto('/dags/no_such_dag');
    const noDag = alert('Could not load DAG no_such_dag:');
    await noDag.waitFor();
    expect(await noDag.textContent()).toContain('DAG "no_such_dag" does not exist.');
    expect(await noDag.textContent()).toContain('It may have been removed, or the link is wrong.');
    // No Trigger for a DAG that is not there (it led to a form that could not load either).
    expect(await ui.page.getByRole('link', { name: '▶ Trigger' }).count()).toBe(0);
    await noDag.getByRole('link', { name: 'Go to the DAGs' }).click();
    await ui.page.getByTestId('dag-table').locator('tr[data-dag="ui_flaky"]').waitFor();
    expect(new URL(ui.page.url()).pathname).toBe('/dags');

    await ui.page.goto('/dags/no_such_dag/trigger');
    await alert('Could not load DAG no_such_dag:').getByRole('link', { name: 'Go to the DAGs' }).waitFor();
    expect(await ui.page.locator('form[aria-label="Trigger"]').count()).toBe(0);

    await ui.page.goto('/dags/ui_flaky/runs/no_such_run');
    const noRun = alert('Could not load the run:');
    await noRun.waitFor();
    expect(await noRun.textContent()).toContain('DAG "ui_flaky" has no run "no_such_run".');
    await noRun.getByRole('link', { name: 'See the runs of ui_flaky' }).click();
    await ui.page.getByTestId('runs-table').waitFor();
    expect(new URL(ui.page.url()).search).toBe('?tab=runs');

    const { runs } = await adminApi<{ runs: { runId: string }[] }>(ui.server, 'GET', '/dags/ui_flaky/grid?limit=1');
    const runId = runs[0]!.runId;
    await ui.page.goto(`/dags/ui_flaky/runs/${encodeURIComponent(runId)}/tasks/no_such_task`);
    const noTask = alert('Could not load the task:');
    await noTask.waitFor();
    expect(await noTask.textContent()).toContain(`run "${runId}" of DAG "ui_flaky" has no task "no_such_task". Its tasks are`);
    expect(await ui.page.getByTestId('log').count()).toBe(0);
    await noTask.getByRole('link', { name: `See the tasks of run ${runId}` }).click();
    await ui.page.locator('[data-testid="run-tasks"] tr[data-task="flaky"]').waitFor();

    await ui.page.goto('/no/such/page');
    await ui.page.getByText('No page at this address.').waitFor();
    await ui.page.getByRole('link', { name: 'Go to the DAGs' }).click();
    await ui.page.getByTestId('dag-table').waitFor();
  });

  it('a list the API fails to give (500, or no answer) says so and what to do, and its Retry loads it once the server answers', async () => {
    // No live events meanwhile: a live reload would race the Retry.
    const events = (url: URL) => url.pathname === '/api/v1/events';
    await ui.page.route(events, (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'unavailable' }));
    let failing = true;
    const asked = { dags: 0, runs: 0 };
    const dagsApi = (url: URL) => url.pathname === '/api/v1/dags';
    const runsApi = (url: URL) => url.pathname === '/api/v1/runs';
    await ui.page.route(dagsApi, async (route) => {
      asked.dags++;
      if (!failing) return route.continue();
      return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ reason: 'internal_error', message: 'the database did not answer' }) });
    });
    await ui.page.route(runsApi, async (route) => {
      asked.runs++;
      return failing ? route.abort('connectionrefused') : route.continue();
    });
    try {
      await ui.page.goto('/dags');
      const dagsError = ui.page.getByRole('alert').filter({ hasText: 'Could not list the DAGs:' });
      await dagsError.waitFor();
      expect(await dagsError.textContent()).toContain('the database did not answer');
      expect(await dagsError.textContent()).toContain('The server had a problem: see its log, then retry.');
      expect(await ui.page.getByTestId('dag-table').count()).toBe(0);
      // Retry asks again (still failing here: the error stays, the button comes back).
      const before = asked.dags;
      await dagsError.getByRole('button', { name: '↻ Retry' }).click();
      await waitUntil('the Retry to ask for the DAGs again', () => asked.dags > before, { timeoutMs: 10_000, intervalMs: 20 });
      await dagsError.getByRole('button', { name: '↻ Retry' }).waitFor();
      expect(await ui.page.getByTestId('dag-table').count()).toBe(0);

      await ui.page.goto('/runs');
      const runsError = ui.page.getByRole('alert').filter({ hasText: 'Could not list the runs:' });
      await runsError.waitFor();
      expect(await runsError.textContent()).toContain('the server does not answer');
      expect(await runsError.textContent()).toContain('Check that the Swarmflow server is running, then retry.');

      failing = false;
      await runsError.getByRole('button', { name: '↻ Retry' }).click();
      await ui.page.getByTestId('runs-table').locator('tbody tr').first().waitFor();
      await runsError.waitFor({ state: 'detached' });

      await ui.page.goto('/dags');
      await ui.page.getByTestId('dag-table').locator('tr[data-dag="ui_flaky"]').waitFor();
      expect(await ui.page.getByRole('alert').filter({ hasText: 'Could not list the DAGs:' }).count()).toBe(0);
    } finally {
      await ui.page.unroute(dagsApi);
      await ui.page.unroute(runsApi);
      await ui.page.unroute(events);
    }
  });

  it('threw no error in the page', () => {
    expect(ui.pageErrors).toEqual([]);
  });
});

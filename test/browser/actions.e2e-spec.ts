import { readdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { adminApi, describeBrowser, loginPage, screenshot, useStandalonePage } from './support/browser';
import { browserTestDags } from './support/dags';

// Mark success / failed and run cancel from the web UI, against a real standalone server (its
// worker runs `ui_actions`' long task, which the marks and the cancel must stop).
jest.setTimeout(180_000);

interface WorkerRow { name: string; running: { tiId: number }[] }
interface RunRow { state: string; reason: string | null; taskInstances: { taskId: string; state: string }[] }

describeBrowser('web UI: mark and cancel', () => {
  const ui = useStandalonePage({ dags: browserTestDags });

  /** Triggers `ui_actions` and waits until its long task runs (it prints a tick every 0.2 s for a minute). */
  async function runningLong(): Promise<string> {
    const { runId } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_actions/runs', {});
    await waitFor(`long of ${runId} running`, async () => {
      const run = await adminApi<RunRow>(ui.server, 'GET', `/dags/ui_actions/runs/${runId}`);
      return run.taskInstances.some((t) => t.taskId === 'long' && t.state === 'running');
    });
    return runId;
  }

  /** No worker runs anything, as their heartbeats say: the stopped try's process has ended. */
  async function nothingRunning(): Promise<void> {
    await waitFor('the workers to run nothing', async () => {
      const workers = await adminApi<WorkerRow[]>(ui.server, 'GET', '/workers');
      return workers.length > 0 && workers.every((w) => w.running.length === 0);
    }, 30_000);
  }

  const gridCell = (p: Page, runId: string, taskId: string, state: string) =>
    p.waitForSelector(`[data-testid="run-grid"] a[data-run="${runId}"][data-task="${taskId}"][data-state="${state}"]`, { timeout: 30_000 });

  it('marks a running task success from its page: its try stops, its downstream runs, the grid shows the run succeed live', async () => {
    const runId = await runningLong();
    // The grid, open in another tab and never reloaded, follows the run over the events stream.
    const grid = await ui.context.newPage();
    await grid.goto('/dags/ui_actions?tab=grid');
    await grid.locator('.live-open').waitFor();
    await gridCell(grid, runId, 'long', 'running');

    await ui.page.goto(`/dags/ui_actions/runs/${runId}/tasks/long`);
    await ui.page.getByTestId('log').getByText(/long: tick 2$/).waitFor();
    await ui.page.getByRole('button', { name: '✓ Mark success…' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Mark success' });
    expect(await dialog.getByLabel('with downstream').isChecked()).toBe(false); // a mark changes only the task unless asked
    const preview = dialog.getByTestId('action-preview');
    await preview.waitFor();
    expect(await preview.locator('li').allTextContents()).toEqual(['long (running → success)']);
    await dialog.getByRole('button', { name: 'Mark success', exact: true }).click();
    await ui.page.getByRole('status').getByText('Marked success: long.').waitFor();
    await ui.page.getByTestId('log-status').getByText('■ try finished').waitFor({ timeout: 30_000 });

    for (const task of ['long', 'next', 'last']) await gridCell(grid, runId, task, 'success');
    await grid.waitForSelector(`[data-testid="run-grid"] thead a[data-run="${runId}"][data-state="success"]`, { timeout: 30_000 });
    await nothingRunning();
    const log = await adminApi<{ lines: { line: string }[] }>(ui.server, 'GET', `/dags/ui_actions/runs/${runId}/tasks/long/logs`);
    expect(log.lines.some((l) => l.line === 'long: tick 300')).toBe(false); // stopped, not run to its end
    await grid.close();
  });

  it('marks a running task failed with its downstream: the preview lists the changes, then they are made', async () => {
    const runId = await runningLong();
    await ui.page.goto(`/dags/ui_actions/runs/${runId}/tasks/long`);
    await ui.page.getByTestId('task-details').waitFor();
    await ui.page.getByRole('button', { name: '✗ Mark failed…' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Mark failed' });
    await dialog.getByTestId('action-preview').getByText('long').waitFor();
    await dialog.getByLabel('with downstream').check();
    const preview = dialog.getByTestId('action-preview');
    await preview.getByText('last').waitFor();
    expect(await preview.locator('li code').allTextContents()).toEqual(['long', 'next', 'last']);
    expect(await preview.locator('li').first().textContent()).toBe('long (running → failed)');
    await screenshot(ui.page, 'mark-preview');
    await dialog.getByRole('button', { name: 'Mark failed', exact: true }).click();
    await ui.page.getByRole('status').getByText('Marked failed: long, next, last.').waitFor();

    await ui.page.goto(`/dags/ui_actions/runs/${runId}`);
    for (const task of ['long', 'next', 'last']) await ui.page.waitForSelector(`[data-testid="run-tasks"] tr[data-task="${task}"][data-state="failed"]`);
    await ui.page.locator('h1 [data-state="failed"]').waitFor({ timeout: 30_000 });
    await nothingRunning();
  });

  it('cancels a run from its page: the run ends failed, "cancelled by admin" shown, nothing left running', async () => {
    const runId = await runningLong();
    await ui.page.goto(`/dags/ui_actions/runs/${runId}`);
    await ui.page.waitForSelector('[data-testid="run-tasks"] tr[data-task="long"][data-state="running"]');
    ui.page.once('dialog', (d) => void d.accept());
    await ui.page.getByRole('button', { name: '■ Cancel run' }).click();
    await ui.page.getByRole('status').getByText('Run failed: cancelled by admin. Stopping long.').waitFor();
    await ui.page.locator('h1 [data-state="failed"]').waitFor();
    await ui.page.locator('dl.kv').getByText('cancelled by admin', { exact: true }).waitFor();
    expect(await ui.page.getByRole('button', { name: '■ Cancel run' }).count()).toBe(0); // an ended run has nothing to cancel
    await ui.page.waitForSelector('[data-testid="run-tasks"] tr[data-task="long"][data-state="failed"]');
    const rows = ui.page.locator('[data-testid="run-tasks"] tr[data-state="running"], [data-testid="run-tasks"] tr[data-state="queued"], [data-testid="run-tasks"] tr[data-state="none"], [data-testid="run-tasks"] tr[data-state="scheduled"]');
    await waitFor('no unfinished task instance in the table', async () => (await rows.count()) === 0);
    await screenshot(ui.page, 'run-cancelled');
    await nothingRunning();
    const run = await adminApi<RunRow>(ui.server, 'GET', `/dags/ui_actions/runs/${runId}`);
    expect(run).toMatchObject({ state: 'failed', reason: 'cancelled by admin' });
  });

  it('kills a running try from its page: the try ends failed, its process is gone, its downstream does not run', async () => {
    const runId = await runningLong();
    await ui.page.goto(`/dags/ui_actions/runs/${runId}/tasks/long`);
    await ui.page.getByTestId('log').getByText(/long: tick 2$/).waitFor();
    const pids = tryProcesses(runId);
    expect(pids.length).toBeGreaterThan(0); // the try's shell, on this machine (the standalone's worker)
    await ui.page.getByRole('button', { name: '■ Kill…' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Kill' });
    await dialog.getByText('The try stops wherever it runs and ends failed, without a retry.').waitFor();
    await dialog.getByRole('button', { name: 'Kill', exact: true }).click();
    await ui.page.getByRole('status').getByText(/^(Stopped: the try ended failed\.|Kill sent to standalone-.+\.)$/).waitFor();
    await ui.page.getByTestId('log-status').getByText('■ try finished').waitFor({ timeout: 30_000 });
    await ui.page.locator('[data-testid="task-details"] [data-state="failed"]').first().waitFor({ timeout: 30_000 });
    expect(await ui.page.getByRole('button', { name: '■ Kill…' }).isDisabled()).toBe(true); // nothing left to kill
    await waitFor('the try\'s processes to be gone', async () => pids.every((pid) => !alive(pid)), 30_000);
    await nothingRunning();
    const run = await adminApi<RunRow>(ui.server, 'GET', `/dags/ui_actions/runs/${runId}`);
    expect(run.taskInstances.find((t) => t.taskId === 'long')?.state).toBe('failed');
    expect(run.taskInstances.find((t) => t.taskId === 'next')?.state).not.toBe('success');
    const log = await adminApi<{ lines: { line: string }[] }>(ui.server, 'GET', `/dags/ui_actions/runs/${runId}/tasks/long/logs`);
    expect(log.lines.some((l) => l.line === 'long: tick 300')).toBe(false);
  });

  it('a viewer sees no mark or cancel buttons on a running task and run', async () => {
    const runId = await runningLong();
    await adminApi(ui.server, 'POST', '/users', { name: 'vic', role: 'viewer', password: 'viewer-password-1' });
    const viewer = await loginPage(ui.browser, ui.server.url, 'vic', 'viewer-password-1');
    const p = viewer.page;
    await p.getByTestId('current-user').getByText('viewer').waitFor();
    await p.goto(`/dags/ui_actions/runs/${runId}`);
    await p.waitForSelector('[data-testid="run-tasks"] tr[data-task="long"][data-state="running"]');
    await p.locator('h1 [data-state="running"]').waitFor();
    expect(await p.getByRole('button', { name: '■ Cancel run' }).count()).toBe(0);
    await p.goto(`/dags/ui_actions/runs/${runId}/tasks/long`);
    await p.getByTestId('log').getByText(/long: tick 1$/).waitFor();
    // The actions are drawn with the DAG's version (the Kind row comes from it): only then does their absence mean something.
    await p.getByTestId('task-details').locator('dt:text-is("Kind")').waitFor();
    for (const name of ['✓ Mark success…', '✗ Mark failed…', '■ Kill…', '↻ Clear…']) expect(await p.getByRole('button', { name }).count()).toBe(0);
    await viewer.context.close();
    await adminApi(ui.server, 'POST', `/dags/ui_actions/runs/${runId}/cancel`);
    await nothingRunning();
  });

  it('threw no error in the page', () => {
    expect(ui.pageErrors).toEqual([]);
  });
});

/** This machine's processes of the run's try of `long`: its command and its SWARMFLOW_RUN_ID say so. */
function tryProcesses(runId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('long: tick')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`SWARMFLOW_RUN_ID=${runId}`)) pids.push(Number(entry));
    } catch { /* gone meanwhile, or not ours */ }
  }
  return pids;
}

/** Alive, and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 200 ms until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { adminApi, describeBrowser, launchBrowser, loginPage, screenshot, startStandalone, type Standalone } from './support/browser';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';

jest.setTimeout(180_000);

const PROBE = 'id: dash_probe\ndescription: "One quick task, for the dashboard tests"\ntasks:\n  only: { shell: "echo probe" }\n';

/** The numbers of the default topic's row in the queues table. */
async function queueRow(page: Page, queue: string): Promise<{ ready: number; consumers: number } | null> {
  const cells = await page.locator(`[data-testid=queues-table] tr[data-queue="${queue}"] td`).allTextContents();
  return cells.length ? { ready: Number(cells[1]), consumers: Number(cells[3]) } : null;
}

describeBrowser('web UI: the workers dashboard, bull-board and the admin pages', () => {
  let server: Standalone;
  let browser: Browser;
  let dags: string;

  beforeAll(async () => {
    dags = mkdtempSync(path.join(tmpdir(), 'swarmflow-dash-dags-'));
    writeFileSync(path.join(dags, 'dash_probe.yaml'), PROBE);
    [server, browser] = await Promise.all([startStandalone({}, dags), launchBrowser()]);
    await adminApi(server, 'POST', '/users', { name: 'vera', role: 'viewer', password: 'vera-password-1' });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dags, { recursive: true, force: true });
  });

  const runsOf = (dagId: string) => adminApi<{ runId: string; state: string }[]>(server, 'GET', `/dags/${dagId}/runs`);

  it('drains a worker from the dashboard: it stops taking work (the task waits in the queue) until resumed', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('/workers');
    const row = page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]');
    await row.locator('[data-worker-state=active]').waitFor();
    await page.locator('[data-testid=queues-table] tr[data-queue=default]').waitFor();

    await row.getByRole('button', { name: /^Drain / }).click();
    // Live: the worker's heartbeat says draining, the page shows it without a reload.
    await row.locator('[data-worker-state=draining]').waitFor();
    const before = (await runsOf('dash_probe')).length;
    await adminApi(server, 'POST', '/dags/dash_probe/runs', {});
    // The try is published and waits: ready in the broker, nobody consuming the topic.
    await waitUntil('the default topic to hold a ready message with no consumer', async () => {
      const q = await queueRow(page, 'default');
      return q !== null && q.ready >= 1 && q.consumers === 0 ? q : undefined;
    }, { intervalMs: 100 });
    expect((await runsOf('dash_probe'))[0]!.state).toBe('running');
    await screenshot(page, 'workers-draining');

    await row.getByRole('button', { name: /^Resume / }).click();
    await row.locator('[data-worker-state=active]').waitFor();
    await waitUntil('the run to succeed once the worker is resumed', async () => {
      const runs = await runsOf('dash_probe');
      return runs.length > before && runs[0]!.state === 'success';
    }, { intervalMs: 100 });
    await waitUntil('the topic to be empty again', async () => (await queueRow(page, 'default'))?.ready === 0, { intervalMs: 100 });
    await screenshot(page, 'workers');

    // Every try, filterable, linked to its run.
    await page.goto('/workers/tries?dag=dash_probe&state=success');
    await page.locator('[data-testid=tries-table] tr[data-task=only][data-state=success]').first().waitFor();
    await screenshot(page, 'tries');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('opens bull-board at /queues and shows the topic\'s jobs', async () => {
    if ((await runsOf('dash_probe')).every((r) => r.state !== 'success')) {
      await adminApi(server, 'POST', '/dags/dash_probe/runs', {});
      await waitUntil('a finished run', async () => (await runsOf('dash_probe'))[0]?.state === 'success', { intervalMs: 100 });
    }
    // Without a session: the UI's login.
    const anonymous = await browser.newContext({ baseURL: server.url });
    const anon = await anonymous.newPage();
    await anon.goto('/queues');
    await anon.getByLabel('Password').waitFor();
    expect(new URL(anon.url()).pathname).toBe('/login');
    await anonymous.close();

    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    await page.goto('/queues/queue/default?status=completed');
    await page.getByText('dash_probe.only').first().waitFor();
    await screenshot(page, 'bull-board');
    await context.close();
  });

  it('an admin creates a user with a role and a token for them: the token shows once, works, and is refused once revoked', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('/admin/users');
    const userForm = page.getByRole('form', { name: 'Create a user' });
    await userForm.getByLabel('Name').fill('olga');
    await userForm.getByLabel('Role').selectOption('operator');
    await userForm.getByLabel('Password').fill('olga-password-1');
    await userForm.getByRole('button', { name: 'Create user' }).click();
    const userRow = page.locator('[data-testid=users-table] tr[data-user=olga]');
    await userRow.waitFor();
    expect(await userRow.getByLabel('Role of olga').inputValue()).toBe('operator');
    expect(await adminApi<{ role: string; hasPassword: boolean }>(server, 'GET', '/users/olga')).toMatchObject({ role: 'operator', hasPassword: true });
    const olga = await loginPage(browser, server.url, 'olga', 'olga-password-1');
    await olga.page.getByTestId('current-user').getByText('operator').waitFor();
    await olga.context.close();

    await page.goto('/admin/tokens');
    const tokenForm = page.getByRole('form', { name: 'Create a token' });
    await tokenForm.getByLabel('Name').fill('olga-ci');
    await tokenForm.getByLabel('User').fill('olga');
    await tokenForm.getByLabel('Expires in').selectOption('30d');
    await tokenForm.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);
    const tokenRow = page.locator('[data-testid=tokens-table] tr[data-token="olga-ci"]');
    await tokenRow.and(page.locator('[data-state=active]')).waitFor();
    expect(await tokenRow.textContent()).not.toContain(secret); // the table has its prefix only
    const asOlga = (apiPath: string) => fetch(`${server.url}/api/v1${apiPath}`, { headers: { Authorization: `Bearer ${secret}` } });
    const me = await asOlga('/auth/me');
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ name: 'olga', role: 'operator' });

    // Shown once: after a reload, nowhere in the page.
    await page.reload();
    await tokenRow.waitFor();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);

    await tokenRow.getByRole('button', { name: 'Revoke token olga-ci of olga' }).click();
    await tokenRow.and(page.locator('[data-state=revoked]')).waitFor();
    expect(await tokenRow.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    expect((await asOlga('/auth/me')).status).toBe(401);
    await screenshot(page, 'admin-tokens');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows a secret variable masked, and a viewer no admin or worker write buttons (the API refuses them too)', async () => {
    await adminApi(server, 'PUT', '/variables/s3_access_key', { value: 'never-shown-1234', secret: true, description: 'S3 key for the trainer' });
    const admin = await loginPage(browser, server.url, 'admin', server.adminPassword);
    await admin.page.goto('/admin/variables');
    const secretRow = admin.page.locator('[data-testid=variables-table] tr[data-key=s3_access_key]');
    await secretRow.getByText('secret', { exact: true }).waitFor();
    expect(await admin.page.content()).not.toContain('never-shown-1234');
    await screenshot(admin.page, 'admin-variables');
    await admin.page.goto('/admin/audit');
    await admin.page.locator('[data-testid=audit-table] tr[data-action="worker.drain"]').first().waitFor();
    await screenshot(admin.page, 'admin-audit');
    await admin.context.close();

    const { context, page } = await loginPage(browser, server.url, 'vera', 'vera-password-1');
    await page.goto('/admin');
    await page.locator('[data-testid=pools-table]').waitFor();
    const tabs = await page.getByRole('navigation', { name: 'Admin' }).getByRole('link').allTextContents();
    expect(tabs).toEqual(['Pools']);
    expect(await page.getByRole('button', { name: /Save|Delete|Edit|Create|Revoke/ }).count()).toBe(0);
    await screenshot(page, 'admin-viewer');
    // The users and tokens pages by their address: the pools instead, with no write button.
    for (const section of ['users', 'tokens']) {
      await page.goto(`/admin/${section}`);
      await page.locator('[data-testid=pools-table]').waitFor();
      expect(await page.getByRole('form', { name: /Create a (user|token)/ }).count()).toBe(0);
      expect(await page.getByRole('button', { name: /Create|Revoke|Delete|Disable/ }).count()).toBe(0);
    }
    const refused = await page.evaluate(async () => {
      const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken: string };
      const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken };
      const users = await fetch('/api/v1/users');
      const createUser = await fetch('/api/v1/users', { method: 'POST', headers, body: JSON.stringify({ name: 'mallory', role: 'admin', password: 'mallory-password-1' }) });
      const createToken = await fetch('/api/v1/tokens', { method: 'POST', headers, body: JSON.stringify({ name: 'mine', expiresIn: '1d' }) });
      return [users.status, createUser.status, createToken.status];
    });
    expect(refused).toEqual([403, 403, 403]);
    expect((await adminApi<{ name: string }[]>(server, 'GET', '/users')).map((u) => u.name)).not.toContain('mallory');
    await page.goto('/workers');
    await page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]').waitFor();
    expect(await page.getByRole('button', { name: /Drain|Resume|Shut down/ }).count()).toBe(0);
    const worker = await page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]').getAttribute('data-worker');
    const csrf = (await context.cookies()).find((c) => c.name === 'swarmflow_csrf')?.value ?? '';
    const status = await page.evaluate(async ([name, token]) => {
      const res = await fetch(`/api/v1/workers/${name}/drain`, { method: 'POST', headers: { 'X-CSRF-Token': decodeURIComponent(token!), 'Content-Type': 'application/json' }, body: '{}' });
      return { status: res.status, reason: ((await res.json()) as { reason?: string }).reason };
    }, [worker, csrf]);
    expect(status).toEqual({ status: 403, reason: 'forbidden' });
    await context.close();
  });

  it('shuts a worker down from the dashboard after a confirmation: it stops, and a new task waits in the queue', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    await page.goto('/workers');
    const row = page.locator('[data-testid=workers-table] tr[data-worker^="standalone-"]');
    await row.locator('[data-worker-state=active]').waitFor();
    const name = (await row.getAttribute('data-worker'))!;
    await row.getByRole('button', { name: `Shut down ${name}` }).click();
    expect(await adminApi<{ name: string; state: string }[]>(server, 'GET', '/workers')).toContainEqual(expect.objectContaining({ name, state: 'active' })); // not before the confirmation
    await row.getByRole('button', { name: `Confirm shutdown of ${name}` }).click();
    // Live: the heartbeat says stopped; nothing is left to do to it.
    await row.locator('[data-worker-state=stopped]').waitFor({ timeout: 30_000 });
    expect(await row.getByRole('button').count()).toBe(0);
    await waitUntil('the API to show the worker stopped', async () => (await adminApi<{ name: string; state: string }[]>(server, 'GET', '/workers')).find((w) => w.name === name)?.state === 'stopped', { intervalMs: 100 });
    await adminApi(server, 'POST', '/dags/dash_probe/runs', {});
    await waitUntil('the task to wait in the default topic with no consumer', async () => {
      const q = await queueRow(page, 'default');
      return q !== null && q.ready >= 1 && q.consumers === 0 ? q : undefined;
    }, { intervalMs: 100 });
    expect((await runsOf('dash_probe'))[0]!.state).toBe('running');
    await context.close();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort, SwarmflowProcess } from '../support/processes';
import { describeBrowser, launchBrowser } from './support/browser';

// As a new user would (README, "Try it"): `swarmflow standalone` in a fresh SWARMFLOW_HOME
// with nothing but its defaults (the bundled example DAGs), then only the browser: the
// printed UI address, the printed admin login, ml_pipeline triggered from its form, its run
// watched until it succeeds. No CLI, no token, no API call from the test.
jest.setTimeout(240_000);

describeBrowser('web UI as a new user: standalone, its printed address and login, ml_pipeline from the form', () => {
  let home: string;
  let proc: SwarmflowProcess | undefined;
  let browser: Browser;

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-newuser-'));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await proc?.stop('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  });

  it('opens the printed URL, logs in with the printed login, triggers ml_pipeline from the form and sees it succeed', async () => {
    const port = await freePort();
    // Only the home (and where the examples write their files) differ from a user's shell.
    proc = new SwarmflowProcess('standalone', ['standalone', '--port', String(port)], {
      SWARMFLOW_HOME: home, SWARMFLOW_URL: '', SWARMFLOW_EXAMPLES_DATA: path.join(home, 'data'),
    });
    await proc.waitForOutput('Swarmflow standalone is running', 90_000);
    const url = /UI:\s+(http:\/\/\S+?)\/?\s/.exec(proc.output)?.[1];
    const login = /Login:\s+user (\S+), password (\S+)/.exec(proc.output);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(login).not.toBeNull();

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !/401/.test(m.text()) && errors.push(m.text()));

    await page.goto(`${url}/`);
    // The login page says where the password is.
    await page.getByText('prints the admin', { exact: false }).waitFor();
    await page.getByLabel('User').fill(login![1]!);
    await page.getByLabel('Password').fill(login![2]!);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'DAGs' }).waitFor();

    // The DAG list fills itself once the first parse is done (live, no reload).
    await page.getByTestId('dag-table').locator('tr[data-dag="ml_pipeline"]').getByRole('link', { name: 'ml_pipeline' }).click();
    await page.getByRole('heading', { name: 'ml_pipeline' }).waitFor();
    await page.getByText('No runs yet', { exact: false }).waitFor();
    await page.getByRole('link', { name: '▶ Trigger' }).click();
    await page.getByRole('button', { name: '▶ Trigger run' }).click();
    await page.waitForURL(/\/dags\/ml_pipeline\?tab=grid&triggered=/);
    const runId = new URL(page.url()).searchParams.get('triggered')!;
    await page.waitForSelector(`[data-testid="run-grid"] thead a[data-run="${runId}"][data-state="success"]`, { timeout: 120_000 });
    const cells = page.locator(`[data-testid="run-grid"] tbody a[data-run="${runId}"]`);
    const states = await Promise.all((await cells.all()).map((c) => c.getAttribute('data-state')));
    expect(states.length).toBeGreaterThanOrEqual(4);
    expect(new Set(states)).toEqual(new Set(['success']));
    expect(errors).toEqual([]);
    await context.close();
  });
});

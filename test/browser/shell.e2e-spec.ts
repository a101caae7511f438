import type { Browser } from 'playwright-core';
import { describeBrowser, launchBrowser, loginPage, screenshot, startStandalone, type Standalone } from './support/browser';

jest.setTimeout(120_000);

describeBrowser('web UI: the shell', () => {
  let server: Standalone;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startStandalone(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('serves the app at / with its hashed assets cached and index.html not', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(`${server.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    // A deep link opens the app too; the API keeps its JSON 404s.
    expect((await fetch(`${server.url}/dags/ml_pipeline/runs/x`)).headers.get('content-type')).toContain('text/html');
    // A run id that looks like a file name (`…07:38:35.630Z`) is still a page of the app.
    expect((await fetch(`${server.url}/dags/ml_pipeline/runs/manual__2026-12-06T07:38:35.630Z`)).headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${server.url}/favicon.ico`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/nope`)).headers.get('content-type')).toContain('application/json');
  });

  it('logs in with the printed admin password and shows the user, role and navigation', async () => {
    const { context, page } = await loginPage(browser, server.url, 'admin', server.adminPassword);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.getByTestId('current-user').getByText('admin', { exact: false }).waitFor();
    for (const label of ['DAGs', 'Runs', 'Workers', 'Queues', 'Admin']) await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).waitFor();
    await page.goto('/workers');
    await page.getByRole('heading', { name: 'Workers' }).waitFor();
    // A reload keeps the session (cookie) and the view (deep link).
    await page.reload();
    await page.getByRole('heading', { name: 'Workers' }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('refuses a wrong password with the API message', async () => {
    const context = await browser.newContext({ baseURL: server.url });
    const page = await context.newPage();
    await page.goto('/dags');
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('wrong user name or password').waitFor();
    await screenshot(page, 'login');
    await context.close();
  });

  /** Opens `/login?next=<next>` without a session, logs in, and returns the page once the app has moved on. */
  async function loginWithNext(next: string) {
    const context = await browser.newContext({ baseURL: server.url });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(server.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((url) => url.pathname !== '/login');
    return { context, page };
  }

  it('after logging in goes back to the page that asked for it (?next=): a deep link of the app, and bull-board', async () => {
    const deep = await loginWithNext('/dags/ml_pipeline?tab=graph');
    await deep.page.getByRole('heading', { name: 'ml_pipeline' }).waitFor();
    expect(new URL(deep.page.url()).pathname + new URL(deep.page.url()).search).toBe('/dags/ml_pipeline?tab=graph');
    await deep.context.close();

    // bull-board sends a visitor without a session to /login?next=/queues; after the login, bull-board itself.
    const board = await loginWithNext('/queues');
    await board.page.waitForURL((url) => url.pathname.startsWith('/queues'));
    expect(new URL(board.page.url()).origin).toBe(server.url.replace(/\/$/, ''));
    await board.page.getByTestId('current-user').waitFor({ state: 'detached' });
    await board.context.close();
  });

  it.each(['//evil.example/x', 'http://evil.example/', 'https:evil.example', 'javascript:alert(1)', '/\\evil.example', ' /dags', '/login?next=//evil.example'])(
    'ignores a ?next= that is not a path of this site (%s) and shows the DAGs', async (next) => {
      const { context, page } = await loginWithNext(next);
      await page.getByRole('heading', { name: 'DAGs' }).waitFor();
      const url = new URL(page.url());
      expect(url.origin).toBe(server.url.replace(/\/$/, ''));
      expect(url.pathname).toBe('/dags');
      await context.close();
    },
  );
});

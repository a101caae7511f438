// Browser tests: a real standalone server (temp SWARMFLOW_HOME) and Debian's chromium driven
// by playwright-core. Without /usr/bin/chromium the tests skip, except under CI=true, where
// they fail (.ci/run installs it).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort, REPO, SwarmflowProcess } from '../../support/processes';

export const CHROMIUM = process.env.SWARMFLOW_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
const EXAMPLE_DAGS = path.join(REPO, 'examples/dags');

/** `describe` when chromium is here (or under CI=true, where its absence fails the tests), else `describe.skip`. */
export function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM) || process.env.CI === 'true') describe(name, fn);
  else describe.skip(`${name} (no ${CHROMIUM}: apt-get install chromium)`, fn);
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is required for the browser tests (${CHROMIUM}). Fix: apt-get install chromium, or set SWARMFLOW_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface Standalone {
  url: string;
  home: string;
  adminPassword: string;
  process: SwarmflowProcess;
  env: NodeJS.ProcessEnv;
  /**
   * Stops the process (SIGTERM) and starts it again on the same port and home (same database
   * and logins); `whileStopped` runs in between (e.g. to write into the stopped embedded database).
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `swarmflow standalone` on a free port with the example DAGs and waits for their first parse. */
export async function startStandalone(extraEnv: NodeJS.ProcessEnv = {}, dagsFolder = EXAMPLE_DAGS): Promise<Standalone> {
  if (!existsSync(path.join(REPO, 'dist', 'ui', 'index.html'))) throw new Error('the web UI is not built: run `npm run build` first');
  const home = mkdtempSync(path.join(tmpdir(), 'swarmflow-ui-'));
  const port = await freePort();
  const env = { SWARMFLOW_HOME: home, SWARMFLOW_URL: '', SWARMFLOW_EXAMPLES_DATA: path.join(home, 'data'), ...extraEnv };
  const launch = async () => {
    const proc = new SwarmflowProcess('standalone', ['standalone', '--port', String(port), '--dags', dagsFolder], env);
    await proc.waitForOutput('Swarmflow standalone is running', 60_000);
    await proc.waitForOutput(/parsed .*: \d+ DAG\(s\)/, 60_000);
    return proc;
  };
  const proc = await launch();
  const url = /UI:\s+(http:\/\/\S+?)\/?\s/.exec(proc.output)?.[1];
  if (!url) throw new Error(`standalone printed no UI URL:\n${proc.output}`);
  const adminPassword = readFileSync(path.join(home, 'admin-password'), 'utf8').trim();
  const server: Standalone = {
    url, home, adminPassword, process: proc, env,
    async restart(whileStopped) {
      await server.process.stop('SIGTERM');
      await whileStopped?.();
      server.process = await launch();
    },
    async stop() {
      await server.process.stop('SIGTERM');
      rmSync(home, { recursive: true, force: true });
    },
  };
  return server;
}

export interface Webserver {
  url: string;
  adminPassword: string;
  process: SwarmflowProcess;
  stop(): Promise<void>;
}

/**
 * Starts `swarmflow webserver` alone (no scheduler, no broker) on the migrated PostgreSQL
 * database at `databaseUrl`, with the admin `admin` made from a password file: the API and
 * the UI as a distributed deployment serves them, over what the database holds.
 */
export async function startWebserver(databaseUrl: string): Promise<Webserver> {
  if (!existsSync(path.join(REPO, 'dist', 'ui', 'index.html'))) throw new Error('the web UI is not built: run `npm run build` first');
  const home = mkdtempSync(path.join(tmpdir(), 'swarmflow-web-'));
  const port = await freePort();
  const adminPassword = 'render-admin-password';
  writeFileSync(path.join(home, 'admin-password'), `${adminPassword}\n`, { mode: 0o600 });
  const proc = new SwarmflowProcess('webserver', ['webserver'], {
    SWARMFLOW_DATABASE_URL: databaseUrl, SWARMFLOW_WEB_PORT: String(port), SWARMFLOW_WEB_HOST: '127.0.0.1',
    SWARMFLOW_ADMIN_PASSWORD_FILE: path.join(home, 'admin-password'), SWARMFLOW_AMQP_URL: '', SWARMFLOW_HOME: home,
  });
  try {
    await proc.waitForOutput('REST API on', 60_000);
  } catch (err) {
    await proc.stop('SIGKILL');
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`, adminPassword, process: proc,
    async stop() {
      await proc.stop('SIGTERM');
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A fresh browser context logged in through the login form. */
export async function loginPage(browser: Browser, url: string, name: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: url, timezoneId: 'Europe/Paris' });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto('/');
  await page.getByLabel('User').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('current-user').waitFor();
  return { context, page };
}

/** What {@link useStandalonePage} gives a `describe`; reading a field before its `beforeAll` ran throws. */
export interface StandalonePage {
  readonly server: Standalone;
  readonly browser: Browser;
  /** The admin's browser context (logged in, Europe/Paris) and its page. */
  readonly context: BrowserContext;
  readonly page: Page;
  /** The DAGs folder the server reads. */
  readonly dagsDir: string;
  /** The messages of the page's uncaught errors, in order. */
  readonly pageErrors: string[];
}

export interface StandalonePageOptions {
  /** Makes the DAGs folder the server reads, removed after the block (default: the examples, not removed). */
  dags?: () => string;
}

/**
 * A standalone server, chromium and a page logged in as the admin, for the enclosing
 * `describe`: started in its `beforeAll`, closed and stopped in its `afterAll`. A later
 * `beforeAll` of the block sees them started.
 */
export function useStandalonePage(options: StandalonePageOptions = {}): StandalonePage {
  let server: Standalone | undefined;
  let browser: Browser | undefined;
  let logged: { context: BrowserContext; page: Page } | undefined;
  let madeDags: string | undefined;
  let dagsDir: string | undefined;
  const pageErrors: string[] = [];
  beforeAll(async () => {
    madeDags = options.dags?.();
    dagsDir = madeDags ?? EXAMPLE_DAGS;
    await Promise.all([startStandalone({}, dagsDir).then((s) => (server = s)), launchBrowser().then((b) => (browser = b))]);
    logged = await loginPage(browser!, server!.url, 'admin', server!.adminPassword);
    logged.page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (madeDags) rmSync(madeDags, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the standalone page did not start (see the beforeAll error above)');
    return value;
  };
  return {
    get server() { return started(server); },
    get browser() { return started(browser); },
    get context() { return started(logged).context; },
    get page() { return started(logged).page; },
    get dagsDir() { return started(dagsDir); },
    pageErrors,
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** Calls the API as the admin with the standalone's own token (setup steps that are not what a test checks). */
export async function adminApi<T>(server: Standalone, method: string, apiPath: string, body?: unknown): Promise<T> {
  const token = readFileSync(path.join(server.home, 'standalone-token'), 'utf8').trim();
  const res = await fetch(`${server.url}/api/v1${apiPath}`, {
    method, headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${apiPath}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, TRAIN_DAG } from '../../webserver/src/test-support/seed';
import { createWebserver } from '../../webserver/src/webserver';
import type { CliDeps } from './cli-context';
import { credentialsFile, readIfExists } from './config';
import { runCli } from './program';

describeWithPostgres('swarmflow login, users, tokens and audit', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let url: string;
  let home: string;
  const now = new Date('2025-03-01T12:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    await seedDags(repos, [TRAIN_DAG], now);
    app = await createWebserver({ repos, logger: false, clock: () => now });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-auth-'));
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function cli(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}) {
    let out = '';
    let err = '';
    const deps: CliDeps = {
      stdout: (s) => { out += s; },
      stderr: (s) => { err += s; },
      env: { SWARMFLOW_URL: url, SWARMFLOW_HOME: home, ...options.env },
      sleep: async () => undefined,
      now: () => now,
      readFile: readIfExists,
      readStdin: async () => options.stdin ?? '',
    };
    const code = await runCli(args, deps);
    return { code, out, err };
  }
  const onDb = { SWARMFLOW_DATABASE_URL: '' };

  it('bootstraps on the database: an admin, then a token that works against the API', async () => {
    onDb.SWARMFLOW_DATABASE_URL = testDb.url;
    expect(await cli(['users', 'create', 'admin', '--role', 'admin', '--password-stdin', '--database'], { stdin: 'admin-password-1\n', env: onDb }))
      .toEqual({ code: 0, out: 'created user admin (admin)\n', err: '' });
    const created = await cli(['tokens', 'create', '--name', 'ci', '--user', 'admin', '--database'], { env: onDb });
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^sfw_[A-Za-z0-9_-]{43}\n$/);
    expect(created.err).toContain('It is shown only now');
    const token = created.out.trim();
    const listed = await cli(['dags', 'list'], { env: { SWARMFLOW_TOKEN: token } });
    expect(listed).toMatchObject({ code: 0, out: expect.stringContaining('train_ml1m') });
    const tokens = await cli(['tokens', 'list', '--database'], { env: onDb });
    expect(tokens.out).toMatch(/1\s+ci\s+admin\s+sfw_\S+…\s+active\s+never/);
    expect(tokens.out).not.toContain(token);
  });

  it('explains a missing token and the --database setting', async () => {
    const anonymous = await cli(['dags', 'list']);
    expect(anonymous.code).toBe(2);
    expect(anonymous.err).toContain('this API needs a caller');
    expect(anonymous.err).toContain('Fix: run `swarmflow login`, or set SWARMFLOW_TOKEN');
    const noUrl = await cli(['tokens', 'create', '--name', 'x', '--user', 'admin', '--database']);
    expect(noUrl).toMatchObject({ code: 2, err: expect.stringContaining('--database needs SWARMFLOW_DATABASE_URL') });
    const noUser = await cli(['tokens', 'create', '--name', 'x', '--database'], { env: onDb });
    expect(noUser).toMatchObject({ code: 2, err: expect.stringContaining('--database needs --user <name>') });
  });

  it('logs in, saves the token only its owner can read, and logs out', async () => {
    const wrong = await cli(['login', '--user', 'admin', '--password-stdin'], { stdin: 'not-the-password' });
    expect(wrong).toMatchObject({ code: 2, err: expect.stringContaining('wrong user name or password') });
    const login = await cli(['login', '--user', 'admin', '--password-stdin'], { stdin: 'admin-password-1\n' });
    expect(login.code).toBe(0);
    expect(login.out).toContain(`logged in to ${url} as admin (admin)`);
    expect(statSync(credentialsFile({ SWARMFLOW_HOME: home })).mode & 0o777).toBe(0o600);
    expect(await cli(['whoami'])).toEqual({ code: 0, out: `admin (admin) at ${url}\n`, err: '' });
    expect(await cli(['logout'])).toEqual({ code: 0, out: `logged out of ${url}\n`, err: '' });
    expect((await cli(['whoami'])).code).toBe(2);
    expect((await repos.tokens.list({ userName: 'admin' })).filter((t) => t.name.startsWith('cli@')).every((t) => t.revokedAt !== null)).toBe(true);
  });

  it('manages users and tokens through the API as an admin; a viewer is refused with the role it needs', async () => {
    await cli(['login', '--user', 'admin', '--password-stdin'], { stdin: 'admin-password-1' });
    expect(await cli(['users', 'create', 'vic', '--role', 'viewer', '--password-stdin'], { stdin: 'vic-password-1\n' }))
      .toEqual({ code: 0, out: 'created user vic (viewer)\n', err: '' });
    expect((await cli(['users', 'list'])).out).toMatch(/vic\s+viewer\s+yes\s+no/);
    const vicToken = (await cli(['tokens', 'create', '--name', 'vic-ci', '--user', 'vic', '--expires', '90d'])).out.trim();
    // A viewer lists their own tokens (and no one else's), and revokes their own.
    const vicSpare = (await cli(['tokens', 'create', '--name', 'vic-spare', '--user', 'vic'])).out.trim();
    const own = await cli(['tokens', 'list'], { env: { SWARMFLOW_TOKEN: vicToken } });
    expect(own.out.split('\n').filter((l) => /^\d+\s/.test(l)).map((l) => l.split(/\s+/).slice(1, 3).join(' ')).sort()).toEqual(['vic-ci vic', 'vic-spare vic']);
    const others = await cli(['tokens', 'list', '--user', 'admin'], { env: { SWARMFLOW_TOKEN: vicToken } });
    expect(others).toMatchObject({ code: 2, err: expect.stringContaining('needs role admin; you are viewer') });
    const spareId = (await repos.tokens.list({ userName: 'vic' })).find((t) => t.name === 'vic-spare')!.id;
    expect(await cli(['tokens', 'revoke', String(spareId)], { env: { SWARMFLOW_TOKEN: vicToken } })).toEqual({ code: 0, out: `revoked token ${spareId} "vic-spare" of vic\n`, err: '' });
    expect((await cli(['dags', 'list'], { env: { SWARMFLOW_TOKEN: vicSpare } })).err).toContain('revoked');
    const adminsId = (await repos.tokens.list({ userName: 'admin' }))[0].id;
    expect((await cli(['tokens', 'revoke', String(adminsId)], { env: { SWARMFLOW_TOKEN: vicToken } })).err).toContain("revoking another user's token needs role admin");
    const refused = await cli(['dags', 'pause', 'train_ml1m'], { env: { SWARMFLOW_TOKEN: vicToken } });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('needs role operator; you are viewer');
    expect(await cli(['users', 'set-role', 'vic', 'operator'])).toEqual({ code: 0, out: 'user vic is now operator\n', err: '' });
    expect((await cli(['dags', 'pause', 'train_ml1m'], { env: { SWARMFLOW_TOKEN: vicToken } })).code).toBe(0);
    expect(await cli(['users', 'reset-password', 'vic', '--password-stdin'], { stdin: 'vic-password-2\n' })).toEqual({ code: 0, out: 'password of vic changed\n', err: '' });
    const id = (await repos.tokens.list({ userName: 'vic' })).find((t) => t.name === 'vic-ci')!.id;
    expect(await cli(['tokens', 'revoke', String(id)])).toEqual({ code: 0, out: `revoked token ${id} "vic-ci" of vic\n`, err: '' });
    expect((await cli(['dags', 'list'], { env: { SWARMFLOW_TOKEN: vicToken } })).err).toContain('revoked');
    expect(await cli(['users', 'disable', 'vic', '--database'], { env: onDb })).toEqual({ code: 0, out: 'disabled user vic\n', err: '' });
    expect((await cli(['users', 'list'])).out).toMatch(/vic\s+operator\s+yes\s+yes/);
    expect(await cli(['users', 'enable', 'vic'])).toEqual({ code: 0, out: 'enabled user vic\n', err: '' });
    expect(await cli(['users', 'delete', 'vic'])).toEqual({ code: 0, out: 'deleted user vic\n', err: '' });
    const last = await cli(['users', 'delete', 'admin']);
    expect(last).toMatchObject({ code: 2, err: expect.stringContaining('it is the last admin') });
  });

  it('lists the audit log, with what was done on the database', async () => {
    const audit = await cli(['audit', 'list', '--since', '1h', '--json']);
    expect(audit.code).toBe(0);
    const entries = JSON.parse(audit.out) as { action: string; method: string | null; actor: string | null; outcome: string }[];
    const actions = entries.map((e) => e.action);
    for (const action of ['user.create', 'user.update', 'user.password', 'user.delete', 'token.create', 'token.revoke', 'auth.login', 'auth.logout', 'dag.pause']) {
      expect(actions).toContain(action);
    }
    expect(entries.find((e) => e.method === 'database' && e.action === 'token.create')).toMatchObject({ outcome: 'ok', actor: expect.stringContaining('@') });
    const table = await cli(['audit', 'list', '--since', '1h', '--action', 'dag.pause']);
    expect(table.out.split('\n')[0]).toMatch(/^AT\s+ACTOR\s+VIA\s+ACTION\s+TARGET\s+OUTCOME\s+STATUS\s+FROM$/);
    expect(table.out).toMatch(/vic\s+token\s+dag\.pause\s+dags\/train_ml1m\s+denied\s+403/);
  });
});

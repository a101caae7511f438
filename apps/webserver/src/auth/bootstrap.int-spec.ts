import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { startWebserver } from '../main';
import { loadWebserverConfig } from '../webserver.config';
import { Accounts } from './accounts';
import { ensureStandaloneCredentials } from './bootstrap';

describeWithPostgres('first admin and standalone credentials', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let dir: string;

  beforeEach(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 2 });
    repos = new Repositories(db);
    dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-bootstrap-'));
  });

  afterEach(async () => {
    await db?.close();
    await testDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const silent = () => undefined;
  const quiet = { log: silent, warn: silent, error: silent, debug: silent, verbose: silent, fatal: silent } as unknown as Logger;
  const config = (extra: NodeJS.ProcessEnv = {}) => loadWebserverConfig({ SWARMFLOW_DATABASE_URL: testDb.url, SWARMFLOW_WEB_PORT: '0', SWARMFLOW_WEB_HOST: '127.0.0.1', ...extra });

  it('a distributed webserver refuses to start with no admin, naming the fixes', async () => {
    await expect(startWebserver(config(), quiet)).rejects.toThrow(/no admin user exists.*SWARMFLOW_ADMIN_PASSWORD_FILE.*swarmflow users create admin --role admin --password-stdin --database/s);
  });

  it('creates the first admin from SWARMFLOW_ADMIN_PASSWORD_FILE, once', async () => {
    const file = path.join(dir, 'admin');
    writeFileSync(file, 'docker-secret-pw\n');
    const web = await startWebserver(config({ SWARMFLOW_ADMIN_PASSWORD_FILE: file }), quiet);
    try {
      const login = await fetch(`${web.url}/api/v1/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'docker-secret-pw' }),
      });
      expect(login.status).toBe(200);
      expect((await fetch(`${web.url}/api/v1/dags`)).status).toBe(401);
    } finally {
      await web.close();
    }
    // A changed file does not overwrite an existing admin's password.
    writeFileSync(file, 'another-password\n');
    const again = await startWebserver(config({ SWARMFLOW_ADMIN_PASSWORD_FILE: file }), quiet);
    await again.close();
    expect(await new Accounts(repos, () => new Date()).verifyLogin('admin', 'docker-secret-pw')).not.toBeNull();
  });

  it('standalone: the first start makes admin with a 0600 password file and a CLI token; later starts keep them', async () => {
    await db.migrate();
    const first = await ensureStandaloneCredentials(repos, dir);
    expect(first.adminPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(readFileSync(first.adminPasswordFile, 'utf8').trim()).toBe(first.adminPassword);
    expect(statSync(first.adminPasswordFile).mode & 0o777).toBe(0o600);
    expect(statSync(first.tokenFile!).mode & 0o777).toBe(0o600);
    const token = readFileSync(first.tokenFile!, 'utf8').trim();
    const accounts = new Accounts(repos, () => new Date());
    expect(await accounts.authenticateToken(token)).toMatchObject({ caller: { user: { name: 'admin', role: 'admin' } } });
    expect(await accounts.verifyLogin('admin', first.adminPassword!)).not.toBeNull();

    const second = await ensureStandaloneCredentials(repos, dir);
    expect(second.adminPassword).toBeNull();
    expect(readFileSync(second.tokenFile!, 'utf8').trim()).toBe(token);

    // A revoked token is replaced on the next start.
    const [info] = await accounts.listTokens('admin');
    await accounts.revokeToken(info.id);
    const third = await ensureStandaloneCredentials(repos, dir);
    const replaced = readFileSync(third.tokenFile!, 'utf8').trim();
    expect(replaced).not.toBe(token);
    expect(await accounts.authenticateToken(replaced)).toHaveProperty('caller');
  });
});

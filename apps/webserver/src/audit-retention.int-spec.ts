import type { INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { AuditRetention } from './auth/audit-retention';
import { createWebserver } from './webserver';

const DAY = 24 * 3600 * 1000;

describeWithPostgres('audit retention (SWARMFLOW_AUDIT_RETENTION)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  const apps: INestApplication[] = [];
  let now = new Date('2025-06-01T00:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.close();
    await testDb?.drop();
  });

  const entry = (action: string, daysAgo: number) => repos.audit.append({
    at: new Date(now.getTime() - daysAgo * DAY), actor: 'olga', method: 'token', action, target: null, outcome: 'ok', status: 200, sourceIp: '127.0.0.1', detail: {},
  });
  const actions = async () => (await repos.audit.list({ limit: 1000 })).map((e) => e.action).sort();
  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async function server(retentionMs: number | null, intervalMs = 3_600_000) {
    const app = await createWebserver({ repos, logger: false, clock: () => now, auditRetention: { retentionMs, intervalMs, batchSize: 2 } });
    apps.push(app);
    return app;
  }

  it('keeps every entry with retention off (0 / forever)', async () => {
    await entry('ancient', 3000);
    const app = await server(null);
    expect(await app.get(AuditRetention).prune()).toBe(0);
    expect(await actions()).toEqual(['ancient']);
    await app.close();
  });

  it('prunes entries past the retention at start, in batches, and keeps the rest', async () => {
    for (let i = 0; i < 5; i++) await entry(`old-${i}`, 31 + i);
    await entry('recent', 29);
    const prune = jest.spyOn(repos.audit, 'prune');
    await server(30 * DAY);
    await eventually(async () => (await actions()).join() === 'recent', 'the old entries are gone');
    // 6 old entries (with the one from the first test), 2 per statement: 3 full batches and a last, empty one.
    expect(prune.mock.calls.map((c) => c[1])).toEqual([2, 2, 2, 2]);
    expect(prune.mock.calls[0][0]).toEqual(new Date(now.getTime() - 30 * DAY));
    prune.mockRestore();
  });

  it('prunes again periodically as entries age', async () => {
    await server(30 * DAY, 50);
    await entry('ageing', 10);
    now = new Date(now.getTime() + 25 * DAY);
    await eventually(async () => !(await actions()).includes('ageing') && !(await actions()).includes('recent'), 'the aged entries are pruned');
  });
});

import type { INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import type { DagSummaryDto } from '@swarmflow/contracts/api.types';
import { seedDags } from './test-support/seed';
import { createWebserver } from './webserver';
import { apiAs, createTestToken } from './test-support/auth';

// The DAG list's "last runs at a glance": each DAG brings its own newest runs, so a quiet DAG
// keeps its dots however many runs a busy one has had since (a shared `/runs?limit=1000` lost them).
describeWithPostgres('GET /dags: each DAG\'s last runs', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  const now = new Date('2025-03-01T12:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    await seedDags(repos, [
      { id: 'quiet', tasks: [{ id: 'only', command: 'true' }] },
      { id: 'busy', tasks: [{ id: 'only', command: 'true' }] },
    ], now);
    const versionOf = async (dagId: string) => (await repos.dags.get(dagId))!.latestVersion;
    const base = { versionHash: await versionOf('quiet'), runType: 'manual' as const, conf: {}, params: {} };
    // The quiet DAG's 7 runs first, then 1,500 of the busy one: all newer than the quiet DAG's.
    for (let i = 1; i <= 7; i++) {
      await repos.runs.create({ ...base, dagId: 'quiet', runId: `q${i}`, logicalDate: new Date(now.getTime() + i * 1000) });
    }
    // Test setup: the busy DAG's runs in one statement (1,500 creates through the API would be slow).
    await db.query(
      `INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date, conf, params, needs_eval)
       SELECT 'busy', 'b' || n, $1, 'manual', 'success', $2::timestamptz + n * interval '1 second', '{}', '{}', false
       FROM generate_series(1, 1500) n ORDER BY n`,
      [await versionOf('busy'), now],
    );
    app = await createWebserver({ repos, logger: false, onChange: () => {}, clock: () => now });
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  it("lists a quiet DAG's last 5 runs, newest first, among a busy DAG's 1,500", async () => {
    const token = await createTestToken(repos, 'viewer');
    const dags = (await apiAs(app, token).get('/api/v1/dags').expect(200)).body as DagSummaryDto[];
    const runIds = Object.fromEntries(dags.map((d) => [d.dagId, d.recentRuns?.map((r) => r.runId)]));
    expect(runIds).toEqual({ quiet: ['q7', 'q6', 'q5', 'q4', 'q3'], busy: ['b1500', 'b1499', 'b1498', 'b1497', 'b1496'] });
    const quiet = dags.find((d) => d.dagId === 'quiet')!;
    expect(quiet.lastRun).toEqual(quiet.recentRuns![0]);
    expect(quiet.recentRuns![0]).toEqual({ runId: 'q7', state: 'queued', logicalDate: '2025-03-01T12:00:07.000Z' });
    // One DAG's own view carries them too.
    const one = (await apiAs(app, token).get('/api/v1/dags/quiet').expect(200)).body as DagSummaryDto;
    expect(one.recentRuns?.map((r) => r.runId)).toEqual(['q7', 'q6', 'q5', 'q4', 'q3']);
  });
});

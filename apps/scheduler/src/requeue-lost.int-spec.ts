import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, setRunStates, TRAIN_DAG } from '../../webserver/src/test-support/seed';
import { LOST_MESSAGE_REASON, requeueLostTaskMessages } from './services/requeue-lost';

describeWithPostgres('requeueLostTaskMessages (standalone start)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  const now = new Date('2025-03-01T12:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 2 });
    repos = new Repositories(db);
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('puts back to scheduled, with one more try allowed, only the tries left queued', async () => {
    const [dag] = await seedDags(repos, [TRAIN_DAG], now);
    const run = await repos.runs.create({ dagId: dag.id, runId: 'r1', versionHash: (await repos.dags.get(dag.id))!.latestVersion, runType: 'manual', logicalDate: now, conf: {}, params: {} });
    await setRunStates(repos, run, dag, 'running', {
      extract: { state: 'success', tryNumber: 1 },
      train: { state: 'queued', tryNumber: 1 },
      lint: { state: 'running', tryNumber: 1, worker: 'standalone-x' },
    });
    const before = new Map((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));

    expect(await requeueLostTaskMessages(repos, now)).toBe(1);
    const after = new Map((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
    expect(after.get('train')).toMatchObject({ state: 'scheduled', tryNumber: 1, maxTries: before.get('train')!.maxTries + 1, queuedAt: null });
    expect(await repos.tis.history(after.get('train')!.id)).toEqual([
      expect.objectContaining({ tryNumber: 1, from: 'queued', to: 'scheduled', reason: LOST_MESSAGE_REASON }),
    ]);
    // The others are as they were.
    for (const id of ['extract', 'lint', 'report']) expect(after.get(id)).toEqual(before.get(id));
    expect(await requeueLostTaskMessages(repos, now)).toBe(0);
  });
});

import type { INestApplication } from '@nestjs/common';
import type { SerializedDag, TiState } from '@swarmflow/core';
import { MemoryBroker } from '@swarmflow/messaging';
import { Database, Repositories, type TaskInstance } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { QueueSamplerService } from './services/queue-sampler.service';
import { apiAs, createTestToken } from './test-support/auth';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';

describeWithPostgres('the dashboard\'s reads: tries across DAGs, queue depth history', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let dag: SerializedDag;
  let token = '';
  let now = new Date('2025-03-01T12:00:00.000Z');
  const broker = new MemoryBroker();

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    const hash = (await repos.dags.get(dag.id))!.latestVersion;
    for (const [runId, minute] of [['r1', 0], ['r2', 5]] as const) {
      const run = await repos.runs.create({ dagId: dag.id, runId, versionHash: hash, runType: 'manual', logicalDate: new Date(now.getTime() + minute * 60_000), conf: {}, params: {} });
      await setRunStates(repos, run, dag, 'running', {
        extract: { state: 'success', tryNumber: 1, worker: 'w1', exitCode: 0 },
        train: { state: runId === 'r1' ? 'failed' : 'queued', tryNumber: runId === 'r1' ? 3 : 1, worker: runId === 'r1' ? 'w2' : undefined, exitCode: runId === 'r1' ? 2 : undefined },
      });
    }
    await broker.start();
    await repos.workers.recordHeartbeats([{ name: 'w1', hostname: 'h', queues: ['default', 'gpu'], concurrency: 2, gpus: 0, state: 'active', running: [], unacked: { gpu: 1 } }], now);
    token = await createTestToken(repos, 'viewer');
    app = await createWebserver({ repos, logger: false, clock: () => now, broker, sampleQueues: false });
  });

  afterAll(async () => {
    await app?.close();
    await broker.close();
    await db?.close();
    await testDb?.drop();
  });

  it('GET /tries lists tries across runs newest first, filtered by state, worker, queue and DAG, paged with a total', async () => {
    const all = (await apiAs(app, token).get('/api/v1/tries?limit=2').expect(200)).body;
    expect(all).toMatchObject({ total: 4, limit: 2, offset: 0 });
    expect(all.items).toHaveLength(2);
    const failed = (await apiAs(app, token).get('/api/v1/tries?state=failed,up_for_retry&worker=w2&queue=gpu&dag=train_ml1m').expect(200)).body;
    expect(failed.items).toEqual([expect.objectContaining({
      dagId: 'train_ml1m', runId: 'r1', taskId: 'train', state: 'failed', tryNumber: 3, worker: 'w2', exitCode: 2, queue: 'gpu',
    })]);
    const page2 = (await apiAs(app, token).get('/api/v1/tries?limit=3&offset=3').expect(200)).body;
    expect(page2.items).toHaveLength(1);
    const future = (await apiAs(app, token).get(`/api/v1/tries?since=${encodeURIComponent('2999-01-01T00:00:00Z')}`).expect(200)).body;
    expect(future).toMatchObject({ total: 0, items: [] });
  });

  it('GET /tries narrows by real since/until dates: since inclusive, until exclusive, on the start (the queue time before one)', async () => {
    const setTimes = (runId: string, taskId: string, startedAt: string | null, queuedAt: string) => db.query(
      `UPDATE task_instance t SET started_at = $3, queued_at = $4 FROM dag_run r WHERE r.id = t.run_pk AND r.run_id = $1 AND t.task_id = $2`,
      [runId, taskId, startedAt, queuedAt],
    );
    await setTimes('r1', 'extract', '2025-03-01T10:00:00.000Z', '2025-03-01T09:59:00.000Z');
    await setTimes('r1', 'train', '2025-03-01T10:20:00.000Z', '2025-03-01T10:19:00.000Z');
    await setTimes('r2', 'extract', '2025-03-01T11:00:00.000Z', '2025-03-01T10:59:00.000Z');
    await setTimes('r2', 'train', null, '2025-03-01T11:30:00.000Z'); // queued, not started: its queue time counts
    const tries = async (query: Record<string, string>) => {
      const body = (await apiAs(app, token).get(`/api/v1/tries?${new URLSearchParams(query)}`).expect(200)).body as { total: number; items: { runId: string; taskId: string }[] };
      expect(body.total).toBe(body.items.length);
      return body.items.map((t) => `${t.runId}.${t.taskId}`);
    };
    expect(await tries({ since: '2025-03-01T10:20:00Z' })).toEqual(['r2.train', 'r2.extract', 'r1.train']);
    expect(await tries({ until: '2025-03-01T11:00:00Z' })).toEqual(['r1.train', 'r1.extract']);
    expect(await tries({ since: '2025-03-01T10:00:00Z', until: '2025-03-01T10:20:00Z' })).toEqual(['r1.extract']);
    expect(await tries({ since: '2025-03-01T11:00:00Z', until: '2025-03-01T11:30:00.001Z' })).toEqual(['r2.train', 'r2.extract']);
    // Another offset is the same instant (what the UI's local-time fields send as UTC).
    expect(await tries({ since: '2025-03-01T12:30:00+01:00', until: '2025-03-01T13:00:00+01:00' })).toEqual(['r2.train']);
    expect(await tries({ since: '2025-03-01T10:10:00Z', until: '2025-03-01T10:30:00Z', state: 'failed', worker: 'w2' })).toEqual(['r1.train']);
    expect(await tries({ since: '2025-03-01T12:00:00Z', until: '2025-03-01T10:00:00Z' })).toEqual([]);
  });

  it('GET /tries refuses an unknown state or filter, naming it', async () => {
    expect((await apiAs(app, token).get('/api/v1/tries?state=done').expect(400)).body).toMatchObject({ field: 'state', message: expect.stringContaining('unknown task instance state "done"') });
    expect((await apiAs(app, token).get('/api/v1/tries?status=failed').expect(400)).body).toMatchObject({ reason: 'invalid_request' });
  });

  it('GET /tries lists every try, an earlier one under its own worker, state and times: failed on w1, retried and succeeded on w2', async () => {
    const hash = (await repos.dags.get(dag.id))!.latestVersion;
    const run = await repos.runs.create({ dagId: dag.id, runId: 'retried', versionHash: hash, runType: 'manual', logicalDate: new Date(now.getTime() + 60 * 60_000), conf: {}, params: {} });
    await setRunStates(repos, run, dag, 'running', {});
    const at = (minute: number) => new Date(Date.parse('2025-03-02T08:00:00.000Z') + minute * 60_000);
    // Each step as the scheduler and workers apply them, so each writes its history row.
    const step = async (minute: number, to: TiState, tryNumber: number, change: Partial<TaskInstance>) => {
      const ti = (await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'extract')!;
      await db.transaction((tx) => repos.tis.applyTransitions([{
        before: ti, after: { ...ti, ...change, state: to, tryNumber },
        steps: [{ from: ti.state, to, tryNumber, reason: change.reason ?? null }],
      }], at(minute), tx));
    };
    await step(0, 'scheduled', 0, {});
    await step(0, 'queued', 1, { queuedAt: at(0) });
    await step(1, 'running', 1, { worker: 'rw1', hostname: 'h1', startedAt: at(1) });
    await step(2, 'up_for_retry', 1, { exitCode: 3, endedAt: at(2), reason: 'exit code 3' });
    await step(3, 'scheduled', 1, {});
    await step(3, 'queued', 2, { worker: null, hostname: null, exitCode: null, reason: null, queuedAt: at(3), startedAt: null, endedAt: null });
    await step(4, 'running', 2, { worker: 'rw2', hostname: 'h2', startedAt: at(4) });
    await step(5, 'success', 2, { exitCode: 0, endedAt: at(5) });

    type Row = { runId: string; taskId: string; tryNumber: number; state: string; worker: string | null; exitCode: number | null; startedAt: string | null; endedAt: string | null; durationSeconds: number | null };
    const tries = async (query: Record<string, string>) => {
      const body = (await apiAs(app, token).get(`/api/v1/tries?${new URLSearchParams({ dag: dag.id, ...query })}`).expect(200)).body as { total: number; items: Row[] };
      const items = body.items.filter((t) => t.runId === 'retried');
      return { total: body.total, items: items.map((t) => [t.tryNumber, t.state, t.worker, t.exitCode, t.startedAt, t.endedAt, t.durationSeconds]) };
    };
    const first = [1, 'up_for_retry', 'rw1', 3, at(1).toISOString(), at(2).toISOString(), 60];
    const second = [2, 'success', 'rw2', 0, at(4).toISOString(), at(5).toISOString(), 60];
    expect(await tries({ worker: 'rw1' })).toEqual({ total: 1, items: [first] });
    expect(await tries({ worker: 'rw2' })).toEqual({ total: 1, items: [second] });
    expect((await tries({})).items).toEqual([second, first]); // newest first
    expect(await tries({ state: 'up_for_retry' })).toEqual({ total: 1, items: [first] });
    expect(await tries({ since: at(0).toISOString(), until: at(3).toISOString() })).toEqual({ total: 1, items: [first] });
    expect(await tries({ since: at(3).toISOString() })).toEqual({ total: 1, items: [second] });
    // Paging goes through both: the newest (try 2) on page 1, try 1 next.
    expect((await tries({ since: at(0).toISOString(), limit: '1', offset: '1' })).items).toEqual([first]);

    // Cleared (a clear empties the instance's worker and exit code): try 2 still shows as it ended, on rw2.
    await step(6, 'none', 2, { worker: null, hostname: null, exitCode: null, reason: 'cleared by admin' });
    expect(await tries({ worker: 'rw2' })).toEqual({ total: 1, items: [second] });
    expect((await tries({})).items).toEqual([second, first]);
  });

  it('samples queue depths on 15 s boundaries, once per time however many webservers, and serves them as history', async () => {
    const sampler = app.get(QueueSamplerService);
    const first = await sampler.sample();
    expect(first.find((s) => s.queue === 'gpu')).toMatchObject({ queued: 1, running: 0, unacked: 1, at: now });
    await sampler.sample(); // a second webserver at the same time: no duplicate
    now = new Date(now.getTime() + 15_000);
    await sampler.sample();
    const history = (await apiAs(app, token).get('/api/v1/queues/history?minutes=5&queue=gpu').expect(200)).body;
    expect(history.intervalSeconds).toBe(15);
    // The window asked for, by the server's clock (the chart's time axis spans it).
    expect([history.from, history.to]).toEqual(['2025-03-01T11:55:15.000Z', '2025-03-01T12:00:15.000Z']);
    expect(history.samples.map((s: { at: string }) => s.at)).toEqual(['2025-03-01T12:00:00.000Z', '2025-03-01T12:00:15.000Z']);
    // Kept a day: a sample 25 h later removes the first ones.
    now = new Date(now.getTime() + 25 * 3600_000);
    await sampler.sample();
    expect((await repos.dashboard.queueSamples(new Date(0), 'gpu')).map((s) => s.at.toISOString())).toEqual([now.toISOString()]);
  });
});

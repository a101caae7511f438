import type { INestApplication } from '@nestjs/common';
import type { ControlMessage, SerializedDag } from '@swarmflow/core';
import { controlQueue, MemoryBroker } from '@swarmflow/messaging';
import { Database, Repositories } from '@swarmflow/persistence';
import { ClusterKey, ControlSigner, type SignedControlEnvelope } from '@swarmflow/secrets';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { apiAs, createTestToken } from './test-support/auth';

// train_ml1m: extract → train → report (all_done), lint alone.
describeWithPostgres('mark a task, preview a clear, cancel a run (API)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let bare: INestApplication;
  let dag: SerializedDag;
  const broker = new MemoryBroker();
  const received = new Map<string, ControlMessage[]>();
  const clusterKey = ClusterKey.generate();
  const now = new Date('2025-03-01T12:00:00.000Z');
  let token: string;
  let changes = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    await broker.start();
    for (const worker of ['worker-a', 'worker-b']) {
      received.set(worker, []);
      await broker.consume<SignedControlEnvelope>(controlQueue(worker), (m) => {
        // Workers obey only what is signed for the routing key it came on.
        const { issuedAt, control, sig } = m.body;
        if (!new ControlSigner(clusterKey).verify(issuedAt, m.routingKey, control, sig)) throw new Error(`unsigned control message: ${JSON.stringify(m.body)}`);
        received.get(worker)!.push(JSON.parse(control) as ControlMessage);
        m.ack();
      }, { prefetch: 10 });
    }
    app = await createWebserver({ repos, logger: false, clock: () => now, broker, clusterKey, onChange: () => changes++ });
    bare = await createWebserver({ repos, logger: false, clock: () => now });
    token = await createTestToken(repos, 'operator', 'olga');
  });

  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await broker.close();
    await db?.close();
    await testDb?.drop();
  });

  const settled = () => new Promise((r) => setImmediate(r));
  const api = (server = app) => apiAs(server, token);
  async function runWith(runId: string, runState: 'running' | 'failed' | 'success', states: Parameters<typeof setRunStates>[4]) {
    await api().post('/api/v1/dags/train_ml1m/runs').send({ runId, logicalDate: new Date(now.getTime() - Math.floor(Math.random() * 1e9)).toISOString() }).expect(201);
    const run = (await repos.runs.get('train_ml1m', runId))!;
    await setRunStates(repos, run, dag, runState, states);
    return run;
  }
  const statesOf = async (runId: string) => {
    const run = (await repos.runs.get('train_ml1m', runId))!;
    return Object.fromEntries((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t.state]));
  };
  const tiOf = async (runId: string, taskId: string) => (await repos.tis.forRuns([(await repos.runs.get('train_ml1m', runId))!.pk])).find((t) => t.taskId === taskId)!;

  describe('mark', () => {
    it('marking a successful try failed ends its cache entry: no other run takes the rejected result', async () => {
      const run = await runWith('mcache', 'success', {
        extract: { state: 'success', tryNumber: 1 }, train: { state: 'success', tryNumber: 1 },
        report: { state: 'success', tryNumber: 1 }, lint: { state: 'success', tryNumber: 1 },
      });
      const key = 'c'.repeat(64);
      const train = await tiOf('mcache', 'train');
      await db.query(`INSERT INTO task_result (ti_id, try_number, succeeded, outputs, cache_key, created_at) VALUES ($1, 1, true, '{"m": 1}', $2, $3)`, [train.id, key, now]);
      expect((await repos.results.findCached([key])).get(key)).toMatchObject({ tiId: train.id, tryNumber: 1 });
      await api().post('/api/v1/dags/train_ml1m/runs/mcache/tasks/train/mark').send({ state: 'failed' }).expect(200);
      expect((await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'train')!.state).toBe('failed');
      expect((await repos.results.findCached([key])).size).toBe(0);
      expect((await repos.results.forTaskInstance(train.id))[0]).toMatchObject({ outputs: { m: 1 }, invalidatedAt: now });
    });

    it('a dry run lists what would change and writes nothing', async () => {
      await runWith('m1', 'failed', {
        extract: { state: 'success', tryNumber: 1 }, train: { state: 'failed', tryNumber: 3 },
        report: { state: 'upstream_failed', tryNumber: 0 }, lint: { state: 'success', tryNumber: 1 },
      });
      const before = changes;
      const res = await api().post('/api/v1/dags/train_ml1m/runs/m1/tasks/train/mark').send({ state: 'success', downstream: true, dryRun: true }).expect(200);
      expect(res.body).toEqual({
        dagId: 'train_ml1m', runId: 'm1', taskId: 'train', state: 'success', dryRun: true, stopped: [],
        changes: [
          { taskId: 'train', from: 'failed', to: 'success', tryNumber: 3 },
          { taskId: 'report', from: 'upstream_failed', to: 'success', tryNumber: 0 },
        ],
      });
      expect(await statesOf('m1')).toEqual({ extract: 'success', train: 'failed', report: 'upstream_failed', lint: 'success' });
      expect((await repos.runs.get('train_ml1m', 'm1'))!.state).toBe('failed');
      expect(changes).toBe(before);
    });

    it('marks a failed task success: the ended run runs again and is evaluated; the reason names who', async () => {
      const before = changes;
      const res = await api().post('/api/v1/dags/train_ml1m/runs/m1/tasks/train/mark').send({ state: 'success' }).expect(200);
      expect(res.body.changes).toEqual([{ taskId: 'train', from: 'failed', to: 'success', tryNumber: 3 }]);
      expect(await tiOf('m1', 'train')).toMatchObject({ state: 'success', tryNumber: 3, reason: 'marked success by olga' });
      const run = (await repos.runs.get('train_ml1m', 'm1'))!;
      expect(run.state).toBe('running');
      expect(await repos.runs.needingEvaluation(100)).toContain(run.pk);
      expect(changes).toBe(before + 1);
      const history = (await api().get('/api/v1/dags/train_ml1m/runs/m1/tasks/train').expect(200)).body.history;
      expect(history[history.length - 1]).toMatchObject({ from: 'failed', to: 'success', reason: 'marked success by olga' });
    });

    it('with upstream, marks the ancestors; stops a running try through its worker and a queued one through all', async () => {
      await runWith('m2', 'running', {
        extract: { state: 'running', tryNumber: 1, worker: 'worker-a' }, train: { state: 'none', tryNumber: 0 },
        report: { state: 'none', tryNumber: 0 }, lint: { state: 'queued', tryNumber: 1 },
      });
      for (const r of received.values()) r.length = 0;
      const res = await api().post('/api/v1/dags/train_ml1m/runs/m2/tasks/train/mark').send({ state: 'failed', upstream: true }).expect(200);
      expect(res.body.changes).toEqual([
        { taskId: 'extract', from: 'running', to: 'failed', tryNumber: 1 },
        { taskId: 'train', from: 'none', to: 'failed', tryNumber: 0 },
      ]);
      expect(res.body.stopped).toEqual([{ taskId: 'extract', tryNumber: 1, sentTo: 'worker-a' }]);
      await settled();
      expect(received.get('worker-a')).toEqual([{ type: 'task.cancel', tiId: (await tiOf('m2', 'extract')).id, tryNumber: 1 }]);
      expect(received.get('worker-b')).toEqual([]);

      for (const r of received.values()) r.length = 0;
      const queued = await api().post('/api/v1/dags/train_ml1m/runs/m2/tasks/lint/mark').send({ state: 'success' }).expect(200);
      expect(queued.body.stopped).toEqual([{ taskId: 'lint', tryNumber: 1, sentTo: 'all workers' }]);
      await settled();
      for (const w of ['worker-a', 'worker-b']) expect(received.get(w)).toEqual([{ type: 'task.cancel', tiId: (await tiOf('m2', 'lint')).id, tryNumber: 1 }]);
      expect(await statesOf('m2')).toEqual({ extract: 'failed', train: 'failed', report: 'none', lint: 'success' });
    });

    it('answers an empty change list when the task already is in that state', async () => {
      const res = await api().post('/api/v1/dags/train_ml1m/runs/m2/tasks/lint/mark').send({ state: 'success' }).expect(200);
      expect(res.body.changes).toEqual([]);
    });

    it('refuses a running try without a broker (503), and a bad state (400 naming the field)', async () => {
      await runWith('m3', 'running', { extract: { state: 'running', tryNumber: 1, worker: 'worker-a' } });
      expect((await api(bare).post('/api/v1/dags/train_ml1m/runs/m3/tasks/extract/mark').send({ state: 'success' }).expect(503)).body.reason).toBe('no_broker');
      expect((await tiOf('m3', 'extract')).state).toBe('running');
      const bad = await api().post('/api/v1/dags/train_ml1m/runs/m3/tasks/extract/mark').send({ state: 'skipped' }).expect(400);
      expect(bad.body.field).toBe('state');
    });

    it('refuses a removed task, naming why', async () => {
      await runWith('m4', 'running', { lint: { state: 'removed', tryNumber: 0 } });
      const res = await api().post('/api/v1/dags/train_ml1m/runs/m4/tasks/lint/mark').send({ state: 'success' }).expect(409);
      expect(res.body).toEqual({ reason: 'task_not_markable', message: 'train_ml1m.lint in run "m4" is removed, which cannot be marked success: the task is not in the DAG version the run uses.' });
    });
  });

  describe('clear --dry-run', () => {
    it('lists the instances a clear would reset with their states, and the busy ones; writes nothing', async () => {
      await runWith('c1', 'running', {
        extract: { state: 'failed', tryNumber: 2 }, train: { state: 'upstream_failed', tryNumber: 0 },
        report: { state: 'running', tryNumber: 1, worker: 'worker-a' }, lint: { state: 'success', tryNumber: 1 },
      });
      const res = await api().post('/api/v1/dags/train_ml1m/runs/c1/tasks/extract/clear').send({ downstream: true, dryRun: true }).expect(200);
      expect(res.body).toEqual({
        dagId: 'train_ml1m', runId: 'c1', dryRun: true, cleared: ['extract', 'train'],
        taskInstances: [{ taskId: 'extract', state: 'failed', tryNumber: 2 }, { taskId: 'train', state: 'upstream_failed', tryNumber: 0 }],
        busy: [{ taskId: 'report', state: 'running' }],
      });
      expect(await statesOf('c1')).toMatchObject({ extract: 'failed', train: 'upstream_failed' });
      // The clear itself is refused while report runs, as the preview said.
      await api().post('/api/v1/dags/train_ml1m/runs/c1/tasks/extract/clear').send({ downstream: true }).expect(409);
      const alone = await api().post('/api/v1/dags/train_ml1m/runs/c1/tasks/extract/clear').send({ dryRun: true }).expect(200);
      expect(alone.body).toMatchObject({ cleared: ['extract'], busy: [] });
    });
  });

  describe('clear with upstream and downstream', () => {
    const states = { extract: { state: 'success', tryNumber: 1 }, train: { state: 'failed', tryNumber: 2 }, report: { state: 'failed', tryNumber: 1 }, lint: { state: 'success', tryNumber: 1 } } as const;

    it('clears the task, its ancestors and its descendants in one call; the preview lists exactly those', async () => {
      await runWith('u1', 'failed', states);
      const url = '/api/v1/dags/train_ml1m/runs/u1/tasks/train/clear';
      const preview = await api().post(url).send({ upstream: true, downstream: true, dryRun: true }).expect(200);
      expect(preview.body).toEqual({
        dagId: 'train_ml1m', runId: 'u1', dryRun: true, cleared: ['extract', 'train', 'report'],
        taskInstances: [
          { taskId: 'extract', state: 'success', tryNumber: 1 }, { taskId: 'train', state: 'failed', tryNumber: 2 }, { taskId: 'report', state: 'failed', tryNumber: 1 },
        ],
        busy: [],
      });
      const upOnly = await api().post(url).send({ upstream: true, dryRun: true }).expect(200);
      expect(upOnly.body.cleared).toEqual(['extract', 'train']);
      expect(await statesOf('u1')).toEqual({ extract: 'success', train: 'failed', report: 'failed', lint: 'success' });

      const res = await api().post(url).send({ upstream: true, downstream: true }).expect(200);
      expect(res.body).toEqual({ dagId: 'train_ml1m', runId: 'u1', cleared: preview.body.cleared });
      expect(await statesOf('u1')).toEqual({ extract: 'none', train: 'none', report: 'none', lint: 'success' });
      expect((await repos.runs.get('train_ml1m', 'u1'))!.state).toBe('running');
    });

    it('clears nothing when it fails after the first instances were reset', async () => {
      await runWith('u2', 'failed', states);
      // The database fails after the instances' rows were written, before the run is flagged.
      const failing = jest.spyOn(repos.runs, 'markNeedsEval').mockRejectedValueOnce(new Error('connection lost'));
      try {
        await api().post('/api/v1/dags/train_ml1m/runs/u2/tasks/train/clear').send({ upstream: true, downstream: true }).expect(500);
        expect(failing).toHaveBeenCalledTimes(1);
      } finally {
        failing.mockRestore();
      }
      expect(await statesOf('u2')).toEqual({ extract: 'success', train: 'failed', report: 'failed', lint: 'success' });
      expect((await repos.runs.get('train_ml1m', 'u2'))!.state).toBe('failed');
    });
  });

  describe('cancel', () => {
    it('fails running tries (their worker stops them), skips what had not started, ends the run failed naming who', async () => {
      await runWith('x1', 'running', {
        extract: { state: 'success', tryNumber: 1 }, train: { state: 'running', tryNumber: 2, worker: 'worker-b' },
        report: { state: 'none', tryNumber: 0 }, lint: { state: 'queued', tryNumber: 1 },
      });
      for (const r of received.values()) r.length = 0;
      const res = await api().post('/api/v1/dags/train_ml1m/runs/x1/cancel').expect(200);
      expect(res.body).toEqual({
        dagId: 'train_ml1m', runId: 'x1', state: 'failed', reason: 'cancelled by olga',
        changes: expect.arrayContaining([
          { taskId: 'train', from: 'running', to: 'failed', tryNumber: 2 },
          { taskId: 'report', from: 'none', to: 'skipped', tryNumber: 0 },
          { taskId: 'lint', from: 'queued', to: 'skipped', tryNumber: 1 },
        ]),
        stopped: expect.arrayContaining([
          { taskId: 'train', tryNumber: 2, sentTo: 'worker-b' },
          { taskId: 'lint', tryNumber: 1, sentTo: 'all workers' },
        ]),
      });
      expect(res.body.changes).toHaveLength(3);
      expect(await statesOf('x1')).toEqual({ extract: 'success', train: 'failed', report: 'skipped', lint: 'skipped' });
      expect(await tiOf('x1', 'train')).toMatchObject({ reason: 'run cancelled by olga' });
      const run = (await api().get('/api/v1/dags/train_ml1m/runs/x1').expect(200)).body;
      expect(run).toMatchObject({ state: 'failed', reason: 'cancelled by olga', endedAt: now.toISOString() });
      await settled();
      const trainId = (await tiOf('x1', 'train')).id;
      const lintId = (await tiOf('x1', 'lint')).id;
      expect(received.get('worker-b')).toEqual(expect.arrayContaining([
        { type: 'task.cancel', tiId: trainId, tryNumber: 2 }, { type: 'task.cancel', tiId: lintId, tryNumber: 1 },
      ]));
      expect(received.get('worker-a')).toEqual([{ type: 'task.cancel', tiId: lintId, tryNumber: 1 }]);
    });

    it('refuses a run that already ended (409 naming its state and reason)', async () => {
      const res = await api().post('/api/v1/dags/train_ml1m/runs/x1/cancel').expect(409);
      expect(res.body).toEqual({ reason: 'run_ended', message: 'run "x1" of DAG "train_ml1m" already ended failed (cancelled by olga): there is nothing to cancel.' });
    });

    it('cancels a run still queued (no task instances yet), and answers 404 for an unknown run', async () => {
      await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'x2', logicalDate: '2024-01-01T00:00:00.000Z' }).expect(201);
      const res = await api(bare).post('/api/v1/dags/train_ml1m/runs/x2/cancel').expect(200);
      expect(res.body).toMatchObject({ state: 'failed', changes: [], stopped: [] });
      expect(await repos.runs.get('train_ml1m', 'x2')).toMatchObject({ state: 'failed', reason: 'cancelled by olga' });
      expect((await api().post('/api/v1/dags/train_ml1m/runs/nope/cancel').expect(404)).body.reason).toBe('run_not_found');
    });

    it('records each action in the audit log with who did it', async () => {
      const entries = await repos.audit.list({ limit: 100, actor: 'olga' });
      const actions = entries.map((e) => `${e.action} ${e.status}`);
      expect(actions).toEqual(expect.arrayContaining(['run.cancel 200', 'run.cancel 409', 'task.mark 200', 'task.mark 409', 'task.clear 200']));
      expect(entries.find((e) => e.action === 'run.cancel' && e.status === 200)).toMatchObject({ target: expect.stringMatching(/^dags\/train_ml1m\/runs\/x\d\/cancel$/), outcome: 'ok' });
    });
  });
});

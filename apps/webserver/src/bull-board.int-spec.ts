import type { INestApplication } from '@nestjs/common';
import type { SerializedDag } from '@swarmflow/core';
import { Database, Repositories, type DagRun } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import request from 'supertest';
import { Accounts } from './auth/accounts';
import { createTestToken } from './test-support/auth';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';

describeWithPostgres('bull-board at /queues over task instances', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let dag: SerializedDag;
  let run: DagRun;
  const tokens: Record<'viewer' | 'operator', string> = { viewer: '', operator: '' };
  const now = new Date();

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    run = await repos.runs.create({ dagId: dag.id, runId: 'bb1', versionHash: (await repos.dags.get(dag.id))!.latestVersion, runType: 'manual', logicalDate: now, conf: {}, params: {} });
    // extract succeeded, train (gpu) failed, report upstream_failed, lint running on default.
    await setRunStates(repos, run, dag, 'failed', {
      extract: { state: 'success', tryNumber: 1, worker: 'w1', exitCode: 0 },
      train: { state: 'failed', tryNumber: 3, worker: 'w1', exitCode: 2 },
      report: { state: 'upstream_failed', tryNumber: 0 },
      lint: { state: 'running', tryNumber: 1, worker: 'w1' },
    });
    await repos.workers.recordHeartbeats([{ name: 'w1', hostname: 'h', queues: ['default', 'gpu'], concurrency: 2, gpus: 1, state: 'active', running: [] }], now);
    tokens.viewer = await createTestToken(repos, 'viewer');
    tokens.operator = await createTestToken(repos, 'operator');
    await new Accounts(repos, () => new Date()).createUser({ name: 'olga', role: 'operator', password: 'olga-password-1' });
    app = await createWebserver({ repos, logger: false });
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  const as = (role: 'viewer' | 'operator') => ({ Authorization: `Bearer ${tokens[role]}` });
  const queuesApi = (role: 'viewer' | 'operator', queue: string, status: string) => request(app.getHttpServer())
    .get(`/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=10`).set(as(role));

  it('redirects a browser without a session to the UI login, and answers 401 to its API', async () => {
    const page = await request(app.getHttpServer()).get('/queues').expect(302);
    expect(page.headers.location).toBe('/login?next=%2Fqueues');
    const api = await request(app.getHttpServer()).get('/queues/api/queues').expect(401);
    expect(api.body).toMatchObject({ reason: 'unauthenticated' });
  });

  it('serves the board to a logged-in user (session cookie)', async () => {
    const agent = request.agent(app.getHttpServer());
    await agent.post('/api/v1/auth/login').send({ name: 'olga', password: 'olga-password-1' }).expect(200);
    const page = await agent.get('/queues').expect(200);
    expect(page.text).toContain('Swarmflow queues');
    expect(page.headers['content-type']).toContain('text/html');
  });

  it('shows each queue topic with counts per state, and the jobs of a status', async () => {
    const res = await queuesApi('viewer', 'gpu', 'failed').expect(200);
    const gpu = res.body.queues.find((q: { name: string }) => q.name === 'gpu');
    const def = res.body.queues.find((q: { name: string }) => q.name === 'default');
    expect(gpu.counts).toEqual({ active: 0, waiting: 0, completed: 0, failed: 1, delayed: 0 });
    expect(def.counts).toEqual({ active: 1, waiting: 0, completed: 1, failed: 0, delayed: 0 });
    expect(gpu.jobs).toHaveLength(1);
    expect(gpu.jobs[0]).toMatchObject({ name: 'train_ml1m.train', attempts: 3, data: { runId: 'bb1', taskId: 'train', state: 'failed', exitCode: 2 } });
    expect(gpu.readOnlyMode).toBe(true);
    const asOperator = await queuesApi('operator', 'gpu', 'failed').expect(200);
    expect(asOperator.body.queues.find((q: { name: string }) => q.name === 'gpu')).toMatchObject({ readOnlyMode: false, allowRetries: true });
  });

  it('a viewer cannot retry; an operator\'s retry clears the task (run running again) and is audited', async () => {
    const [train] = (await repos.tis.forRuns([run.pk])).filter((t) => t.taskId === 'train');
    const path = `/queues/api/queues/gpu/${train.id}/retry`;
    const denied = await request(app.getHttpServer()).put(path).set(as('viewer')).expect(403);
    expect(denied.body.message).toContain('needs role operator');
    await request(app.getHttpServer()).put(path).set(as('operator')).expect(204);
    const after = (await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'train')!;
    expect(after.state).toBe('none');
    expect((await repos.runs.get(dag.id, 'bb1'))!.state).toBe('running');
    const deadline = Date.now() + 30_000; // generous for a loaded machine: the loop ends once both entries are there
    let entries = await repos.audit.list({ since: null, limit: 20, action: 'task.clear' });
    while (entries.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      entries = await repos.audit.list({ since: null, limit: 20, action: 'task.clear' });
    }
    expect(entries.map((e) => e.outcome).sort()).toEqual(['denied', 'ok']);
    expect(entries.find((e) => e.outcome === 'ok')).toMatchObject({ target: `queues/api/queues/gpu/${train.id}/retry`, detail: { via: 'bull-board' } });
  });

  it('refuses the writes Swarmflow does not do, and a cookie write from another site', async () => {
    const res = await request(app.getHttpServer()).put('/queues/api/queues/default/clean/completed').set(as('operator'));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((await queuesApi('viewer', 'default', 'completed')).body.queues.find((q: { name: string }) => q.name === 'default').counts.completed).toBe(1);
    const agent = request.agent(app.getHttpServer());
    await agent.post('/api/v1/auth/login').send({ name: 'olga', password: 'olga-password-1' }).expect(200);
    const cross = await agent.put('/queues/api/queues/gpu/1/retry').set('Sec-Fetch-Site', 'cross-site').expect(403);
    expect(cross.body.reason).toBe('csrf_failed');
  });

  it('counts a queued try as waiting and an up_for_retry one as delayed, and lists each under its status', async () => {
    const run2 = await repos.runs.create({ dagId: dag.id, runId: 'bb2', versionHash: (await repos.dags.get(dag.id))!.latestVersion, runType: 'manual', logicalDate: new Date(now.getTime() + 1000), conf: {}, params: {} });
    await setRunStates(repos, run2, dag, 'running', {
      extract: { state: 'queued', tryNumber: 1 },
      lint: { state: 'up_for_retry', tryNumber: 1, worker: 'w1', exitCode: 1 },
    });
    const waiting = await queuesApi('viewer', 'default', 'waiting').expect(200);
    const def = waiting.body.queues.find((q: { name: string }) => q.name === 'default');
    expect(def.counts).toEqual({ active: 1, waiting: 1, completed: 1, failed: 0, delayed: 1 });
    expect(def.jobs.map((j: { data: { runId: string; taskId: string; state: string } }) => j.data)).toEqual([expect.objectContaining({ runId: 'bb2', taskId: 'extract', state: 'queued' })]);
    const delayed = await queuesApi('viewer', 'default', 'delayed').expect(200);
    expect(delayed.body.queues.find((q: { name: string }) => q.name === 'default').jobs.map((j: { data: { runId: string; taskId: string; state: string } }) => j.data))
      .toEqual([expect.objectContaining({ runId: 'bb2', taskId: 'lint', state: 'up_for_retry' })]);
  });

  it("refuses a write from another site authenticated by a trusted proxy's user header (the proxy's cookie rides along)", async () => {
    const proxied = await createWebserver({ repos, logger: false, auth: { trustedProxies: ['loopback'], proxyUserHeader: 'X-Forwarded-User' } });
    try {
      const [train] = (await repos.tis.forRuns([run.pk])).filter((t) => t.taskId === 'train');
      const path = `/queues/api/queues/gpu/${train.id}/retry`;
      await request(proxied.getHttpServer()).get('/queues/api/queues').set('X-Forwarded-User', 'olga').expect(200);
      const fromElsewhere = await request(proxied.getHttpServer()).put(path).set('X-Forwarded-User', 'olga')
        .set('Sec-Fetch-Site', 'cross-site').set('Origin', 'https://evil.example').expect(403);
      expect(fromElsewhere.body.reason).toBe('csrf_failed');
      const fromOrigin = await request(proxied.getHttpServer()).put(path).set('X-Forwarded-User', 'olga').set('Origin', 'https://evil.example').expect(403);
      expect(fromOrigin.body.reason).toBe('csrf_failed');
    } finally {
      await proxied.close();
    }
  });
});

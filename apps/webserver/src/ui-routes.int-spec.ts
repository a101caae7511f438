import type { INestApplication } from '@nestjs/common';
import { dagHash, type SerializedDag } from '@swarmflow/core';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import type { AddressInfo } from 'node:net';
import type { DagDetailDto, GridDto } from '@swarmflow/contracts/api.types';
import { apiAs, createTestToken } from './test-support/auth';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { Accounts } from './auth/accounts';
import { createWebserver } from './webserver';

// The routes the web UI needs beyond the CLI's: the grid, a pinned version, the live log stream.
describeWithPostgres('web UI routes', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let dag: SerializedDag;
  let token: string;
  let base: string;
  const now = new Date('2025-03-01T12:00:00.000Z');
  const api = () => apiAs(app, token);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    app = await createWebserver({ repos, logger: false, clock: () => now, uiDir: null });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    token = await createTestToken(repos, 'viewer');
    const operator = await createTestToken(repos, 'operator');
    for (const runId of ['r1', 'r2']) {
      await apiAs(app, operator).post('/api/v1/dags/train_ml1m/runs').send({ runId }).expect(201);
      await setRunStates(repos, (await repos.runs.get('train_ml1m', runId))!, dag, 'running', { extract: { state: runId === 'r1' ? 'success' : 'running', tryNumber: 1 } });
    }
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  it('GET /dags/:dagId/grid answers the newest runs with their task instances in one answer', async () => {
    const grid = (await api().get('/api/v1/dags/train_ml1m/grid?limit=5').expect(200)).body as GridDto;
    expect(grid.runs.map((r) => r.runId)).toEqual(['r2', 'r1']);
    expect(grid.runs.map((r) => r.taskInstances.find((t) => t.taskId === 'extract')!.state)).toEqual(['running', 'success']);
    expect(grid.runs[0]!.taskInstances.map((t) => t.taskId).sort()).toEqual(['extract', 'lint', 'report', 'train']);
    expect((await api().get('/api/v1/dags/train_ml1m/grid?limit=1').expect(200)).body.runs).toHaveLength(1);
    expect((await api().get('/api/v1/dags/train_ml1m/grid?limit=0').expect(400)).body.field).toBe('limit');
    expect((await api().get('/api/v1/dags/nope/grid').expect(404)).body.reason).toBe('dag_not_found');
  });

  it('GET /dags/:dagId/versions/:hash answers the DAG as a run pinned to it sees it, 404 naming an unknown one', async () => {
    const hash = dagHash(dag);
    const version = (await api().get(`/api/v1/dags/train_ml1m/versions/${hash}`).expect(200)).body as DagDetailDto;
    expect(version.tasks.map((t) => t.taskId)).toEqual(['extract', 'train', 'report', 'lint']);
    expect(version.params.epochs).toMatchObject({ type: 'integer', default: 10 });
    const missing = await api().get('/api/v1/dags/train_ml1m/versions/abc123').expect(404);
    expect(missing.body).toMatchObject({ reason: 'version_not_found', message: expect.stringContaining('has no version "abc123"') });
  });

  it('streams a running try\'s log as server-sent events, lines as they come, then end', async () => {
    const run = (await repos.runs.get('train_ml1m', 'r2'))!;
    const extract = (await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'extract')!;
    const line = (n: number) => ({ at: now.toISOString(), stream: 'stdout' as const, line: `line ${n}` });
    await repos.logs.append([{ tiId: extract.id, tryNumber: 1, seq: 0, lines: [line(1)] }]);
    const res = await fetch(`${base}/api/v1/dags/train_ml1m/runs/r2/tasks/extract/logs/stream`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      const deadline = Date.now() + 30_000;
      while (!text.includes(needle)) {
        if (Date.now() > deadline) throw new Error(`no "${needle}" in the stream: ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before "${needle}": ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil('line 1');
    expect(text).toMatch(/event: lines\nid: \d+\ndata: \{"tryNumber":1,"lines":\[\{"at":"[^"]+","stream":"stdout","line":"line 1"\}\]/);
    await repos.logs.append([{ tiId: extract.id, tryNumber: 1, seq: 1, lines: [line(2)] }]);
    await readUntil('line 2');
    await db.query(`UPDATE task_instance SET state = 'success' WHERE id = $1`, [extract.id]);
    await readUntil('event: end');
    expect((await reader.read()).done).toBe(true);
  });

  it("ends a try's log stream, sending no more lines, once its token is revoked", async () => {
    const run = (await repos.runs.get('train_ml1m', 'r2'))!;
    const lint = (await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'lint')!;
    await db.query(`UPDATE task_instance SET state = 'running', try_number = 1 WHERE id = $1`, [lint.id]);
    const accounts = new Accounts(repos, () => new Date());
    await accounts.createUser({ name: 'log-leaver', role: 'viewer', password: null });
    const created = await accounts.createToken({ name: 'logs', userName: 'log-leaver', lifetimeMs: null });
    const line = (n: number) => ({ at: now.toISOString(), stream: 'stdout' as const, line: `lint ${n}` });
    await repos.logs.append([{ tiId: lint.id, tryNumber: 1, seq: 0, lines: [line(1)] }]);
    const res = await fetch(`${base}/api/v1/dags/train_ml1m/runs/r2/tasks/lint/logs/stream`, { headers: { Authorization: `Bearer ${created.token}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 30_000;
    while (!text.includes('lint 1')) {
      const { value, done } = await reader.read();
      if (done || Date.now() > deadline) throw new Error(`no "lint 1" in the stream: ${text}`);
      text += new TextDecoder().decode(value);
    }
    await accounts.revokeToken(created.info.id);
    await repos.logs.append([{ tiId: lint.id, tryNumber: 1, seq: 1, lines: [line(2)] }]);
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the stream did not end: ${text}`);
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"reason":"unauthenticated"');
    expect(text).not.toContain('lint 2');
  });

  it('answers an unknown task of the stream with a JSON 404, not a stream', async () => {
    const res = await api().get('/api/v1/dags/train_ml1m/runs/r2/tasks/nope/logs/stream').expect(404);
    expect(res.body.reason).toBe('task_not_found');
  });
});

import type { INestApplication } from '@nestjs/common';
import { dagHash, validateDag, type SerializedDag } from '@swarmflow/core';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import type { DagDetailDto, DagSummaryDto, RunDetailDto, RunDto, TaskInstanceDetailDto, TaskLogsDto, WorkerDto } from '@swarmflow/contracts/api.types';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { apiAs, createTestToken } from './test-support/auth';

describeWithPostgres('webserver REST API', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let dag: SerializedDag;
  let changes = 0;
  const now = new Date('2025-03-01T12:00:00.000Z');
  let token: string;
  const api = () => apiAs(app, token);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG, { id: 'other', tasks: [{ id: 'only', command: 'true' }] }], now, [
      { fileloc: 'broken.ts', message: 'broken.ts: SyntaxError: Unexpected token' },
    ]);
    app = await createWebserver({ repos, logger: false, onChange: () => changes++, clock: () => now });
    token = await createTestToken(repos, 'admin');
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  /** A run created through the API, with its task instances set to given states. */
  async function runWith(runId: string, runState: RunDto['state'], tis: Parameters<typeof setRunStates>[4]) {
    await api().post('/api/v1/dags/train_ml1m/runs').send({ runId }).expect(201);
    const run = (await repos.runs.get('train_ml1m', runId))!;
    await setRunStates(repos, run, dag, runState, tis);
    return run;
  }

  describe('health and system', () => {
    it('GET /health answers ok, naming each dependency', async () => {
      await api().get('/api/v1/health').expect(200, {
        status: 'ok', dependencies: { database: { status: 'up' }, broker: { status: 'not_configured' } },
      });
    });

    it('lists import errors, workers and pools', async () => {
      const errors = await api().get('/api/v1/import-errors').expect(200);
      expect(errors.body).toEqual([{ fileloc: 'broken.ts', message: 'broken.ts: SyntaxError: Unexpected token', at: now.toISOString() }]);
      await repos.workers.recordHeartbeats([{ name: 'worker-a', hostname: 'host-a', queues: ['default'], concurrency: 4, gpus: 2, state: 'active', running: [] }], now);
      const workers = await api().get('/api/v1/workers').expect(200);
      expect(workers.body).toEqual([{
        name: 'worker-a', hostname: 'host-a', queues: ['default'], concurrency: 4, gpus: 2, state: 'active', running: [],
        firstSeenAt: now.toISOString(), lastHeartbeatAt: now.toISOString(), heartbeatAgeSeconds: 0,
        processed: 0, failed: 0, startedAt: null, uptimeSeconds: null, version: null, unacked: {},
      }]);
      // A lost worker runs nothing we know of, whatever its last heartbeat listed.
      await repos.workers.recordHeartbeats([{ name: 'worker-b', hostname: 'host-b', queues: ['default'], concurrency: 2, gpus: 0, state: 'active', running: [{ tiId: 1, tryNumber: 1 }] }], new Date(now.getTime() - 60_000));
      await db.transaction((tx) => repos.workers.markLost(new Date(now.getTime() - 30_000), now, tx));
      const withLost = await api().get('/api/v1/workers').expect(200);
      expect((withLost.body as WorkerDto[]).map((w) => [w.name, w.state, w.running])).toEqual([['worker-a', 'active', []], ['worker-b', 'lost', []]]);
      const pools = await api().get('/api/v1/pools').expect(200);
      expect(pools.body).toEqual([{ name: 'default_pool', slots: 128, description: 'Default pool' }]);
    });

    it('answers an unknown route with a JSON 404', async () => {
      const res = await api().get('/api/v1/nope').expect(404);
      expect(res.body).toEqual({
        reason: 'route_not_found',
        message: 'no API route answers GET /api/v1/nope: check the path and the method. Fix: see the routes in the README ("REST API"), e.g. GET /api/v1/dags or PUT /api/v1/variables/<key>',
      });
      // An empty key: the message says a part of the path is missing, not Nest's "Cannot PUT".
      const empty = await api().put('/api/v1/variables/').send({ value: 'x' }).expect(404);
      expect(empty.body.message).toMatch(/^no API route answers PUT \/api\/v1\/variables\/: a part of the path is empty/);
    });
  });

  describe('DAGs', () => {
    it('lists the DAGs with their latest version facts', async () => {
      const res = await api().get('/api/v1/dags').expect(200);
      const dags = res.body as DagSummaryDto[];
      expect(dags.map((d) => d.dagId)).toEqual(['other', 'train_ml1m']);
      expect(dags[1]).toEqual({
        dagId: 'train_ml1m', fileloc: 'train_ml1m.ts', isPaused: false, isActive: true, schedule: '0 3 * * *',
        latestVersion: expect.stringMatching(/^[0-9a-f]{64}$/), tags: ['ml'], description: 'Train on ml1m',
        lastRun: null, recentRuns: [], nextRun: '2025-03-02T03:00:00.000Z', importError: null,
      });
    });

    it("flags a DAG whose file fails to import: it keeps its last good version", async () => {
      const other = validateDag({ id: 'other', tasks: [{ id: 'only', command: 'true' }] }, 'other.ts');
      const train = validateDag(TRAIN_DAG, 'train_ml1m.ts');
      const parse = (broken: { fileloc: string; message: string }[], dags = [train]) =>
        repos.dags.recordParse(dags.map((d) => ({ dag: d, hash: dagHash(d) })), broken, now);
      await parse([{ fileloc: 'other.ts', message: 'other.ts:3: Error: boom' }]);
      try {
        const list = (await api().get('/api/v1/dags').expect(200)).body as DagSummaryDto[];
        expect(list.map((d) => [d.dagId, d.importError])).toEqual([
          ['other', { message: 'other.ts:3: Error: boom', at: now.toISOString() }], ['train_ml1m', null],
        ]);
        expect(((await api().get('/api/v1/dags/other').expect(200)).body as DagDetailDto).importError?.message).toBe('other.ts:3: Error: boom');
      } finally {
        await parse([{ fileloc: 'broken.ts', message: 'broken.ts: SyntaxError: Unexpected token' }], [train, other]);
      }
    });

    it('shows one DAG with its tasks and params', async () => {
      const res = await api().get('/api/v1/dags/train_ml1m').expect(200);
      const detail = res.body as DagDetailDto;
      expect(detail.tasks.map((t) => [t.taskId, t.upstream, t.queue, t.retries, t.triggerRule])).toEqual([
        ['extract', [], 'default', 2, 'all_success'],
        ['train', ['extract'], 'gpu', 2, 'all_success'],
        ['report', ['train'], 'default', 0, 'all_done'],
        ['lint', [], 'default', 2, 'all_success'],
      ]);
      expect(detail.params).toEqual(TRAIN_DAG.params);
      expect(detail.maxActiveRuns).toBe(16);
    });

    it('answers 404 naming an unknown DAG', async () => {
      const res = await api().get('/api/v1/dags/nope').expect(404);
      expect(res.body.reason).toBe('dag_not_found');
      expect(res.body.message).toMatch(/^DAG "nope" does not exist/);
    });

    it('pauses and unpauses a DAG', async () => {
      const paused = await api().patch('/api/v1/dags/other').send({ isPaused: true }).expect(200);
      expect(paused.body).toMatchObject({ dagId: 'other', isPaused: true, nextRun: null });
      expect((await repos.dags.get('other'))!.isPaused).toBe(true);
      // A paused DAG can still be triggered by hand (the run waits until it is unpaused).
      await api().post('/api/v1/dags/other/runs').send({}).expect(201);
      const before = changes;
      const unpaused = await api().patch('/api/v1/dags/other').send({ isPaused: false }).expect(200);
      expect(unpaused.body.isPaused).toBe(false);
      expect(changes).toBe(before + 1); // an in-process scheduler is nudged to queue what the pause held
    });

    it('rejects a bad pause body naming the field, what it takes and the fix', async () => {
      const fix = 'send {"isPaused": true} to pause the DAG or {"isPaused": false} to unpause it';
      const patch = (body: string | object) => api().patch('/api/v1/dags/other').set('content-type', 'application/json').send(body);
      expect((await patch({ isPaused: 'yes' }).expect(400)).body).toEqual({
        reason: 'invalid_request', field: 'isPaused', message: `isPaused: must be true or false (got "yes"): ${fix}`,
      });
      expect((await patch({}).expect(400)).body).toEqual({ reason: 'invalid_request', field: 'isPaused', message: `isPaused: is required: ${fix}` });
      // The misspelt field is named, not the real one it leaves missing.
      expect((await patch({ is_paused: 'yes' }).expect(400)).body).toEqual({
        reason: 'invalid_request', field: 'is_paused', message: 'is_paused: unknown body field (did you mean "isPaused"?); the body takes only isPaused',
      });
      expect((await patch({ isPaused: true, paused: true }).expect(400)).body).toEqual({
        reason: 'invalid_request', field: 'paused', message: 'paused: unknown body field (did you mean "isPaused"?); the body takes only isPaused',
      });
      expect((await patch('[true]').expect(400)).body).toEqual({
        reason: 'invalid_request', message: 'the request body must be a JSON object with the fields isPaused (got an array)',
      });
      expect((await patch('{"isPaused": yes}').expect(400)).body).toEqual({
        reason: 'invalid_json',
        message: expect.stringMatching(/^the request body is not a JSON object: .+\. Fix: send the body as one JSON object, with Content-Type: application\/json$/),
      });
      // curl -d without a Content-Type sends a form.
      const form = await api().patch('/api/v1/dags/other').type('form').send('{"isPaused": true}').expect(415);
      expect(form.body).toEqual({
        reason: 'unsupported_media_type',
        message: 'the request body must be JSON, not "application/x-www-form-urlencoded". ' +
          'Fix: send it with Content-Type: application/json (curl -d sends a form unless given -H \'Content-Type: application/json\')',
      });
      expect((await repos.dags.get('other'))!.isPaused).toBe(false);
    });
  });

  describe('trigger', () => {
    it('creates a queued manual run with resolved params and tells the scheduler', async () => {
      const before = changes;
      const res = await api().post('/api/v1/dags/train_ml1m/runs').send({ conf: { epochs: 3 } }).expect(201);
      expect(res.body).toEqual({
        dagId: 'train_ml1m', runId: `manual__${now.toISOString()}`, runType: 'manual', state: 'queued',
        logicalDate: now.toISOString(), conf: { epochs: 3 }, params: { epochs: 3, region: 'eu' },
        versionHash: expect.stringMatching(/^[0-9a-f]{64}$/), createdAt: expect.any(String), startedAt: null, endedAt: null, reason: null, cacheForce: null,
      });
      expect(changes).toBe(before + 1);
      const listed = await api().get('/api/v1/dags').expect(200);
      expect((listed.body as DagSummaryDto[]).find((d) => d.dagId === 'train_ml1m')!.lastRun)
        .toEqual({ runId: `manual__${now.toISOString()}`, state: 'queued', logicalDate: now.toISOString() });
    });

    it('force and forceTasks say which tasks the cache may not skip; a bad pattern is refused', async () => {
      const forced = await api().post('/api/v1/dags/other/runs').send({ force: true }).expect(201);
      expect(forced.body.cacheForce).toBe('.*');
      const some = await api().post('/api/v1/dags/other/runs').send({ forceTasks: '^train' }).expect(201);
      expect(some.body.cacheForce).toBe('^train');
      const detail = await api().get(`/api/v1/dags/other/runs/${some.body.runId}`).expect(200);
      expect(detail.body).toMatchObject({ cacheForce: '^train', images: [] });
      expect((await api().post('/api/v1/dags/other/runs').send({ forceTasks: '(' }).expect(400)).body).toEqual({
        reason: 'invalid_request', field: 'forceTasks', message: expect.stringMatching(/^forceTasks: --force-task "\(" is not a regular expression \(.*Fix: use a simpler pattern/),
      });
      // A nested quantifier could backtrack for ages on the scheduler: refused before it is stored.
      expect((await api().post('/api/v1/dags/other/runs').send({ forceTasks: '^(\\w+)*$' }).expect(400)).body).toEqual({
        reason: 'invalid_request', field: 'forceTasks', message: expect.stringContaining('repeats a group that itself holds a repetition (a nested quantifier)'),
      });
      expect((await api().get('/api/v1/cache').expect(200)).body).toEqual([]);
      expect((await api().post('/api/v1/cache/invalidate').send({}).expect(400)).body).toMatchObject({
        reason: 'invalid_request', message: expect.stringContaining('name what to invalidate: dagId, taskId or key, or send {"all": true}'),
      });
      expect((await api().post('/api/v1/cache/invalidate').send({ all: true }).expect(200)).body).toEqual({ invalidated: 0 });
    });

    it('without a logical date, takes the first millisecond from now that has no run', async () => {
      // The previous test's run holds `now` (the clock stands still here).
      const res = await api().post('/api/v1/dags/train_ml1m/runs').send({}).expect(201);
      const next = new Date(now.getTime() + 1).toISOString();
      expect(res.body).toMatchObject({ runId: `manual__${next}`, logicalDate: next });
      // Concurrent triggers that chose no date all get a run, each at its own date.
      const many = await Promise.all([1, 2, 3, 4].map(() => api().post('/api/v1/dags/other/runs').send({}).expect(201)));
      expect(new Set(many.map((r) => r.body.logicalDate)).size).toBe(4);
    });

    it('suffixes a generated run id that is already taken', async () => {
      const date = '2025-01-05T00:00:00.000Z';
      await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: `manual__${date}`, logicalDate: '2025-01-04' }).expect(201);
      const res = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate: date }).expect(201);
      expect(res.body.runId).toMatch(new RegExp(`^manual__${date.replace(/\./g, '\\.')}_[0-9a-f]{6}$`));
    });

    it('answers 409 for a logical date that has a run, naming the run, its state and the fix', async () => {
      const first = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate: '2025-01-10' }).expect(201);
      await setRunStates(repos, (await repos.runs.get('train_ml1m', first.body.runId))!, dag, 'failed', {});
      const before = changes;
      for (const body of [{ logicalDate: '2025-01-10' }, { logicalDate: '2025-01-10T01:00:00+01:00', runId: 'again' }]) {
        const res = await api().post('/api/v1/dags/train_ml1m/runs').send(body).expect(409);
        expect(res.body).toEqual({
          reason: 'duplicate_logical_date', field: 'logicalDate',
          message: 'DAG "train_ml1m" already has a run at logical date 2025-01-10T00:00:00.000Z: "manual__2025-01-10T00:00:00.000Z" (failed); ' +
            'a DAG has one run per logical date. Fix: to run that date again, clear the tasks of that run ' +
            '(`swarmflow tasks clear train_ml1m manual__2025-01-10T00:00:00.000Z <task> --downstream`), or pick another logical date.',
          problem: 'DAG "train_ml1m" already has a run at logical date 2025-01-10T00:00:00.000Z: "manual__2025-01-10T00:00:00.000Z" (failed); ' +
            'a DAG has one run per logical date',
          hint: 'to run that date again, clear the tasks of that run, or pick another logical date',
        });
      }
      expect(changes).toBe(before);
      expect((await repos.runs.list({ dagId: 'train_ml1m' })).filter((r) => r.logicalDate.toISOString() === '2025-01-10T00:00:00.000Z')).toHaveLength(1);
    });

    it('creates one run of concurrent triggers of one logical date, and answers 409 to the others', async () => {
      const results = await Promise.all(['race-1', 'race-2', 'race-3', 'race-4'].map((runId) =>
        api().post('/api/v1/dags/train_ml1m/runs').send({ runId, logicalDate: '2025-01-11T06:00:00Z' })));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
      const winner = results.find((r) => r.status === 201)!.body.runId;
      for (const r of results.filter((x) => x.status === 409)) {
        expect(r.body).toMatchObject({ reason: 'duplicate_logical_date', message: expect.stringContaining(`: "${winner}" (queued)`) });
      }
    });

    it('answers 400 for a logical date in the future, beyond a minute of clock skew', async () => {
      const before = changes;
      for (const logicalDate of ['2025-03-02', '2025-03-01T12:01:00.001Z']) {
        const res = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate }).expect(400);
        expect(res.body).toEqual({
          reason: 'logical_date_in_future', field: 'logicalDate',
          message: expect.stringMatching(/^logicalDate \S+ is in the future: the server's time is 2025-03-01T12:00:00.000Z \(clocks may differ by 60s\)\. .*Fix: pick a logical date up to now, or leave it out to use the current time\.$/),
        });
      }
      expect(changes).toBe(before);
      // Within the skew a client's "now" is taken as it is.
      const skewed = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate: '2025-03-01T12:00:30Z' }).expect(201);
      expect(skewed.body.logicalDate).toBe('2025-03-01T12:00:30.000Z');
    });

    it('uses the given run id and logical date', async () => {
      const res = await api().post('/api/v1/dags/train_ml1m/runs')
        .send({ runId: 'nightly-42', logicalDate: '2025-01-01T00:00:00+02:00' }).expect(201);
      expect(res.body).toMatchObject({ runId: 'nightly-42', logicalDate: '2024-12-31T22:00:00.000Z' });
      // A date alone is midnight UTC, as a DAG's start_date.
      const dateOnly = await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'day-1', logicalDate: '2025-02-03' }).expect(201);
      expect(dateOnly.body).toMatchObject({ runId: 'day-1', logicalDate: '2025-02-03T00:00:00.000Z' });
    });

    it('rejects a conf that does not match the params, naming the field', async () => {
      const before = changes;
      const res = await api().post('/api/v1/dags/train_ml1m/runs').send({ conf: { epochs: 'ten' } }).expect(400);
      expect(res.body).toEqual({
        reason: 'invalid_conf', field: 'conf.epochs',
        // An API caller sends the JSON field conf, not the CLI's --conf flag.
        message: `conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. the body {"conf": {"epochs":10}}.`,
        problem: 'must be integer (got "ten")', hint: 'pass a whole number',
      });
      const notObject = await api().post('/api/v1/dags/train_ml1m/runs').send({ conf: [1] }).expect(400);
      expect(notObject.body).toMatchObject({ reason: 'invalid_conf', field: 'conf' });
      expect(changes).toBe(before);
    });

    it('answers 404 for an unknown DAG', async () => {
      const res = await api().post('/api/v1/dags/nope/runs').send({}).expect(404);
      expect(res.body.reason).toBe('dag_not_found');
    });

    it('answers 409 for a run id that is taken', async () => {
      await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'dup' }).expect(201);
      const res = await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'dup' }).expect(409);
      expect(res.body).toEqual({
        reason: 'duplicate_run', field: 'runId',
        message: 'DAG "train_ml1m" already has a run "dup". Fix: pass another run id, or omit it to get a generated one.',
      });
    });

    it('rejects a malformed body', async () => {
      const badId = await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'a/b' }).expect(400);
      expect(badId.body).toMatchObject({ reason: 'invalid_request', field: 'runId' });
      // The schedule's own names are not for manual runs: one would make it skip its time.
      const reserved = await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'scheduled__2024-06-01T03:00:00.000Z' }).expect(400);
      expect(reserved.body).toEqual({
        reason: 'invalid_request', field: 'runId',
        message: 'runId: may not start with "scheduled__", which names the runs the schedule creates: pick another id, or leave it out for manual__<logical date>',
      });
      const noOffset = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate: '2024-06-01T00:00:00' }).expect(400);
      expect(noOffset.body.message).toContain('a timestamp with its offset');
      const badDate = await api().post('/api/v1/dags/train_ml1m/runs').send({ logicalDate: 'tomorrow' }).expect(400);
      expect(badDate.body).toMatchObject({
        reason: 'invalid_request', field: 'logicalDate',
        message: expect.stringContaining('must be an ISO 8601 date or a timestamp with its offset, e.g. 2024-06-01, 2024-06-01T00:00:00Z or 2024-06-01T02:00:00+02:00'),
      });
      const badJson = await api().post('/api/v1/dags/train_ml1m/runs').set('content-type', 'application/json').send('{"conf": ').expect(400);
      expect(badJson.body).toEqual({
        reason: 'invalid_json',
        message: 'the request body is not a JSON object: Unexpected end of JSON input. Fix: send the body as one JSON object, with Content-Type: application/json',
      });
      // Not read as an empty body: that would trigger a run with default params.
      const before = (await repos.runs.list({ dagId: 'train_ml1m', limit: 1000 })).length;
      await api().post('/api/v1/dags/train_ml1m/runs').set('content-type', 'text/plain').send('{"conf": {"epochs": 3}}').expect(415);
      // Nor a JSON body without a Content-Type (Python's requests.post(url, data=json.dumps(…))).
      const untyped = await api().post('/api/v1/dags/train_ml1m/runs').send('{"conf": {"epochs": 3}}').unset('Content-Type');
      expect(untyped.status).toBe(415);
      expect(untyped.body.message).toMatch(/^the request body must be JSON, not a body without a Content-Type\. Fix: send it with Content-Type: application\/json/);
      expect((await repos.runs.list({ dagId: 'train_ml1m', limit: 1000 })).length).toBe(before);
      // A +json media type is JSON.
      await api().patch('/api/v1/dags/other').set('content-type', 'application/merge-patch+json').send('{"isPaused": false}').expect(200);
      expect(JSON.stringify(badJson.body)).not.toMatch(/\n\s+at /);
    });
  });

  describe('runs and task instances', () => {
    it('lists runs per DAG and across DAGs with filters', async () => {
      await runWith('listed-success', 'success', {});
      const mine = await api().get('/api/v1/dags/train_ml1m/runs?state=success&limit=5').expect(200);
      expect((mine.body as RunDto[]).map((r) => r.runId)).toEqual(['listed-success']);
      const all = await api().get('/api/v1/runs?limit=2').expect(200);
      expect(all.body).toHaveLength(2);
      const other = await api().get('/api/v1/runs?dagId=other').expect(200);
      expect((other.body as RunDto[]).every((r) => r.dagId === 'other')).toBe(true);
      const bad = await api().get('/api/v1/runs?state=done').expect(400);
      expect(bad.body).toMatchObject({ reason: 'invalid_request', field: 'state' });
      await api().get('/api/v1/dags/nope/runs').expect(404);
      // q: a substring of the run id, DAG id or run type (any case; % and _ are plain characters), over all runs, not the newest `limit`.
      await runWith('Quiet_Search-1', 'success', {});
      for (let i = 0; i < 3; i++) await runWith(`newer-${i}`, 'success', {});
      const found = await api().get('/api/v1/runs?q=quiet_search&limit=1').expect(200);
      expect((found.body as RunDto[]).map((r) => r.runId)).toEqual(['Quiet_Search-1']);
      expect((await api().get('/api/v1/dags/train_ml1m/runs?q=QUIET&state=success').expect(200)).body.map((r: RunDto) => r.runId)).toEqual(['Quiet_Search-1']);
      expect((await api().get('/api/v1/dags/train_ml1m/runs?q=QUIET&state=failed').expect(200)).body).toEqual([]);
      expect((await api().get('/api/v1/runs?q=%25').expect(200)).body).toEqual([]);
      expect((await api().get('/api/v1/runs?q=ain_ml&limit=1000').expect(200)).body.every((r: RunDto) => r.dagId === 'train_ml1m')).toBe(true);
      const long = await api().get(`/api/v1/runs?q=${'x'.repeat(251)}`).expect(400);
      expect(long.body).toMatchObject({ reason: 'invalid_request', field: 'q' });
    });

    it('shows a run with its task instances, and one task instance with its history', async () => {
      const run = await runWith('shown', 'running', { extract: { state: 'running', tryNumber: 1, worker: 'worker-a' } });
      const res = await api().get('/api/v1/dags/train_ml1m/runs/shown').expect(200);
      const detail = res.body as RunDetailDto;
      expect(detail.state).toBe('running');
      expect(detail.taskInstances.map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries, t.worker])).toEqual([
        ['extract', 'running', 1, 3, 'worker-a'],
        ['train', 'none', 0, 3, null],
        ['report', 'none', 0, 1, null],
        ['lint', 'none', 0, 3, null],
      ]);

      const [extract] = await repos.tis.forRuns([run.pk]);
      await db.transaction((tx) => repos.tis.applyTransitions([{
        before: extract, after: { ...extract, state: 'success', exitCode: 0 },
        steps: [{ from: 'running', to: 'success', tryNumber: 1, reason: null }],
      }], now, tx));
      const ti = await api().get('/api/v1/dags/train_ml1m/runs/shown/tasks/extract').expect(200);
      const body = ti.body as TaskInstanceDetailDto;
      expect(body).toMatchObject({ dagId: 'train_ml1m', runId: 'shown', taskId: 'extract', state: 'success', exitCode: 0 });
      // Each step with the try's worker and exit code as it left them.
      expect(body.history).toEqual([{
        tryNumber: 1, from: 'running', to: 'success', reason: null, at: now.toISOString(), worker: 'worker-a', hostname: null, pid: null, exitCode: 0,
      }]);

      const missingTask = await api().get('/api/v1/dags/train_ml1m/runs/shown/tasks/nope').expect(404);
      expect(missingTask.body.reason).toBe('task_not_found');
      expect(missingTask.body.message).toContain('"extract", "train", "report", "lint"');
      const missingRun = await api().get('/api/v1/dags/train_ml1m/runs/nope').expect(404);
      expect(missingRun.body.reason).toBe('run_not_found');
    });

    it('reads a try\'s logs from a cursor and says when the try is finished', async () => {
      const run = await runWith('logged', 'running', { extract: { state: 'running', tryNumber: 1 } });
      const [extract] = await repos.tis.forRuns([run.pk]);
      const line = (n: number) => ({ at: now.toISOString(), stream: 'stdout' as const, line: `line ${n}` });
      await repos.logs.append([{ tiId: extract.id, tryNumber: 1, seq: 0, lines: [line(1), line(2)] }]);
      const url = '/api/v1/dags/train_ml1m/runs/logged/tasks/extract/logs';

      const first = (await api().get(url).expect(200)).body as TaskLogsDto;
      expect(first).toMatchObject({ tryNumber: 1, finished: false });
      expect(first.lines.map((l) => l.line)).toEqual(['line 1', 'line 2']);

      await repos.logs.append([{ tiId: extract.id, tryNumber: 1, seq: 1, lines: [line(3)] }]);
      const next = (await api().get(`${url}?cursor=${first.cursor}`).expect(200)).body as TaskLogsDto;
      expect(next.lines.map((l) => l.line)).toEqual(['line 3']);
      expect(next.cursor).toBeGreaterThan(first.cursor);
      const none = (await api().get(`${url}?cursor=${next.cursor}&try=1`).expect(200)).body as TaskLogsDto;
      expect(none).toEqual({ tryNumber: 1, lines: [], cursor: next.cursor, finished: false });

      await db.transaction((tx) => repos.tis.applyTransitions([{
        before: extract, after: { ...extract, state: 'success', exitCode: 0 },
        steps: [{ from: 'running', to: 'success', tryNumber: 1, reason: null }],
      }], now, tx));
      const done = (await api().get(`${url}?cursor=${next.cursor}`).expect(200)).body as TaskLogsDto;
      expect(done.finished).toBe(true);
      const notStarted = (await api().get('/api/v1/dags/train_ml1m/runs/logged/tasks/train/logs').expect(200)).body as TaskLogsDto;
      expect(notStarted).toEqual({ tryNumber: 1, lines: [], cursor: 0, finished: false });
      const bad = await api().get(`${url}?try=zero`).expect(400);
      expect(bad.body).toMatchObject({ reason: 'invalid_request', field: 'try' });
      // extract succeeded on its only try: no second one will come.
      const never = await api().get(`${url}?try=2`).expect(404);
      expect(never.body).toEqual({
        reason: 'try_not_found', message: 'extract in run logged has had 1 try and is success: try 2 does not exist. Ask for one of 1 to 1.',
      });
      await api().get('/api/v1/dags/train_ml1m/runs/logged/tasks/train/logs?try=1').expect(200); // its first try may still come
      await api().get('/api/v1/dags/train_ml1m/runs/logged/tasks/train/logs?try=2').expect(404);
    });
  });

  describe('clear', () => {
    it('clears a task and its downstream back to none, with fresh retries, and reopens the run', async () => {
      const run = await runWith('to-clear', 'failed', {
        extract: { state: 'success', tryNumber: 1 },
        train: { state: 'failed', tryNumber: 3, exitCode: 2 },
        report: { state: 'success', tryNumber: 1 },
        lint: { state: 'success', tryNumber: 1 },
      });
      const before = changes;
      const res = await api().post('/api/v1/dags/train_ml1m/runs/to-clear/tasks/train/clear').send({ downstream: true }).expect(200);
      expect(res.body).toEqual({ dagId: 'train_ml1m', runId: 'to-clear', cleared: ['train', 'report'] });
      expect(changes).toBe(before + 1);

      const tis = new Map((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      expect(tis.get('train')).toMatchObject({ state: 'none', tryNumber: 3, maxTries: 3 + 2 + 1, exitCode: null, worker: null, startedAt: null });
      expect(tis.get('report')).toMatchObject({ state: 'none', tryNumber: 1 });
      expect(tis.get('extract')!.state).toBe('success');
      expect(tis.get('lint')!.state).toBe('success');
      expect((await repos.runs.get('train_ml1m', 'to-clear'))!.state).toBe('running');
      expect(await repos.runs.needingEvaluation(1000)).toContain(run.pk);
      expect(await repos.tis.history(tis.get('train')!.id)).toEqual([
        // A clear empties the worker and exit code: the try's own end keeps them.
        { tryNumber: 3, from: 'failed', to: 'none', reason: 'cleared', at: now, worker: null, hostname: null, pid: null, exitCode: null },
      ]);
    });

    it('clears only the task without downstream', async () => {
      await runWith('clear-one', 'success', {
        extract: { state: 'success', tryNumber: 1 }, train: { state: 'success', tryNumber: 1 },
        report: { state: 'success', tryNumber: 1 }, lint: { state: 'skipped', tryNumber: 0 },
      });
      const res = await api().post('/api/v1/dags/train_ml1m/runs/clear-one/tasks/extract/clear').send({}).expect(200);
      expect(res.body.cleared).toEqual(['extract']);
    });

    it('refuses while a task to clear is queued or running, and changes nothing', async () => {
      const run = await runWith('busy', 'running', {
        extract: { state: 'success', tryNumber: 1 }, train: { state: 'running', tryNumber: 1, worker: 'worker-a' },
      });
      const res = await api().post('/api/v1/dags/train_ml1m/runs/busy/tasks/extract/clear').send({ downstream: true }).expect(409);
      expect(res.body).toEqual({
        reason: 'task_busy',
        message: 'cannot clear while "train" (running) is queued or running in run "busy". Wait for it to finish, then clear again.',
      });
      const extract = (await repos.tis.forRuns([run.pk])).find((t) => t.taskId === 'extract')!;
      expect(extract.state).toBe('success');
    });

    it('answers 404 for an unknown task or run', async () => {
      await runWith('clear-404', 'success', { extract: { state: 'success', tryNumber: 1 } });
      const task = await api().post('/api/v1/dags/train_ml1m/runs/clear-404/tasks/nope/clear').send({}).expect(404);
      expect(task.body.reason).toBe('task_not_found');
      const run = await api().post('/api/v1/dags/train_ml1m/runs/nope/tasks/extract/clear').send({}).expect(404);
      expect(run.body.reason).toBe('run_not_found');
    });
  });
});

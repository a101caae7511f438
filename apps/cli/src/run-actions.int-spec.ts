import type { INestApplication } from '@nestjs/common';
import type { SerializedDag } from '@swarmflow/core';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, setRunStates, TRAIN_DAG } from '../../webserver/src/test-support/seed';
import { createWebserver } from '../../webserver/src/webserver';
import { createTestToken } from '../../webserver/src/test-support/auth';
import type { CliDeps } from './cli-context';
import { runCli } from './program';

// train_ml1m: extract → train → report (all_done), lint alone.
describeWithPostgres('swarmflow tasks mark, tasks clear --dry-run, runs cancel', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let url: string;
  let token: string;
  let dag: SerializedDag;
  const now = new Date('2025-03-01T12:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    app = await createWebserver({ repos, logger: false, clock: () => now });
    await app.listen(0, '127.0.0.1');
    token = await createTestToken(repos, 'operator', 'olga');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  async function cli(args: string[]) {
    let out = '';
    let err = '';
    const deps: CliDeps = {
      stdout: (s) => { out += s; }, stderr: (s) => { err += s; },
      env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token }, sleep: async () => {}, now: () => now, readFile: () => null,
    };
    return { code: await runCli(args, deps), out, err };
  }
  const statesOf = async (runId: string) => {
    const run = (await repos.runs.get('train_ml1m', runId))!;
    return Object.fromEntries((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t.state]));
  };

  it('tasks clear --dry-run lists what it would reset and writes nothing', async () => {
    expect((await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'r1', '--logical-date', '2025-01-01T00:00:00Z'])).code).toBe(0);
    const run = (await repos.runs.get('train_ml1m', 'r1'))!;
    await setRunStates(repos, run, dag, 'failed', {
      extract: { state: 'success', tryNumber: 1 }, train: { state: 'failed', tryNumber: 3 },
      report: { state: 'upstream_failed', tryNumber: 0 }, lint: { state: 'success', tryNumber: 1 },
    });
    const res = await cli(['tasks', 'clear', 'train_ml1m', 'r1', 'train', '--downstream', '--dry-run']);
    expect(res).toEqual({ code: 0, err: '', out: 'would clear in run r1:\nTASK    STATE            TRY\ntrain   failed           3\nreport  upstream_failed  0\n' });
    expect(await statesOf('r1')).toMatchObject({ train: 'failed', report: 'upstream_failed' });
  });

  it('tasks clear --upstream --downstream: previews, then clears the ancestors and descendants in one call', async () => {
    expect((await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'u1', '--logical-date', '2025-01-05T00:00:00Z'])).code).toBe(0);
    await setRunStates(repos, (await repos.runs.get('train_ml1m', 'u1'))!, dag, 'failed', {
      extract: { state: 'success', tryNumber: 1 }, train: { state: 'failed', tryNumber: 3 },
      report: { state: 'upstream_failed', tryNumber: 0 }, lint: { state: 'success', tryNumber: 1 },
    });
    const dry = await cli(['tasks', 'clear', 'train_ml1m', 'u1', 'train', '--upstream', '--downstream', '--dry-run']);
    expect(dry).toEqual({ code: 0, err: '', out: 'would clear in run u1:\nTASK     STATE            TRY\nextract  success          1\ntrain    failed           3\nreport   upstream_failed  0\n' });
    const res = await cli(['tasks', 'clear', 'train_ml1m', 'u1', 'train', '--upstream', '--downstream']);
    expect(res).toEqual({ code: 0, err: '', out: 'cleared extract, train, report in run u1; the scheduler runs them again\n' });
    expect(await statesOf('u1')).toEqual({ extract: 'none', train: 'none', report: 'none', lint: 'success' });
    const help = await cli(['tasks', 'clear', '--help']);
    expect(help.out).toContain('--upstream');
  });

  it('tasks mark --dry-run, then for real; runs show says why', async () => {
    const dry = await cli(['tasks', 'mark', 'train_ml1m', 'r1', 'train', '--state', 'success', '--downstream', '--dry-run']);
    expect(dry).toEqual({ code: 0, err: '', out: 'would mark in run r1:\nTASK    FROM             TO       TRY\ntrain   failed           success  3\nreport  upstream_failed  success  0\n' });
    expect(await statesOf('r1')).toMatchObject({ train: 'failed' });
    const res = await cli(['tasks', 'mark', 'train_ml1m', 'r1', 'train', '--state', 'success']);
    expect(res.out).toBe('marked in run r1:\nTASK   FROM    TO       TRY\ntrain  failed  success  3\n');
    expect(await statesOf('r1')).toMatchObject({ train: 'success', report: 'upstream_failed' });
    expect((await repos.runs.get('train_ml1m', 'r1'))!.state).toBe('running');
    expect((await cli(['tasks', 'mark', 'train_ml1m', 'r1', 'train', '--state', 'success'])).out).toBe('nothing to change: train already is success in run r1\n');
  });

  it('tasks mark needs --state, one of success and failed', async () => {
    const missing = await cli(['tasks', 'mark', 'train_ml1m', 'r1', 'train']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("required option '--state <state>' not specified");
    const wrong = await cli(['tasks', 'mark', 'train_ml1m', 'r1', 'train', '--state', 'skipped']);
    expect(wrong.err).toContain('Allowed choices are success, failed');
  });

  it('runs cancel ends the run failed naming who; a second cancel is refused', async () => {
    const res = await cli(['runs', 'cancel', 'train_ml1m', 'r1']);
    // train was marked success: report (upstream_failed) had ended; nothing was left to end.
    expect(res).toEqual({ code: 0, err: '', out: 'run r1 of train_ml1m failed (cancelled by olga): no unfinished task\n' });
    expect((await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'r2', '--logical-date', '2025-01-02T00:00:00Z'])).code).toBe(0);
    await setRunStates(repos, (await repos.runs.get('train_ml1m', 'r2'))!, dag, 'running', { extract: { state: 'success', tryNumber: 1 } });
    const second = await cli(['runs', 'cancel', 'train_ml1m', 'r2']);
    expect(second).toEqual({ code: 0, err: '', out: 'run r2 of train_ml1m failed (cancelled by olga): lint skipped, train skipped, report skipped\n' });
    expect(await statesOf('r2')).toEqual({ extract: 'success', train: 'skipped', report: 'skipped', lint: 'skipped' });
    const shown = await cli(['runs', 'show', 'train_ml1m', 'r1']);
    expect(shown.out.split('\n')[1]).toBe('reason: cancelled by olga');
    const again = await cli(['runs', 'cancel', 'train_ml1m', 'r1']);
    expect(again.code).not.toBe(0);
    expect(again.err).toBe('run "r1" of DAG "train_ml1m" already ended failed (cancelled by olga): there is nothing to cancel.\n');
  });
});

import type { INestApplication } from '@nestjs/common';
import type { SerializedDag } from '@swarmflow/core';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, setRunStates, TRAIN_DAG } from '../../webserver/src/test-support/seed';
import { createWebserver } from '../../webserver/src/webserver';
import { createTestToken } from '../../webserver/src/test-support/auth';
import type { CliDeps } from './cli-context';
import { runCli } from './program';

describeWithPostgres('swarmflow CLI against the REST API', () => {
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
    [dag] = await seedDags(repos, [TRAIN_DAG], now, [{ fileloc: 'broken.ts', message: 'broken.ts: SyntaxError: Unexpected token' }]);
    app = await createWebserver({ repos, logger: false, clock: () => now });
    await app.listen(0, '127.0.0.1');
    token = await createTestToken(repos, 'admin');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  /** Runs one command in-process; `onSleep` stands in for time passing while --wait or --follow polls. */
  async function cli(args: string[], onSleep?: () => Promise<void>) {
    let out = '';
    let err = '';
    const deps: CliDeps = {
      stdout: (s) => { out += s; },
      stderr: (s) => { err += s; },
      env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
      sleep: async () => { await onSleep?.(); },
      now: () => now,
      readFile: () => null,
    };
    const code = await runCli(args, deps);
    return { code, out, err };
  }

  it('lists the DAGs and counts the import errors', async () => {
    const { code, out, err } = await cli(['dags', 'list']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out.split('\n')).toEqual([
      'DAG         PAUSED  SCHEDULE   LAST RUN  FILE',
      'train_ml1m  no      0 3 * * *  -         train_ml1m.ts',
      '1 DAG file failed to import; see `swarmflow dags errors`.',
      '',
    ]);
  });

  it('shows a DAG and its params', async () => {
    const { code, out } = await cli(['dags', 'show', 'train_ml1m']);
    expect(code).toBe(0);
    expect(out).toMatch(/^train\s+extract\s+gpu\s+2\s+all_success$/m);
    expect(out).toMatch(/^epochs\s+integer\s+10\s+-$/m);
  });

  it('rejects a conf that does not match the params with the API\'s message and exit code 2', async () => {
    const { code, out, err } = await cli(['dags', 'trigger', 'train_ml1m', '--conf', '{"epochs": "ten"}']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toBe(`conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. --conf '{"epochs": 10}'.\n`);
    expect(await repos.runs.list({ dagId: 'train_ml1m' })).toEqual([]);
  });

  it('answers an unknown DAG with exit code 2', async () => {
    const { code, err } = await cli(['dags', 'show', 'nope']);
    expect(code).toBe(2);
    expect(err).toMatch(/^DAG "nope" does not exist\./);
  });

  it('triggers a run and shows it with its task instances', async () => {
    const trig = await cli(['dags', 'trigger', 'train_ml1m', '--conf', '{"epochs": 3}', '--run-id', 'cli-1']);
    expect(trig).toEqual({ code: 0, err: '', out: 'triggered train_ml1m run cli-1 (logical date 2025-03-01T12:00:00.000Z)\n' });
    const run = (await repos.runs.get('train_ml1m', 'cli-1'))!;
    expect(run.params).toEqual({ epochs: 3, region: 'eu' });
    await setRunStates(repos, run, dag, 'running', { extract: { state: 'running', tryNumber: 1, worker: 'worker-a' } });

    const shown = await cli(['runs', 'show', 'train_ml1m', 'cli-1']);
    expect(shown.code).toBe(0);
    const lines = shown.out.split('\n');
    expect(lines[0]).toMatch(/^train_ml1m run cli-1: running \(manual, logical date 2025-03-01 12:00:00/);
    expect(lines[1]).toBe('conf {"epochs":3}');
    expect(lines[2]).toMatch(/^TASK\s+STATE\s+TRY\s+WORKER\s+EXIT/);
    expect(lines[3]).toMatch(/^extract\s+running\s+1\/3\s+worker-a\s+-/);
    expect(lines[4]).toMatch(/^train\s+none\s+0\/3\s+-/);

    const json = await cli(['runs', 'list', '--dag', 'train_ml1m', '--json']);
    expect(JSON.parse(json.out).map((r: { runId: string }) => r.runId)).toEqual(['cli-1']);
  });

  it('waits for a run, prints the task changes and exits 1 with the failed task\'s log tail', async () => {
    const steps: (() => Promise<void>)[] = [
      async () => {
        const run = (await repos.runs.get('train_ml1m', 'cli-wait'))!;
        await setRunStates(repos, run, dag, 'running', { extract: { state: 'running', tryNumber: 1, worker: 'worker-a' } });
      },
      async () => {
        const run = (await repos.runs.get('train_ml1m', 'cli-wait'))!;
        const [extract] = await repos.tis.forRuns([run.pk]);
        await repos.logs.append([{ tiId: extract.id, tryNumber: 1, seq: 0, lines: [{ at: now.toISOString(), stream: 'stderr', line: 'no such bucket' }] }]);
        await setRunStates(repos, run, dag, 'failed', {
          extract: { state: 'failed', tryNumber: 1, worker: 'worker-a', exitCode: 3 },
          train: { state: 'upstream_failed', tryNumber: 0 }, report: { state: 'upstream_failed', tryNumber: 0 }, lint: { state: 'success', tryNumber: 1 },
        });
      },
    ];
    const { code, out, err } = await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'cli-wait', '--logical-date', '2025-03-01T11:00:00Z', '--wait'],
      async () => steps.shift()?.());
    expect(code).toBe(1);
    expect(out.split('\n')).toEqual([
      'triggered train_ml1m run cli-wait (logical date 2025-03-01T11:00:00.000Z)',
      'run cli-wait: queued',
      'run cli-wait: running',
      '  extract  running (try 1 on worker-a)',
      'run cli-wait: failed',
      '  extract  failed (try 1, exit code 3)',
      '  train    upstream_failed',
      '  report   upstream_failed',
      '  lint     success (try 1)',
      'extract failed on try 1 with exit code 3',
      '  | no such bucket',
      '  full log: swarmflow tasks logs train_ml1m cli-wait extract --try 1',
      'not run because upstream tasks failed: train, report',
      '',
    ]);
    expect(err).toBe('run cli-wait of train_ml1m failed\n');

    const logs = await cli(['tasks', 'logs', 'train_ml1m', 'cli-wait', 'extract', '--follow']);
    expect(logs).toEqual({ code: 0, out: 'no such bucket\n', err: '' });

    const cleared = await cli(['tasks', 'clear', 'train_ml1m', 'cli-wait', 'extract', '--downstream']);
    expect(cleared).toEqual({ code: 0, err: '', out: 'cleared extract, train, report in run cli-wait; the scheduler runs them again\n' });
    expect((await repos.runs.get('train_ml1m', 'cli-wait'))!.state).toBe('running');

    // Following the cleared task waits for its next try instead of replaying the one that ended.
    const nextTry: (() => Promise<void>)[] = [
      async () => {
        const run = (await repos.runs.get('train_ml1m', 'cli-wait'))!;
        const [extract] = await repos.tis.forRuns([run.pk]);
        await setRunStates(repos, run, dag, 'running', { extract: { state: 'running', tryNumber: 2, worker: 'worker-a' } });
        await repos.logs.append([{ tiId: extract.id, tryNumber: 2, seq: 0, lines: [{ at: now.toISOString(), stream: 'stdout', line: 'bucket found' }] }]);
      },
      async () => {
        const run = (await repos.runs.get('train_ml1m', 'cli-wait'))!;
        await setRunStates(repos, run, dag, 'running', { extract: { state: 'success', tryNumber: 2, worker: 'worker-a' } });
      },
    ];
    expect(await cli(['tasks', 'logs', 'train_ml1m', 'cli-wait', 'extract', '--follow'], async () => nextTry.shift()?.())).toEqual({
      code: 0, out: 'bucket found\n', err: '(extract is none: following its next try, 2, once it starts)\n',
    });
  });

  it('with --wait --json prints only the ended run on stdout, and the progress on stderr', async () => {
    const steps: (() => Promise<void>)[] = [
      async () => {
        const run = (await repos.runs.get('train_ml1m', 'cli-json'))!;
        await setRunStates(repos, run, dag, 'success', {
          extract: { state: 'success', tryNumber: 1 }, train: { state: 'success', tryNumber: 1 },
          report: { state: 'success', tryNumber: 1 }, lint: { state: 'success', tryNumber: 1 },
        });
      },
    ];
    const { code, out, err } = await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'cli-json', '--logical-date', '2025-03-01', '--wait', '--json'],
      async () => steps.shift()?.());
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ runId: 'cli-json', state: 'success' });
    expect(err.split('\n')).toEqual(expect.arrayContaining(['triggered train_ml1m run cli-json (logical date 2025-03-01T00:00:00.000Z)', 'run cli-json: success']));
  });

  it('refuses a second run of a logical date, naming the run that has it, with exit code 2 and no stack', async () => {
    const first = await cli(['dags', 'trigger', 'train_ml1m', '--logical-date', '2025-02-01']);
    expect(first).toEqual({ code: 0, err: '', out: 'triggered train_ml1m run manual__2025-02-01T00:00:00.000Z (logical date 2025-02-01T00:00:00.000Z)\n' });
    const again = await cli(['dags', 'trigger', 'train_ml1m', '--logical-date', '2025-02-01T00:00:00Z', '--run-id', 'second-try']);
    expect(again).toEqual({
      code: 2, out: '',
      err: 'DAG "train_ml1m" already has a run at logical date 2025-02-01T00:00:00.000Z: "manual__2025-02-01T00:00:00.000Z" (queued); ' +
        'a DAG has one run per logical date. Fix: to run that date again, clear the tasks of that run ' +
        '(`swarmflow tasks clear train_ml1m manual__2025-02-01T00:00:00.000Z <task> --downstream`), or pick another logical date.\n',
    });
    expect(await repos.runs.get('train_ml1m', 'second-try')).toBeNull();
  });

  it('refuses a logical date in the future, with exit code 2 and no stack', async () => {
    const { code, out, err } = await cli(['dags', 'trigger', 'train_ml1m', '--logical-date', '2025-03-02', '--run-id', 'tomorrow']);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toBe('logicalDate 2025-03-02T00:00:00.000Z is in the future: the server\'s time is 2025-03-01T12:00:00.000Z (clocks may differ by 60s). ' +
      'A run\'s logical date is the start of the data it processes, so a manual run cannot be triggered for a later date. ' +
      'Fix: pick a logical date up to now, or leave it out to use the current time.\n');
    expect(await repos.runs.get('train_ml1m', 'tomorrow')).toBeNull();
  });

  it('creates, resizes, lists and deletes pools; default_pool stays', async () => {
    expect(await cli(['pools', 'set', 'gpu', '2', '--description', 'two GPUs'])).toEqual({ code: 0, out: 'created pool gpu: 2 slots\n', err: '' });
    expect(await cli(['pools', 'set', 'gpu', '1'])).toEqual({ code: 0, out: 'resized pool gpu: 1 slot\n', err: '' });
    const listed = JSON.parse((await cli(['pools', 'list', '--json'])).out);
    expect(listed).toContainEqual({ name: 'gpu', slots: 1, description: 'two GPUs' });
    expect((await cli(['pools', 'list'])).out).toMatch(/^gpu +1 +two GPUs$/m);
    expect(await cli(['pools', 'delete', 'gpu'])).toEqual({ code: 0, out: 'deleted pool gpu\n', err: '' });
    const again = await cli(['pools', 'delete', 'gpu']);
    expect(again.code).toBe(2);
    expect(again.err).toContain('pool "gpu" does not exist');
    const builtIn = await cli(['pools', 'delete', 'default_pool']);
    expect(builtIn.code).not.toBe(0);
    expect(builtIn.err).toContain('default_pool cannot be deleted');
    const badName = await cli(['pools', 'set', 'no spaces', '1']);
    expect(badName.code).toBe(2);
    expect(badName.err).toContain('pool name "no spaces" must be 1 to 250 letters');
    expect((await cli(['pools', 'set', 'gpu', '-1'])).code).toBe(2);
  });

  it('pauses and unpauses a DAG', async () => {
    expect(await cli(['dags', 'pause', 'train_ml1m'])).toEqual({
      code: 0, out: 'train_ml1m is paused: its runs queue no more tasks (running and already queued ones go on) until `swarmflow dags unpause train_ml1m`\n', err: '',
    });
    expect((await repos.dags.get('train_ml1m'))!.isPaused).toBe(true);
    // A run triggered by hand is created, and the CLI says it will wait.
    const held = await cli(['dags', 'trigger', 'train_ml1m', '--run-id', 'cli-paused']);
    expect(held).toMatchObject({ code: 0, err: 'note: train_ml1m is paused: the run stays queued, not started, until `swarmflow dags unpause train_ml1m`\n' });
    expect(held.out).toContain('triggered train_ml1m run cli-paused');
    expect(await cli(['dags', 'unpause', 'train_ml1m'])).toEqual({ code: 0, out: 'train_ml1m is unpaused\n', err: '' });
  });
});

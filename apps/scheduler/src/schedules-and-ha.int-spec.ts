import { dagHash, validateDag } from '@swarmflow/core';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { Scheduler } from './scheduler';
import { quietLogger, Stack } from './test-support/stack';

const minuteFloor = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

describeWithPostgres('cron schedules and several schedulers at once', () => {
  let testDb: TestDatabase;
  let stack: Stack;
  let second: Scheduler;
  const began = minuteFloor(new Date());
  const start = new Date(began.getTime() - 5 * 60_000);
  const heldDate = new Date(start.getTime() + 2 * 60_000);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const wide = ['id: wide_ha', 'max_active_tasks: 1000', 'tasks:'];
    for (let i = 0; i < 200; i++) wide.push(`  t${i}: { shell: "true" }`);
    stack = new Stack({
      databaseUrl: testDb.url,
      dagFiles: {
        'cron.yaml': [
          `id: every_minute_catchup\nschedule: "* * * * *"\ncatchup: true\nstart_date: "${start.toISOString()}"\ntasks:\n  a: { shell: "true" }`,
          `id: every_minute_latest\nschedule: "* * * * *"\ncatchup: false\nstart_date: "${start.toISOString()}"\ntasks:\n  a: { shell: "true" }`,
          `id: every_minute_manual_first\nschedule: "* * * * *"\ncatchup: true\nstart_date: "${start.toISOString()}"\ntasks:\n  a: { shell: "true" }`,
        ].join('\n---\n') + '\n',
        'wide.yaml': wide.join('\n') + '\n',
      },
      workers: [{ concurrency: 8 }],
    });
    // Before any scheduler runs: a manual run holds one of the cron times the schedule will
    // reach, on a DAG kept paused until its test unpauses it.
    const early = validateDag({ id: 'every_minute_manual_first', tasks: [{ id: 'a', command: 'true' }] }, 'cron.yaml');
    await stack.repos.dags.recordParse([{ dag: early, hash: dagHash(early) }], [], start);
    await stack.repos.dags.setPaused('every_minute_manual_first', true);
    await stack.repos.runs.create({
      dagId: 'every_minute_manual_first', runId: 'manual-first', versionHash: dagHash(early), runType: 'manual',
      logicalDate: heldDate, conf: {}, params: {},
    });
    await stack.start();
    // A second scheduler on the same database and broker: they must share work without double dispatch.
    second = new Scheduler({
      dagsFolder: stack.folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 20_000, tickMs: 200, heartbeatTimeoutMs: 30_000, clusterKey: stack.clusterKey,
    }, stack.repos, await stack.broker(), quietLogger);
    await second.start();
  }, 60_000);

  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
    await testDb?.drop();
  });

  const waitForRuns = async (dagId: string, atLeast: number) => {
    for (let i = 0; i < 200; i++) {
      const runs = await stack.repos.runs.list({ dagId });
      if (runs.length >= atLeast && runs.every((r) => r.state === 'success')) return runs;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${dagId}: fewer than ${atLeast} successful runs: ${JSON.stringify(await stack.repos.runs.list({ dagId }))}`);
  };

  it('with catchup creates a run for every missed cron time since the start date', async () => {
    const runs = await waitForRuns('every_minute_catchup', 6);
    const dates = runs.map((r) => r.logicalDate.getTime()).sort();
    expect(dates[0]).toBe(start.getTime());
    for (let i = 1; i < dates.length; i++) expect(dates[i] - dates[i - 1]).toBe(60_000);
    expect(runs.every((r) => r.runType === 'scheduled' && r.runId === `scheduled__${r.logicalDate.toISOString()}`)).toBe(true);
  });

  it('without catchup creates only the newest due run', async () => {
    const runs = await waitForRuns('every_minute_latest', 1);
    // Nothing from the five missed minutes before the schedulers started. A minute that begins while
    // the test runs is due in its own right, so there may be one run per minute since then.
    const dates = runs.map((r) => r.logicalDate.getTime()).sort();
    expect(dates[0]).toBeGreaterThanOrEqual(began.getTime());
    for (let i = 1; i < dates.length; i++) expect(dates[i] - dates[i - 1]).toBe(60_000);
    expect(dates.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - began.getTime()) / 60_000));
  });

  it('skips a cron time that a manual run already holds, and schedules the others', async () => {
    await stack.repos.dags.setPaused('every_minute_manual_first', false);
    const runs = await waitForRuns('every_minute_manual_first', 6);
    const atHeld = runs.filter((r) => r.logicalDate.getTime() === heldDate.getTime());
    expect(atHeld.map((r) => [r.runId, r.runType])).toEqual([['manual-first', 'manual']]);
    const dates = runs.map((r) => r.logicalDate.getTime()).sort();
    expect(dates[0]).toBe(start.getTime());
    for (let i = 1; i < dates.length; i++) expect(dates[i] - dates[i - 1]).toBe(60_000);
    expect(runs.filter((r) => r !== atHeld[0]).every((r) => r.runType === 'scheduled')).toBe(true);
    // The schedule moved past the held time, which is never tried again.
    expect((await stack.repos.dags.get('every_minute_manual_first'))!.lastScheduledDate!.getTime()).toBeGreaterThan(heldDate.getTime());
  });

  it('two schedulers never queue the same try twice', async () => {
    const before = [stack.scheduler.runner.decisions, second.runner.decisions];
    const run = await stack.trigger('wide_ha');
    const { state, tis } = await stack.waitForRun(run);
    expect(state).toBe('success');
    const [a, b] = [stack.scheduler.runner.decisions, second.runner.decisions].map((d, i) => ({
      fromMemory: d.fromMemory - before[i].fromMemory, fromDatabase: d.fromDatabase - before[i].fromDatabase,
      memoryStale: d.memoryStale - before[i].memoryStale,
    }));
    // Both took part. (What one remembers goes stale when the other writes: the write is refused
    // and the iteration reads the database instead; the contract suite checks those refusals.)
    expect(a.fromDatabase + a.fromMemory).toBeGreaterThan(0);
    expect(b.fromDatabase + b.fromMemory).toBeGreaterThan(0);
    const ids = [...tis.values()].map((t) => t.id);
    const rows = await stack.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM task_state_history WHERE ti_id = ANY($1) AND to_state = 'queued'`, [ids],
    );
    expect(rows[0].n).toBe(200);
    expect([...tis.values()].every((t) => t.tryNumber === 1 && t.state === 'success')).toBe(true);
  });
});

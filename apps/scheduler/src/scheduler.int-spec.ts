import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { ClearService } from '../../webserver/src/services/clear.service';
import { useStack } from './test-support/use-stack';

const PIPELINE = `
import { dag, shell, group } from 'swarmflow';
export const pipeline = dag({ id: 'pipeline', params: { who: { type: 'string', default: 'world' } } }, () => {
  const a = shell('a', 'echo hello {{ params.who }}');
  const b1 = shell('b1', 'echo b1');
  const b2 = shell('b2', 'echo b2');
  const c = shell('c', 'echo c');
  a.then([b1, b2]);
  group(b1, b2).then(c);
});
`;

const FAILURES = `
import { dag, shell } from 'swarmflow';
export default [
  dag({ id: 'fails', defaults: { retries: 1, retryDelay: '50ms' } }, () => {
    const bad = shell('bad', 'echo oops >&2; exit 3');
    const after = shell('after', 'echo never');
    const cleanup = shell('cleanup', 'echo cleanup', { triggerRule: 'all_done' });
    bad.then(after).then(cleanup);
  }),
  dag({ id: 'skips' }, () => {
    shell('maybe', 'exit 99').then(shell('next', 'echo next'));
  }),
  dag({ id: 'flaky', defaults: { retries: 2, retryDelay: '50ms', retryBackoff: 'exponential' } }, () => {
    shell('flaky', 'f=$SWARMFLOW_TRY_NUMBER; [ "$f" -ge 2 ]');
  }),
  dag({ id: 'slow', defaults: { timeout: '300ms' } }, () => {
    shell('sleeper', 'sleep 5');
  }),
  dag({ id: 'cleared' }, () => {
    shell('first', '[ "$SWARMFLOW_TRY_NUMBER" -ge 2 ]').then(shell('then', 'true'));
    shell('long', 'sleep 1.5');
  }),
];
`;

const LIMITS = `
id: nul_output
tasks:
  nul: { shell: "printf 'before\\\\000after\\\\n'; printf 'x\\\\000y' >&2; exit 3" }
---
id: chain5
tasks:
  c1: { shell: "true" }
  c2: { shell: "true", upstream: [c1] }
  c3: { shell: "true", upstream: [c2] }
  c4: { shell: "true", upstream: [c3] }
  c5: { shell: "true", upstream: [c4] }
---
id: limited
max_active_runs: 1
tasks:
  one: { shell: "sleep 0.2" }
---
id: pooled
tasks:
  p1: { shell: "sleep 0.2", pool: single }
  p2: { shell: "sleep 0.2", pool: single }
  p3: { shell: "sleep 0.2", pool: single }
`;

describeWithPostgres('scheduler with workers (Postgres, in-memory broker)', () => {
  const stack = useStack({
    dagFiles: {
      'pipeline.ts': PIPELINE,
      'failures.ts': FAILURES,
      'limits.yaml': LIMITS,
      'broken/syntax.ts': `import { dag } from 'swarmflow';\nexport const x = dag({ id: 'syntax' }, () => { shell('a', ; });\n`,
      'broken/cycle.yaml': 'id: cyclic\ntasks:\n  a: { shell: "true", upstream: [b] }\n  b: { shell: "true", upstream: [a] }\n',
    },
    workers: [{ concurrency: 4 }],
  });
  beforeAll(async () => {
    await stack().repos.pools.upsert({ name: 'single', slots: 1, description: 'one at a time' });
  });

  it('records broken files as import errors naming them, and loads the other DAGs', async () => {
    const errors = await stack().repos.dags.importErrors();
    expect(errors.map((e) => e.fileloc)).toEqual(['broken/cycle.yaml', 'broken/syntax.ts']);
    expect(errors[0].message).toContain('a -> b -> a');
    expect(errors[1].message).toMatch(/^broken\/syntax\.ts:2:\d+: TypeScript syntax error: .+\n  export const x = .*\n *\^\nFix: correct the syntax there; the file is imported again at the next parse\.$/);
    expect((await stack().repos.dags.list()).map((d) => d.dagId)).toEqual(['chain5', 'cleared', 'fails', 'flaky', 'limited', 'nul_output', 'pipeline', 'pooled', 'skips', 'slow']);
  });

  it('runs a fan-out/fan-in DAG in dependency order with templated params and stored logs', async () => {
    const run = await stack().trigger('pipeline', { who: 'swarm' });
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect([...tis.values()].map((t) => t.state)).toEqual(['success', 'success', 'success', 'success']);
    for (const b of ['b1', 'b2']) expect(tis.get(b)!.startedAt!.getTime()).toBeGreaterThanOrEqual(tis.get('a')!.endedAt!.getTime());
    expect(tis.get('c')!.startedAt!.getTime()).toBeGreaterThanOrEqual(Math.max(tis.get('b1')!.endedAt!.getTime(), tis.get('b2')!.endedAt!.getTime()));
    const a = tis.get('a')!;
    const waitLogs = async () => {
      for (let i = 0; i < 100; i++) {
        const { lines } = await stack().repos.logs.read(a.id, 1);
        if (lines.some((l) => l.line === 'hello swarm')) return lines;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('log line never arrived');
    };
    expect((await waitLogs()).map((l) => l.line)).toContain('hello swarm');
    const history = await stack().repos.tis.history(a.id);
    expect(history.map((h) => h.to)).toEqual(['scheduled', 'queued', 'running', 'success']);
  });

  it('stores the output and the end of a task that prints NUL bytes (Postgres text cannot hold them)', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('nul_output'));
    expect(state).toBe('failed');
    const nul = tis.get('nul')!;
    expect(nul).toMatchObject({ state: 'failed', exitCode: 3 });
    const { lines } = await stack().repos.logs.read(nul.id, 1);
    expect(lines.filter((l) => l.stream !== 'system').map((l) => l.line)).toEqual(['before\uFFFDafter', 'x\uFFFDy']);
    // The scheduler carries on.
    expect((await stack().waitForRun(await stack().trigger('chain5'))).state).toBe('success');
  });

  it('retries a failing task, then fails it, marks downstream upstream_failed and still runs all_done tasks', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('fails'));
    // Airflow's rule: a run's state is its leaves' — the only leaf, cleanup, succeeded.
    expect(state).toBe('success');
    expect(tis.get('bad')).toMatchObject({ state: 'failed', tryNumber: 2, exitCode: 3 });
    expect(tis.get('after')!.state).toBe('upstream_failed');
    expect(tis.get('cleanup')!.state).toBe('success');
  });

  it('ends a task that exits 99 skipped and skips its all_success downstream', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('skips'));
    expect(state).toBe('success');
    expect(tis.get('maybe')!.state).toBe('skipped');
    expect(tis.get('next')!.state).toBe('skipped');
  });

  it('succeeds on a retry', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('flaky'));
    expect(state).toBe('success');
    const flaky = tis.get('flaky')!;
    expect(flaky).toMatchObject({ state: 'success', tryNumber: 2, exitCode: 0 });
    // Each try keeps its own worker and exit code in its history (the instance holds the latest's).
    const history = await stack().repos.tis.history(flaky.id);
    const ended = (n: number) => history.find((h) => h.tryNumber === n && h.from === 'running')!;
    expect([ended(1).to, ended(1).exitCode, ended(1).worker, ended(1).hostname]).toEqual(['up_for_retry', 1, flaky.worker, flaky.hostname]);
    expect([ended(2).to, ended(2).exitCode, ended(2).worker]).toEqual(['success', 0, flaky.worker]);
    expect(history.find((h) => h.tryNumber === 1 && h.to === 'running')).toMatchObject({ worker: flaky.worker, exitCode: null });
    expect(history.find((h) => h.tryNumber === 2 && h.to === 'queued')).toMatchObject({ worker: null, exitCode: null });
    // The scheduler's write that queued try 2 kept try 1 for the tries table (task_try), as it ended.
    const { items } = await stack().repos.dashboard.tries({ tiId: flaky.id, limit: 10, offset: 0 });
    expect(items.map((t) => [t.tryNumber, t.state, t.exitCode, t.worker]).sort()).toEqual([[1, 'up_for_retry', 1, flaky.worker], [2, 'success', 0, flaky.worker]]);
  });

  it('fails a task that exceeds its execution timeout', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('slow'));
    expect(state).toBe('failed');
    expect(tis.get('sleeper')!.reason).toMatch(/timeout/);
  });

  it('re-evaluates a running run after a user clears a failed task in it (the scheduler caches its task states)', async () => {
    const run = await stack().trigger('cleared');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const tis = new Map((await stack().repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      if (tis.get('then')?.state === 'upstream_failed') break;
      if (Date.now() > deadline) throw new Error(`first never failed: ${[...tis.values()].map((t) => `${t.taskId}=${t.state}`).join(' ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const clears = new ClearService(stack().repos, () => stack().scheduler.runner.nudge(), () => new Date());
    expect(await clears.clear('cleared', run.runId, 'first', { downstream: true })).toEqual({ cleared: ['first', 'then'] });
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(tis.get('first')).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(tis.get('then')).toMatchObject({ state: 'success', tryNumber: 1 });
    expect(tis.get('long')!.endedAt!.getTime()).toBeGreaterThan(tis.get('first')!.endedAt!.getTime());
  });

  it('keeps max_active_runs and pool slots', async () => {
    const r1 = await stack().trigger('limited');
    const r2 = await stack().trigger('limited');
    const pooled = await stack().trigger('pooled');
    const first = await stack().waitForRun(r1);
    const second = await stack().waitForRun(r2);
    expect(second.tis.get('one')!.startedAt!.getTime()).toBeGreaterThanOrEqual(first.tis.get('one')!.endedAt!.getTime());
    const p = await stack().waitForRun(pooled);
    const spans = [...p.tis.values()].map((t) => [t.startedAt!.getTime(), t.endedAt!.getTime()]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });
});

// Without ticks or heartbeats during the run, each hop's batch holds its task events only: the path
// a hop takes does not depend on the machine's speed. (With the stack's 200-ms tick and 1-s heartbeats,
// a loaded machine slowed the hops until each batch held a tick or a heartbeat, which the memory path
// leaves to the database path: the count of hops decided from memory fell to 1 of the 2 required.)
describeWithPostgres('scheduler deciding from memory (no tick or heartbeat during the run)', () => {
  const stack = useStack({
    dagFiles: { 'chain.yaml': `id: chain5\ntasks:\n  c1: { shell: "true" }\n${[2, 3, 4, 5].map((i) => `  c${i}: { shell: "true", upstream: [c${i - 1}] }\n`).join('')}` },
    scheduler: { tickMs: 600_000, heartbeatTimeoutMs: 600_000 },
    workers: [{ concurrency: 4, heartbeatIntervalMs: 600_000 }],
  });

  it('decides the hops of a chain from memory, one round trip each, with the same outcome', async () => {
    const before = stack().scheduler.runner.decisions;
    const { state, tis } = await stack().waitForRun(await stack().trigger('chain5'), 120_000);
    const after = stack().scheduler.runner.decisions;
    expect(state).toBe('success');
    for (let i = 2; i <= 5; i++) {
      expect(tis.get(`c${i}`)!.startedAt!.getTime()).toBeGreaterThanOrEqual(tis.get(`c${i - 1}`)!.endedAt!.getTime());
    }
    // The trigger's iteration reads the database; a hop whose events came alone (no heartbeat, no tick) need not.
    expect(after.fromMemory - before.fromMemory).toBeGreaterThanOrEqual(2);
    const history = await stack().repos.tis.history(tis.get('c3')!.id);
    expect(history.map((h) => h.to)).toEqual(['scheduled', 'queued', 'running', 'success']);
  }, 180_000);
});

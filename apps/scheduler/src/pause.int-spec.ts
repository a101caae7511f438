import { pausedReason } from '@swarmflow/core';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// Pausing a DAG holds its runs, as in Airflow: the tries already running go on to their end,
// but nothing more of the DAG is queued (its tasks wait `scheduled`, saying why) until it is
// unpaused. A run triggered while paused stays `queued` (not started). Other DAGs go on.
describeWithPostgres('a paused DAG', () => {
  const stack = useStack({
    dagFiles: {
      'held.yaml': 'id: held\ntasks:\n  a: { shell: "sleep 0.6" }\n  b: { shell: "true", upstream: [a] }\n  c: { shell: "true", upstream: [b] }\n',
      'free.yaml': 'id: free\ntasks:\n  only: { shell: "true" }\n',
    },
    workers: [{ concurrency: 2 }],
  });

  const tisOf = async (runPk: number) => new Map((await stack().repos.tis.forRuns([runPk])).map((t) => [t.taskId, t]));

  it('holds its running and new runs while the running tries finish, lets other DAGs run, and resumes when unpaused', async () => {
    const first = await stack().trigger('held');
    await until('a runs', async () => (await tisOf(first.pk)).get('a')?.state === 'running');

    await stack().repos.dags.setPaused('held', true);
    const second = await stack().trigger('held');
    expect((await stack().waitForRun(await stack().trigger('free'), 20_000)).state).toBe('success');

    // a ends as it would have; b, ready now, waits.
    await until('a has ended and b waits with the reason', async () => {
      const tis = await tisOf(first.pk);
      return tis.get('a')?.state === 'success' && tis.get('b')?.reason === pausedReason('held');
    });
    await ticks(stack().scheduler.runner, 2); // ticks that would have started or queued something
    const held = [...(await tisOf(first.pk)).values(), ...(await tisOf(second.pk)).values()];
    expect(held.filter((t) => t.state === 'queued' || t.state === 'running')).toEqual([]);
    expect((await tisOf(first.pk)).get('b')).toMatchObject({ state: 'scheduled', reason: pausedReason('held') });
    expect((await stack().repos.runs.get('held', first.runId))?.state).toBe('running');
    // The run triggered while paused is not started: queued, no task instances yet.
    expect((await stack().repos.runs.get('held', second.runId))?.state).toBe('queued');
    expect((await tisOf(second.pk)).size).toBe(0);

    await stack().repos.dags.setPaused('held', false);
    stack().scheduler.runner.nudge();
    for (const run of [first, second]) {
      const { state, tis } = await stack().waitForRun(run, 20_000);
      expect(state).toBe('success');
      expect([...tis.values()].map((t) => [t.taskId, t.state, t.reason])).toEqual([['a', 'success', null], ['b', 'success', null], ['c', 'success', null]]);
    }
  }, 60_000);
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for `n` more scheduling iterations that are ticks (a nudge makes the next one a tick). */
async function ticks(runner: { iterations: number; nudge(): void }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const seen = runner.iterations;
    runner.nudge();
    await until('a scheduler tick', async () => runner.iterations > seen);
  }
}

// With ticks far apart, only the scheduler epoch that pausing raises tells a scheduler
// deciding from memory (on the events of a run it knows) that the DAG is paused now.
describeWithPostgres('a DAG paused between two events of its run', () => {
  const stack = useStack({
    dagFiles: { 'held.yaml': 'id: held\ntasks:\n  a: { shell: "sleep 1" }\n  b: { shell: "true", upstream: [a] }\n' },
    workers: [{ concurrency: 1 }],
    scheduler: { tickMs: 60_000 },
  });

  it('queues nothing more of it once paused', async () => {
    const run = await stack().trigger('held');
    const tisOf = async () => new Map((await stack().repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
    // Its task.started is applied with the next event that needs an iteration (a's end), so wait
    // for queued, and for the worker to run it.
    await until('a is queued', async () => (await tisOf()).get('a')?.state === 'queued');
    await until('the worker runs a', async () => stack().workers[0].runningTasks().length === 1);
    await stack().repos.dags.setPaused('held', true);
    expect((await tisOf()).get('a')?.state).toBe('queued'); // the scheduler has seen nothing since it queued a
    await until('b waits with the reason', async () => (await tisOf()).get('b')?.reason === pausedReason('held'));
    expect((await tisOf()).get('a')).toMatchObject({ state: 'success' });
    expect((await tisOf()).get('b')).toMatchObject({ state: 'scheduled', reason: pausedReason('held') });

    await stack().repos.dags.setPaused('held', false);
    stack().scheduler.runner.nudge(); // what the API's unpause does in standalone; the scheduler's tick does it otherwise
    expect((await stack().waitForRun(run, 20_000)).state).toBe('success');
  }, 30_000);
});

// A pause that lands while an iteration is between its read and its write waits for the
// scheduling lock; otherwise the iteration would take the pause's raise of the epoch for
// its own and go on deciding from a view that has the DAG unpaused.
describeWithPostgres('a DAG paused in the middle of a scheduling iteration', () => {
  const stack = useStack({
    dagFiles: { 'held.yaml': 'id: held\ntasks:\n  a: { shell: "sleep 0.3" }\n  b: { shell: "true", upstream: [a] }\n' },
    workers: [{ concurrency: 1 }],
    scheduler: { tickMs: 60_000 },
  });

  it('is seen by the iterations after it', async () => {
    const tis = stack().repos.tis;
    const write = tis.applyWithMessages;
    let pausing: Promise<unknown> | null = null;
    // The iteration that queues a: the pause starts after its read, before its write.
    const spy = jest.spyOn(tis, 'applyWithMessages').mockImplementation(async function (this: typeof tis, ...args) {
      if (!pausing && args[0].some((t) => t.before.taskId === 'a' && t.after.state === 'queued')) {
        pausing = stack().repos.dags.setPaused('held', true);
        // Until the pause waits for the scheduling lock this iteration holds.
        await until('the pause waits for the lock', async () =>
          (await stack().repos.db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).length > 0);
      }
      return write.apply(this, args);
    });
    try {
      const run = await stack().trigger('held');
      const tisOf = async () => new Map((await tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      await until('b waits with the reason', async () => (await tisOf()).get('b')?.reason === pausedReason('held'));
      await pausing;
      expect((await tisOf()).get('a')).toMatchObject({ state: 'success' });
      expect((await tisOf()).get('b')).toMatchObject({ state: 'scheduled', reason: pausedReason('held') });
    } finally {
      spy.mockRestore();
    }
  }, 30_000);
});

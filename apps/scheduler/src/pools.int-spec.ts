import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// A task waits while its pool does not exist or can never hold it, and says why in its
// reason; once the pool is created or resized, it runs.
describeWithPostgres('tasks waiting for a pool', () => {
  const stack = useStack({
    dagFiles: {
      'pooled.yaml': 'id: pooled\ntasks:\n  missing: { shell: "true", pool: later }\n  big: { shell: "true", pool: small, pool_slots: 3 }\n',
    },
    workers: [{ concurrency: 2 }],
  });

  /** Waits until `check` holds, failing after 5 s (it used to give up silently and let the next expect fail). */
  const until = (check: () => Promise<boolean>, what = 'the condition'): Promise<boolean> => waitUntil(what, check, { intervalMs: 20 });

  it('keeps the task scheduled with a reason naming the fix, and runs it once the pool fits', async () => {
    await stack().repos.pools.upsert({ name: 'small', slots: 1, description: '' });
    const run = await stack().trigger('pooled');
    const byTask = async () => new Map((await stack().repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
    await until(async () => {
      const tis = [...(await byTask()).values()];
      return tis.length === 2 && tis.every((t) => t.reason !== null);
    });
    const waiting = await byTask();
    expect(waiting.get('missing')).toMatchObject({
      state: 'scheduled', reason: 'waiting for pool "later", which does not exist: create it with `swarmflow pools set later <slots>`',
    });
    expect(waiting.get('big')).toMatchObject({
      state: 'scheduled', reason: 'waiting: needs 3 slots of pool "small", which has 1: resize it with `swarmflow pools set small 3`',
    });
    await stack().repos.pools.upsert({ name: 'later', slots: 1, description: '' });
    await stack().repos.pools.upsert({ name: 'small', slots: 3, description: '' });
    const { state, tis } = await stack().waitForRun(run, 20_000);
    expect(state).toBe('success');
    expect([...tis.values()].map((t) => [t.taskId, t.state, t.reason])).toEqual([['missing', 'success', null], ['big', 'success', null]]);
  });
});

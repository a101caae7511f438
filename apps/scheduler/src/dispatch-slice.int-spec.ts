import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// t1..t3 come first by id; they run for 10 s, the others end at once.
const WIDE = `
id: sliced
tasks:
${[1, 2, 3].map((i) => `  t${i}: { shell: "sleep 10" }`).join('\n')}
${[4, 5, 6, 7, 8].map((i) => `  t${i}: { shell: "true" }`).join('\n')}
`;

describeWithPostgres('dispatch in slices (Postgres, in-memory broker)', () => {
  const stack = useStack({
    dagFiles: { 'wide.yaml': WIDE },
    workers: [{ concurrency: 8 }],
    // No tick comes during the test: only events, and the slice's own wake-up, drive iterations.
    scheduler: { dispatchSlice: 3, tickMs: 60_000 },
  });

  it('queues at most a slice per iteration, and the next iteration follows at once', async () => {
    const run = await stack().trigger('sliced');
    const { state, tis } = await stack().waitForRun(run, 90_000);
    expect(state).toBe('success');
    const all = [...tis.values()];
    // Each iteration stamps the instances it queued with its own time: one slice, one stamp.
    const slices = new Map<number, string[]>();
    for (const ti of all) slices.set(ti.queuedAt!.getTime(), [...(slices.get(ti.queuedAt!.getTime()) ?? []), ti.taskId]);
    expect([...slices.values()].map((ids) => ids.sort())).toEqual([['t1', 't2', 't3'], ['t4', 't5', 't6'], ['t7', 't8']]);
    // The later slices did not wait for an event (t1..t3 end only after 10 s) nor for a tick (60 s):
    // they were queued before the first long task ended. Their queueing is what is asserted, not their
    // end, which on a loaded machine could come later than 10 s without any fault of the slicing.
    const firstLongEnd = Math.min(...['t1', 't2', 't3'].map((id) => tis.get(id)!.endedAt!.getTime()));
    for (const id of ['t4', 't5', 't6', 't7', 't8']) expect(tis.get(id)!.queuedAt!.getTime()).toBeLessThan(firstLongEnd);
    const lastQueued = Math.max(...all.map((ti) => ti.queuedAt!.getTime()));
    process.stdout.write(`dispatch-slice: three slices queued within ${lastQueued - Math.min(...all.map((ti) => ti.queuedAt!.getTime()))} ms\n`);
  }, 120_000);
});

import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

/** Longer than any test here may take: an iteration that waited its full window would fail it. */
const WINDOW_MS = 20_000;

// t0's end comes alone; the ends of t1..t8 stream in while t9, still running, is due.
const WIDE = `id: wide
tasks:
  t0: { shell: "true" }
${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `  t${i}: { shell: "sleep 0.3" }`).join('\n')}
  t9: { shell: "sleep 1" }
`;
const CHAIN = `id: chain\ntasks:\n${[0, 1, 2, 3].map((i) => `  c${i}: { shell: "true"${i > 0 ? `, upstream: [c${i - 1}]` : ''} }`).join('\n')}\n`;

describeWithPostgres('iterations wait for more events only while more are due (Postgres, in-memory broker)', () => {
  const stack = useStack({
    dagFiles: { 'wide.yaml': WIDE, 'chain.yaml': CHAIN },
    // No heartbeat and no tick during the tests: only tasks' events (and triggers) drive iterations.
    workers: [{ concurrency: 10, heartbeatIntervalMs: 60_000 }],
    scheduler: { eventCoalesceMs: WINDOW_MS, tickMs: 60_000 },
  });

  it('gathers the ends of a wide run, and stops waiting once every queued task has reported', async () => {
    const held = stack().scheduler.runner.held;
    const run = await stack().trigger('wide');
    const { state, tis } = await stack().waitForRun(run, WINDOW_MS / 2);
    expect(state).toBe('success');
    expect([...tis.values()].every((t) => t.state === 'success')).toBe(true);
    // The iteration for t1..t8 waited for t9, and t9's end released it long before the window closed.
    expect(stack().scheduler.runner.held).toBeGreaterThan(held);
  }, WINDOW_MS);

  it('never holds a chain: each hop ends the only task that was due', async () => {
    const held = stack().scheduler.runner.held;
    const run = await stack().trigger('chain');
    const { state, tis } = await stack().waitForRun(run, WINDOW_MS / 2);
    expect(state).toBe('success');
    expect(stack().scheduler.runner.held).toBe(held);
    const ids = ['c0', 'c1', 'c2', 'c3'];
    for (let i = 1; i < ids.length; i++) {
      expect(tis.get(ids[i])!.queuedAt!.getTime()).toBeGreaterThanOrEqual(tis.get(ids[i - 1])!.endedAt!.getTime());
    }
  }, WINDOW_MS);
});

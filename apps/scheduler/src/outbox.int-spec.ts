import { MemoryBroker, type Broker } from '@swarmflow/messaging';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// The state a dispatch commits and the messages it publishes must not diverge: here the
// broker refuses the scheduler's first task messages after their transaction committed —
// what a scheduler crash between commit and publish leaves behind — and the run must
// still finish, through the outbox sweep, with each try queued exactly once.
describeWithPostgres('transactional outbox', () => {
  let refusals = 3;
  /** Task messages the sweep published again: marked, so that a worker claims them before running. */
  let resent = 0;
  const shared = new MemoryBroker();
  const flaky = new Proxy(shared, {
    get(target, prop) {
      if (prop === 'publish') {
        return async (exchange: string, routingKey: string, body: object, options?: { resent?: boolean }) => {
          if (exchange === 'swarmflow.tasks' && refusals > 0) {
            refusals--;
            throw new Error('connection lost before the confirm');
          }
          if (options?.resent) resent++;
          return target.publish(exchange as any, routingKey, body, options);
        };
      }
      const value = (target as any)[prop];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Broker;
  let calls = 0;
  const stack = useStack({
    dagFiles: { 'chain.yaml': 'id: chain\ntasks:\n  a: { shell: "true" }\n  b: { shell: "true", upstream: [a] }\n  c: { shell: "true", upstream: [a] }\n' },
    makeBroker: async () => {
      if (calls++ > 0) return shared;
      await shared.start();
      return flaky; // the scheduler is made first
    },
    scheduler: { outboxSweepAgeMs: 300 },
  });

  it('publishes what a failed publish left in the outbox, once, and the run succeeds', async () => {
    const { state, tis } = await stack().waitForRun(await stack().trigger('chain'), 20_000);
    expect(state).toBe('success');
    expect(refusals).toBe(0);
    expect(resent).toBeGreaterThan(0);
    expect([...tis.values()].map((t) => [t.taskId, t.state, t.tryNumber])).toEqual([['a', 'success', 1], ['b', 'success', 1], ['c', 'success', 1]]);
    expect(await stack().repos.outbox.pending()).toBe(0);
  });
});

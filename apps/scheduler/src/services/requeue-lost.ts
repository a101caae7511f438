import { transition } from '@swarmflow/core';
import type { Repositories, TiTransition } from '@swarmflow/persistence';

export const LOST_MESSAGE_REASON = 'its task message was lost with the in-memory broker (standalone restarted): queued again';

/**
 * For a server on an in-memory broker (standalone), at start and before its scheduler: the
 * tries left `queued` had their task message in the broker that died with the last process
 * (a worker gives its undelivered messages back when it drains), so none will ever start.
 * Each goes back to `scheduled` and is dispatched again as the next try, with one more try
 * allowed, since the lost one never ran. A RabbitMQ deployment keeps its messages and
 * needs none of this. Returns how many were requeued.
 */
export async function requeueLostTaskMessages(repos: Repositories, now: Date): Promise<number> {
  return repos.db.transaction(async (tx) => {
    const writes: TiTransition[] = [];
    for (const ti of await repos.tis.queued(tx)) {
      const back = transition(ti, 'scheduled', undefined, LOST_MESSAGE_REASON);
      if (back.verdict !== 'apply') continue;
      writes.push({ before: ti, after: { ...ti, state: 'scheduled', queuedAt: null, maxTries: ti.maxTries + 1 }, steps: [back.step] });
    }
    if (writes.length === 0) return 0;
    const applied = await repos.tis.applyTransitions(writes, now, tx);
    await repos.runs.bumpTiSeq([...new Set(writes.map((w) => w.after.runPk))], tx);
    return applied.size;
  });
}

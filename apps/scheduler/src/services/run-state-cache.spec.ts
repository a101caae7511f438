import type { RunTaskState, TaskInstance, TiTransition } from '@swarmflow/persistence';
import { RunStateCache } from './run-state-cache';

const states = (): RunTaskState[] => [
  { id: 1, taskId: 'a', state: 'none', tryNumber: 0, maxTries: 1 },
  { id: 2, taskId: 'b', state: 'none', tryNumber: 0, maxTries: 2 },
];

function move(id: number, runPk: number, from: TaskInstance['state'], to: TaskInstance['state'], tryNumber = 0): TiTransition {
  const before = { id, runPk, state: from, tryNumber, maxTries: 1 } as TaskInstance;
  return { before, after: { ...before, state: to }, steps: [{ from, to, tryNumber, reason: null }] };
}

describe('RunStateCache', () => {
  it('answers only at the counter it cached', () => {
    const cache = new RunStateCache();
    cache.put(7, 3, states());
    expect(cache.seqs([7, 8])).toEqual(new Map([[7, 3]]));
    expect(cache.get(7, 3)!.tis.map((t) => t.taskId)).toEqual(['a', 'b']);
    expect(cache.get(7, 3)!.byTask.get('b')!.id).toBe(2);
    expect(cache.get(7, 4)).toBeUndefined();
    expect(cache.get(8, 3)).toBeUndefined();
  });

  it('applies committed transitions and follows the counters the commit raised', () => {
    const cache = new RunStateCache();
    cache.put(7, 3, states());
    cache.put(9, 1, [{ id: 5, taskId: 'x', state: 'queued', tryNumber: 1, maxTries: 1 }]);
    cache.committed([move(1, 7, 'none', 'scheduled'), move(5, 9, 'queued', 'running', 1), move(99, 12, 'none', 'scheduled')], [7]);
    expect(cache.get(7, 3)).toBeUndefined();
    expect(cache.get(7, 4)!.byTask.get('a')!.state).toBe('scheduled');
    // Not raised (a start changes nothing evaluation tells apart), but still kept exact.
    expect(cache.get(9, 1)!.tis[0].state).toBe('running');
  });

  it('forgets ended runs, everything on clear, and the oldest run beyond its bound', () => {
    const cache = new RunStateCache(2);
    cache.put(1, 0, states());
    cache.put(2, 0, states());
    cache.put(3, 0, states());
    expect([...cache.seqs([1, 2, 3]).keys()]).toEqual([2, 3]);
    cache.forget(2);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

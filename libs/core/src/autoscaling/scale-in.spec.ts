import { GroupWorker, planScaleIn } from './scale-in';

const w = (name: string, running = 0, held = 0, state = 'active'): GroupWorker => ({ name, state, running, held });

describe('planScaleIn', () => {
  it('drains idle workers only, never a busy one, the names that sort last first', () => {
    const plan = planScaleIn({ workers: [w('g.1'), w('g.2', 1), w('g.3'), w('g.10', 0, 1)], draining: [], surplus: 3 });
    expect(plan).toEqual({ drain: ['g.3', 'g.1'], resume: [], remove: [], waiting: [] });
  });

  it('drains nothing when every worker is busy', () => {
    expect(planScaleIn({ workers: [w('a', 2), w('b', 1)], draining: [], surplus: 2 }).drain).toEqual([]);
  });

  it('removes a drained worker once it reports draining with nothing running or held', () => {
    expect(planScaleIn({ workers: [w('a', 0, 0, 'draining'), w('b')], draining: ['a'], surplus: 1 }))
      .toEqual({ drain: [], resume: [], remove: ['a'], waiting: [] });
  });

  it('waits while the drain has not reached the worker or a held try is on its way', () => {
    expect(planScaleIn({ workers: [w('a'), w('b', 0, 1, 'draining')], draining: ['a', 'b'], surplus: 2 }))
      .toEqual({ drain: [], resume: [], remove: [], waiting: ['a', 'b'] });
  });

  it('gives back a drained worker that picked up work, and drains another idle one instead', () => {
    const plan = planScaleIn({ workers: [w('a', 1, 0, 'draining'), w('b'), w('c', 1)], draining: ['a'], surplus: 1 });
    expect(plan).toEqual({ drain: ['b'], resume: ['a'], remove: [], waiting: [] });
  });

  it('resumes drained workers no longer needed when the surplus shrinks (backlog came back)', () => {
    expect(planScaleIn({ workers: [w('a', 0, 0, 'draining'), w('b', 0, 0, 'draining')], draining: ['a', 'b'], surplus: 0 }))
      .toEqual({ drain: [], resume: ['b', 'a'], remove: [], waiting: [] });
    expect(planScaleIn({ workers: [w('a', 0, 0, 'draining'), w('b', 0, 0, 'draining')], draining: ['a', 'b'], surplus: 1 }))
      .toEqual({ drain: [], resume: ['a'], remove: ['b'], waiting: [] });
  });

  it('forgets drained workers that stopped or vanished (already removed)', () => {
    expect(planScaleIn({ workers: [w('a', 0, 0, 'stopped'), w('c')], draining: ['a', 'b'], surplus: 1 }))
      .toEqual({ drain: ['c'], resume: [], remove: [], waiting: [] });
  });

  it('never removes or drains a busy worker, over every mix of states', () => {
    const states = ['active', 'draining', 'stopping'];
    for (const sa of states) for (const sb of states) for (const ra of [0, 1]) for (const hb of [0, 1]) for (const surplus of [0, 1, 2, 3]) {
      const workers = [w('a', ra, 0, sa), w('b', 0, hb, sb), w('c', 1)];
      const plan = planScaleIn({ workers, draining: ['a', 'b'].filter((n, i) => [sa, sb][i] !== 'active' || i === 0), surplus });
      const busy = new Set(workers.filter((x) => x.running > 0 || x.held > 0).map((x) => x.name));
      expect(plan.remove.filter((n) => busy.has(n))).toEqual([]);
      expect(plan.drain.filter((n) => busy.has(n))).toEqual([]);
      expect(plan.remove.length + plan.waiting.length + plan.drain.length).toBeLessThanOrEqual(surplus);
    }
  });
});

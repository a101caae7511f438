import { UnknownTaskError } from '../errors';
import type { TiState } from '../state/states';
import { errorOf } from '../test-support/error-of';
import type { TaskInput } from './dag-input';
import type { SerializedDag, TriggerRule } from './dag.types';
import { descendantsOf, downstreamOf, graphOf, relativesOf } from './graph';
import { planRun, runOutcome } from './plan';
import { validateDag } from './validate-dag';

const build = (tasks: TaskInput[]): SerializedDag => validateDag({ id: 'd', tasks }, 'd.ts');
const t = (id: string, upstream: string[] = [], triggerRule?: TriggerRule): TaskInput => ({ id, command: 'x', upstream, triggerRule });
const states = (entries: Record<string, TiState>) => new Map(Object.entries(entries));

//   a -> b -> d
//   a -> c -> d ; d -> e ; f alone
const diamond = build([t('a'), t('b', ['a']), t('c', ['a']), t('d', ['b', 'c']), t('e', ['d']), t('f')]);

describe('planRun', () => {
  it('schedules the roots of a new run', () => {
    expect(planRun(diamond, new Map())).toEqual([
      { taskId: 'a', to: 'scheduled' },
      { taskId: 'f', to: 'scheduled' },
    ]);
  });

  it('only decides tasks in state none', () => {
    expect(planRun(diamond, states({ a: 'running', f: 'queued', b: 'none' }))).toEqual([]);
  });

  it('schedules a task once all its upstreams succeeded (cached counts as success)', () => {
    expect(planRun(diamond, states({ a: 'success', b: 'success', c: 'cached', d: 'none', e: 'none', f: 'success' }))).toEqual([
      { taskId: 'd', to: 'scheduled' },
    ]);
  });

  it('cascades upstream_failed through the whole DAG in one call', () => {
    expect(planRun(diamond, states({ a: 'failed', b: 'none', c: 'none', d: 'none', e: 'none', f: 'success' }))).toEqual([
      { taskId: 'b', to: 'upstream_failed' },
      { taskId: 'c', to: 'upstream_failed' },
      { taskId: 'd', to: 'upstream_failed' },
      { taskId: 'e', to: 'upstream_failed' },
    ]);
  });

  it('cascades skips, and lets all_done / none_failed tasks run after them', () => {
    const dag = build([t('a'), t('b', ['a']), t('c', ['b'], 'all_done'), t('d', ['b'], 'none_failed'), t('e', ['d'])]);
    expect(planRun(dag, states({ a: 'skipped' }))).toEqual([
      { taskId: 'b', to: 'skipped' },
      { taskId: 'c', to: 'scheduled' },
      { taskId: 'd', to: 'scheduled' },
    ]);
  });

  it('runs a one_failed cleanup task as soon as one upstream failed', () => {
    const dag = build([t('a'), t('b'), t('cleanup', ['a', 'b'], 'one_failed')]);
    expect(planRun(dag, states({ a: 'failed', b: 'running' }))).toEqual([{ taskId: 'cleanup', to: 'scheduled' }]);
  });

  it('waits while an upstream is up_for_retry', () => {
    expect(planRun(diamond, states({ a: 'up_for_retry', f: 'success' }))).toEqual([]);
  });

  it('decides a 200-task chain of upstream_failed at once', () => {
    const chain = build(Array.from({ length: 200 }, (_, i) => t(`t${i}`, i ? [`t${i - 1}`] : [])));
    const plan = planRun(chain, states({ t0: 'failed' }));
    expect(plan).toHaveLength(199);
    expect(plan.every((p) => p.to === 'upstream_failed')).toBe(true);
    expect(plan[198]).toEqual({ taskId: 't199', to: 'upstream_failed' });
  });

  it('plans a 2,000-task wide DAG: fan-out then fan-in', () => {
    const middle = Array.from({ length: 2000 }, (_, i) => t(`m${i}`, ['start']));
    const dag = build([t('start'), ...middle, t('end', middle.map((m) => m.id))]);
    const afterStart = planRun(dag, states({ start: 'success' }));
    expect(afterStart).toHaveLength(2000);
    expect(new Set(afterStart.map((p) => p.to))).toEqual(new Set(['scheduled']));

    const allDone = new Map<string, TiState>([['start', 'success'], ...middle.map((m) => [m.id, 'success'] as [string, TiState])]);
    expect(planRun(dag, allDone)).toEqual([{ taskId: 'end', to: 'scheduled' }]);
    allDone.set('m1999', 'failed');
    expect(planRun(dag, allDone)).toEqual([{ taskId: 'end', to: 'upstream_failed' }]);
  });

  it('given what changed since a fixed point, decides exactly what a full pass decides (random DAGs and outcomes)', () => {
    const rules: TriggerRule[] = ['all_success', 'all_failed', 'all_done', 'one_success', 'one_failed', 'none_failed',
      'none_failed_min_one_success', 'none_skipped', 'always'];
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    let compared = 0;
    let decided = 0;
    for (let round = 0; round < 40; round++) {
      const tasks: TaskInput[] = [];
      for (let i = 0; i < 30; i++) {
        const upstream = tasks.filter(() => random() < 0.12).map((x) => x.id);
        tasks.push(t(`t${i}`, upstream, pick(rules)));
      }
      const dag = build(tasks);
      const current = new Map<string, TiState>();
      const settle = () => {
        for (const p of planRun(dag, current)) current.set(p.taskId, p.to);
      };
      settle();
      for (;;) {
        const running = [...current].filter(([, state]) => state === 'scheduled').map(([id]) => id);
        if (running.length === 0) break;
        const changed = running.filter(() => random() < 0.5);
        if (changed.length === 0) changed.push(running[0]);
        for (const id of changed) current.set(id, pick(['success', 'failed', 'skipped'] as const));
        const full = planRun(dag, current);
        expect(planRun(dag, current, changed)).toEqual(full);
        compared++;
        decided += full.length;
        settle();
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(decided).toBeGreaterThan(200);
  });

  it('memoizes the graph per DAG object', () => {
    expect(graphOf(diamond)).toBe(graphOf(diamond));
    expect(graphOf({ ...diamond })).not.toBe(graphOf(diamond));
  });
});

describe('runOutcome', () => {
  it('is running while any task instance is unfinished or missing', () => {
    expect(runOutcome(diamond, new Map())).toBe('running');
    expect(runOutcome(diamond, states({ a: 'success', b: 'success', c: 'success', d: 'success', e: 'success', f: 'up_for_retry' }))).toBe('running');
  });

  it('is success when every leaf ended success-like', () => {
    expect(runOutcome(diamond, states({ a: 'success', b: 'skipped', c: 'success', d: 'skipped', e: 'skipped', f: 'cached' }))).toBe('success');
  });

  it('is failed when a leaf failed or is upstream_failed', () => {
    expect(runOutcome(diamond, states({ a: 'success', b: 'success', c: 'success', d: 'success', e: 'failed', f: 'success' }))).toBe('failed');
    expect(runOutcome(diamond, states({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed', d: 'upstream_failed', e: 'upstream_failed', f: 'success' }))).toBe('failed');
  });

  it('is success when a non-leaf failed but its all_done leaf succeeded', () => {
    const dag = build([t('work'), t('report', ['work'], 'all_done')]);
    expect(runOutcome(dag, states({ work: 'failed', report: 'success' }))).toBe('success');
  });

  it('gives the same answers with a cursor, and moves it to the unfinished task it found', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const all: TiState[] = ['none', 'scheduled', 'queued', 'running', 'up_for_retry', 'success', 'failed', 'skipped', 'upstream_failed'];
    const cursor = { index: 0 };
    let seed = 7;
    const next = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % k);
    for (let round = 0; round < 2000; round++) {
      const s = states(Object.fromEntries(names.map((n) => [n, next(3) === 0 ? all[next(5)] : all[5 + next(4)]])));
      const outcome = runOutcome(diamond, s, cursor);
      expect(outcome).toBe(runOutcome(diamond, s));
      if (outcome === 'running') expect(['success', 'failed', 'skipped', 'upstream_failed']).not.toContain(s.get(diamond.tasks[cursor.index].id));
    }
  });

  it('looks at one task when the one under the cursor is still unfinished', () => {
    const wide = build(Array.from({ length: 1000 }, (_, i) => t(`t${i}`)));
    const held = new Map(wide.tasks.map((task, i) => [task.id, (i < 900 ? 'success' : 'running') as TiState]));
    const cursor = { index: 0 };
    expect(runOutcome(wide, held, cursor)).toBe('running');
    expect(cursor.index).toBe(900);
    let lookups = 0;
    const counting = { get: (id: string) => ((lookups += 1), held.get(id)) };
    expect(runOutcome(wide, counting, cursor)).toBe('running');
    expect(lookups).toBe(1);
  });
});

describe('relativesOf (what a clear or mark with downstream / upstream takes)', () => {
  it('gives the task with its descendants and/or ancestors, in topological order', () => {
    expect(relativesOf(diamond, 'c', {})).toEqual(['c']);
    expect(relativesOf(diamond, 'c', { downstream: true })).toEqual(['c', 'd', 'e']);
    expect(relativesOf(diamond, 'd', { upstream: true })).toEqual(['a', 'b', 'c', 'd']);
    expect(relativesOf(diamond, 'c', { upstream: true, downstream: true })).toEqual(['a', 'c', 'd', 'e']);
  });

  it('takes a task the version lacks alone, and refuses a direction from it', () => {
    expect(relativesOf(diamond, 'gone', {})).toEqual(['gone']);
    expect(() => relativesOf(diamond, 'gone', { upstream: true })).toThrow('DAG "d" has no task "gone"');
  });
});

describe('downstreamOf / descendantsOf', () => {
  it('gives direct downstream tasks', () => {
    expect(downstreamOf(diamond, 'a')).toEqual(['b', 'c']);
    expect(downstreamOf(diamond, 'e')).toEqual([]);
  });

  it('gives transitive downstream tasks in topological order', () => {
    expect(descendantsOf(diamond, ['b'])).toEqual(['d', 'e']);
    expect(descendantsOf(diamond, ['a', 'f'])).toEqual(['b', 'c', 'd', 'e']);
    expect(descendantsOf(diamond, ['a', 'd'])).toEqual(['b', 'c', 'd', 'e']);
  });

  it('throws UnknownTaskError for a task the DAG does not have', () => {
    const err = errorOf<UnknownTaskError>(() => descendantsOf(diamond, ['zzz']));
    expect(err).toBeInstanceOf(UnknownTaskError);
    expect(err.message).toBe('DAG "d" has no task "zzz"');
    expect(err).toMatchObject({ dagId: 'd', taskId: 'zzz' });
    expect(() => downstreamOf(diamond, 'zzz')).toThrow('DAG "d" has no task "zzz"');
  });
});

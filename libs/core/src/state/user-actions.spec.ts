import type { TaskInput } from '../dag/dag-input';
import type { SerializedDag } from '../dag/dag.types';
import { ancestorsOf } from '../dag/graph';
import { validateDag } from '../dag/validate-dag';
import { UnknownTaskError } from '../errors';
import type { TiState } from './states';
import { planCancel, planMark } from './user-actions';

const build = (tasks: TaskInput[]): SerializedDag => validateDag({ id: 'd', tasks }, 'd.ts');
const t = (id: string, upstream: string[] = []): TaskInput => ({ id, command: 'x', upstream });
//   a -> b -> d -> e ; a -> c -> d ; f alone
const diamond = build([t('a'), t('b', ['a']), t('c', ['a']), t('d', ['b', 'c']), t('e', ['d']), t('f')]);
const tis = (states: Record<string, TiState>) => Object.entries(states).map(([taskId, state]) => ({ taskId, state, tryNumber: 1 }));
const brief = (changes: ReturnType<typeof planMark>) => changes.map((c) => `${c.taskId}:${c.from}>${c.to}${c.stopsTry ? '!' : ''}`);

describe('ancestorsOf', () => {
  it('lists every task a task depends on, in topological order', () => {
    expect(ancestorsOf(diamond, ['e'])).toEqual(['a', 'b', 'c', 'd']);
    expect(ancestorsOf(diamond, ['a'])).toEqual([]);
    expect(() => ancestorsOf(diamond, ['nope'])).toThrow(new UnknownTaskError('d', 'nope'));
  });
});

describe('planMark', () => {
  const run = tis({ a: 'success', b: 'failed', c: 'running', d: 'upstream_failed', e: 'upstream_failed', f: 'removed' });

  it('marks the one task, stopping a running try', () => {
    expect(brief(planMark(diamond, run, 'c', 'success', { reason: 'why' }))).toEqual(['c:running>success!']);
    const [change] = planMark(diamond, run, 'b', 'success', { reason: 'marked success by alice' });
    expect(change.step).toEqual({ from: 'failed', to: 'success', tryNumber: 1, reason: 'marked success by alice' });
  });

  it('with downstream, in topological order; what is already in the state is left out', () => {
    expect(brief(planMark(diamond, run, 'b', 'success', { downstream: true, reason: 'why' }))).toEqual([
      'b:failed>success', 'd:upstream_failed>success', 'e:upstream_failed>success',
    ]);
  });

  it('with upstream, the ancestors too', () => {
    expect(brief(planMark(diamond, run, 'd', 'failed', { upstream: true, reason: 'why' }))).toEqual([
      'a:success>failed', 'c:running>failed!', 'd:upstream_failed>failed',
    ]);
  });

  it('never marks a removed task, nor a cached one success', () => {
    expect(planMark(diamond, run, 'f', 'success', { reason: 'why' })).toEqual([]);
    expect(planMark(diamond, tis({ a: 'cached' }), 'a', 'success', { reason: 'why' })).toEqual([]);
    expect(brief(planMark(diamond, tis({ a: 'cached' }), 'a', 'failed', { reason: 'why' }))).toEqual(['a:cached>failed']);
  });

  it('marks tasks not yet run, and queued ones (their try is stopped)', () => {
    const fresh = tis({ a: 'queued', b: 'none', c: 'scheduled', d: 'none', e: 'none', f: 'up_for_retry' });
    expect(brief(planMark(diamond, fresh, 'a', 'success', { downstream: true, reason: 'why' }))).toEqual([
      'a:queued>success!', 'b:none>success', 'c:scheduled>success', 'd:none>success', 'e:none>success',
    ]);
    expect(brief(planMark(diamond, fresh, 'f', 'success', { reason: 'why' }))).toEqual(['f:up_for_retry>success']);
  });
});

describe('planCancel', () => {
  it('fails running tries, skips what has not started, keeps what finished', () => {
    const run = tis({ a: 'success', b: 'running', c: 'queued', d: 'none', e: 'scheduled', f: 'up_for_retry' });
    expect(brief(planCancel(diamond, run, 'run cancelled by alice'))).toEqual([
      'f:up_for_retry>skipped', 'b:running>failed!', 'c:queued>skipped!', 'd:none>skipped', 'e:scheduled>skipped',
    ]);
    expect(planCancel(diamond, tis({ a: 'failed', b: 'upstream_failed', f: 'removed' }), 'x')).toEqual([]);
  });
});

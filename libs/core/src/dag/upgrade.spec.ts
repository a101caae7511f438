import type { TiState } from '../state/states';
import { errorOf } from '../test-support/error-of';
import type { TaskInput } from './dag-input';
import { planRunUpgrade, RunUpgradeError, upgradeChangesTasks } from './upgrade';
import { validateDag } from './validate-dag';

const t = (id: string, upstream: string[] = []): TaskInput => ({ id, command: 'x', upstream });
const v2 = validateDag({ id: 'd', tasks: [t('a'), t('b', ['a']), t('new', ['b'])] }, 'd.ts');
const tis = (entries: Record<string, TiState>) => Object.entries(entries).map(([taskId, state]) => ({ taskId, state }));

describe('planRunUpgrade', () => {
  it('adds new tasks, ends unfinished removed ones, keeps ended states', () => {
    const plan = planRunUpgrade('d', 'r1', v2, 'abcdef0123456789', tis({ a: 'success', b: 'running', old: 'scheduled', older: 'failed' }));
    expect(plan).toEqual({
      added: ['new'],
      kept: [{ taskId: 'a', state: 'success' }, { taskId: 'b', state: 'running' }],
      removed: [{ taskId: 'old', state: 'scheduled' }],
      gone: [{ taskId: 'older', state: 'failed' }],
    });
    expect(upgradeChangesTasks(plan)).toBe(true);
  });

  it('changes nothing when the run already has the same tasks', () => {
    expect(upgradeChangesTasks(planRunUpgrade('d', 'r1', v2, 'h', tis({ a: 'success', b: 'success', new: 'none' })))).toBe(false);
  });

  it('refuses while a task the new version lacks is queued or running', () => {
    const err = errorOf<RunUpgradeError>(() => planRunUpgrade('d', 'r1', v2, 'abcdef0123456789', tis({ a: 'success', b: 'none', old: 'running' })));
    expect(err).toBeInstanceOf(RunUpgradeError);
    expect(err.busy).toEqual([{ taskId: 'old', state: 'running' }]);
    expect(err.message).toBe('run "r1" of DAG "d" cannot move to version abcdef012345: "old" (running) is queued or running and the new version has no such task. ' +
      'Fix: wait for it to end (or stop it with `swarmflow tasks kill`), then upgrade again.');
  });
});

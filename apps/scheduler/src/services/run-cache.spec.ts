import * as taskPattern from '../../../../libs/core/src/patterns/task-pattern';
import type { RunFacts } from './run-cache';
import { RunCache } from './run-cache';

// Counts the force pattern's checks and compilations (checkTaskPattern), as the core calls it.
jest.mock('../../../../libs/core/src/patterns/task-pattern', () => {
  const actual = jest.requireActual('../../../../libs/core/src/patterns/task-pattern');
  return { ...actual, checkTaskPattern: jest.fn(actual.checkTaskPattern) };
});

const facts = (cacheForce: string | null): RunFacts => ({ run: { pk: 1, cacheForce } as RunFacts['run'], dag: {} as RunFacts['dag'] });

describe('RunCache.cacheForced', () => {
  const check = taskPattern.checkTaskPattern as jest.MockedFunction<typeof taskPattern.checkTaskPattern>;
  beforeEach(() => check.mockClear());

  it('checks and compiles a run\'s --force-task pattern once, however many tasks ask', () => {
    const cache = new RunCache({} as never);
    const f = facts('^train|eval$');
    const tasks = Array.from({ length: 50 }, (_, i) => `prep_${i}`).concat(['train_a', 'final_eval', 'train']);
    expect(tasks.filter((t) => cache.cacheForced(f, t))).toEqual(['train_a', 'final_eval', 'train']);
    expect(check).toHaveBeenCalledTimes(1);
    expect(check).toHaveBeenCalledWith('--force-task', '^train|eval$');
    // Another run: its own pattern, compiled once too.
    const g = facts('.*');
    expect(cache.cacheForced(g, 'x') && cache.cacheForced(g, 'y')).toBe(true);
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('a run without a pattern forces nothing and compiles nothing; a pattern the check refuses forces every task', () => {
    const cache = new RunCache({} as never);
    expect(cache.cacheForced(facts(null), 'train')).toBe(false);
    expect(check).not.toHaveBeenCalled();
    const bad = facts('(a+)+$');
    expect([cache.cacheForced(bad, 'train'), cache.cacheForced(bad, 'eval')]).toEqual([true, true]);
    expect(check).toHaveBeenCalledTimes(1);
  });
});

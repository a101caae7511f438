import { checkTaskPattern, MAX_TASK_PATTERN_LENGTH, MAX_TASK_PATTERN_REPETITIONS, TaskPatternError } from './task-pattern';

function problem(pattern: string, flag = '--tasks'): string {
  try {
    checkTaskPattern(flag, pattern);
  } catch (err) {
    expect(err).toBeInstanceOf(TaskPatternError);
    return (err as Error).message;
  }
  throw new Error(`${pattern} was accepted`);
}

describe('checkTaskPattern', () => {
  it.each([
    '^train', 'train|evaluate', '^(train|test)$', 'extract_.*', '^load_[a-z]+_v\\d+$', '(ab)+', '(a?)?', '(train){2}x?',
    '[(+*]+', '\\(a+\\)+', 'a{2,5}b+', '(?:prep|train)_v1', '(x|y)?',
  ])('accepts %j and returns it compiled', (pattern) => {
    expect(checkTaskPattern('--tasks', pattern).source).toBe(new RegExp(pattern).source);
  });

  it.each([
    ['(a+)+$', 'a repetition'],
    ['(a*)*b', 'a repetition'],
    ['^(\\w+\\s?)*$', 'a repetition'],
    ['((ab)+)+', 'a repetition'],
    ['(a|aa)+$', 'an alternation'],
    ['(?:x|xx){2,}', 'an alternation'],
    ['(a{1,3})+', 'a repetition'],
    ['(([a-z])+.)+', 'a repetition'],
  ])('refuses the nested quantifier in %j, naming the flag and a simpler pattern', (pattern, what) => {
    const message = problem(pattern, '--force-task');
    expect(message).toContain(`--force-task ${JSON.stringify(pattern)} repeats a group that itself holds ${what}`);
    expect(message).toContain("Fix: use a simpler pattern, e.g. --force-task '^train'");
  });

  it.each(['[]|(a+)+$', '[^]|(a+)+$', '[]](a+)+', '[^](a*)*b'])(
    'reads %j\'s `[]` / `[^]` as a whole class (no u flag), so what follows is checked too', (pattern) => {
      expect(problem(pattern)).toContain('repeats a group that itself holds a repetition');
    });

  it.each(['a*a*a*a*$', 'a*a*a*a*a*a*$', '\\d+\\d+\\d+\\d+', '.*.*.*.*x', '(a)+(b)+(c)+(d)+', 'a{2,}b{2,}c{2,}d{0,9}'])(
    'refuses %j: more repetitions than the limit, backtracking as a high power of the id\'s length', (pattern) => {
      expect(problem(pattern)).toContain(`holds more than ${MAX_TASK_PATTERN_REPETITIONS} repetitions`);
    });

  it('accepts up to the limit of repetitions', () => {
    expect(() => checkTaskPattern('--tasks', '^load_[a-z]+_v\\d+_.*$')).not.toThrow();
  });

  it('refuses a backreference', () => {
    expect(problem('(a)\\1')).toContain('holds a backreference');
  });

  it('refuses a pattern over the length cap', () => {
    expect(problem('a'.repeat(MAX_TASK_PATTERN_LENGTH + 1))).toContain(`over the limit of ${MAX_TASK_PATTERN_LENGTH}`);
    expect(() => checkTaskPattern('--tasks', 'a'.repeat(MAX_TASK_PATTERN_LENGTH))).not.toThrow();
  });

  it('refuses what is not a regular expression, and the empty pattern', () => {
    expect(problem('train(')).toMatch(/^--tasks "train\(" is not a regular expression \(/);
    expect(problem('')).toContain('is empty');
  });

  it('the refused classic ReDoS shape does backtrack exponentially: what the guard prevents', () => {
    // Not timed: counts the steps of a tiny backtracking matcher of (a+)+$ on "aaa…b".
    const steps = (n: number): number => {
      let count = 0;
      const plus = (s: string, i: number): boolean => {
        // (a+)+$ : one or more groups of one or more "a", then the end.
        for (let j = i + 1; j <= s.length && s[j - 1] === 'a'; j++) {
          count++;
          if (j === s.length || plus(s, j)) return true;
        }
        return false;
      };
      plus(`${'a'.repeat(n)}b`, 0);
      return count;
    };
    expect(steps(16)).toBeGreaterThan(1000 * steps(6));
  });
});

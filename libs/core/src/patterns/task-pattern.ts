/** Longest task-id pattern an operator may give (`--tasks`, `--force-task`): task ids are at most 250 characters. */
export const MAX_TASK_PATTERN_LENGTH = 200;
/**
 * Most repetitions (`*`, `+`, `{n,}`, `{n,m}` with m > 1) a task-id pattern may hold: k of
 * them in a row can backtrack in time growing as the id's length to the k-th power
 * (`a*a*a*a*$` on a 250-character id: ~160 M steps for 4, ~2.6 M for 3).
 */
export const MAX_TASK_PATTERN_REPETITIONS = 3;

/**
 * A task-id pattern an operator gave cannot be used: it is not a regular expression, is too
 * long, or has a shape that can backtrack for an exponential time (`(a+)+`, `(a|aa)*`, `\1`).
 */
export class TaskPatternError extends Error {
  override name = 'TaskPatternError';

  constructor(readonly flag: string, readonly pattern: string, readonly problem: string) {
    super(`${flag} ${JSON.stringify(pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern)} ${problem}. ` +
      `Fix: use a simpler pattern, e.g. ${flag} '^train' or ${flag} 'extract|load' (a repeated group may not itself hold a repetition or an "|").`);
  }
}

const QUANTIFIER_AT = /^(?:[*+]|\{\d*,\d*\}|\{\d+\})/;

/** Whether the quantifier at `rest`'s start repeats (more than once): `*`, `+`, `{n,}`, `{n,m}` with m > 1, `{n}` with n > 1. */
function repeatingQuantifier(rest: string): { repeats: boolean; length: number } | null {
  const m = QUANTIFIER_AT.exec(rest);
  if (!m) return rest.startsWith('?') ? { repeats: false, length: 1 } : null;
  const q = m[0];
  if (q === '*' || q === '+') return { repeats: true, length: 1 };
  const [min, max] = q.slice(1, -1).split(',');
  const upper = max === undefined ? Number(min) : max === '' ? Infinity : Number(max);
  return { repeats: upper > 1, length: q.length };
}

/**
 * Checks a regular expression that operators match against task ids, before it runs: it
 * must compile, be at most {@link MAX_TASK_PATTERN_LENGTH} characters, hold no
 * backreference, and no repeated group (`(…)*`, `(…)+`, `(…){2,}`) that holds a
 * repetition or an alternation — the shapes whose backtracking can grow exponentially
 * with the id's length (ReDoS) — and at most {@link MAX_TASK_PATTERN_REPETITIONS}
 * repetitions in all (more can grow as a high power of it). Conservative: a few harmless
 * patterns are refused too.
 * Returns the compiled expression.
 * @throws TaskPatternError naming `flag`, the problem and a simpler pattern
 */
export function checkTaskPattern(flag: string, pattern: string): RegExp {
  if (pattern.length === 0) throw new TaskPatternError(flag, pattern, 'is empty');
  if (pattern.length > MAX_TASK_PATTERN_LENGTH) {
    throw new TaskPatternError(flag, pattern, `is ${pattern.length} characters long, over the limit of ${MAX_TASK_PATTERN_LENGTH}`);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new TaskPatternError(flag, pattern, `is not a regular expression (${(err as Error).message})`);
  }
  // Each open group: whether it holds a repetition, or an alternation, so far.
  const groups: { repeats: boolean; alternates: boolean }[] = [{ repeats: false, alternates: false }];
  const top = () => groups[groups.length - 1];
  let repetitions = 0;
  const repeated = (): void => {
    if (++repetitions > MAX_TASK_PATTERN_REPETITIONS) {
      throw new TaskPatternError(flag, pattern, `holds more than ${MAX_TASK_PATTERN_REPETITIONS} repetitions (*, +, {n,}), whose backtracking can grow as a high power of the id's length`);
    }
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) {
        throw new TaskPatternError(flag, pattern, 'holds a backreference, which can take exponential time on some task ids');
      }
      i++;
      continue;
    }
    if (c === '[') {
      // A character class is one character: skip to its closing bracket.
      let j = i + 1;
      // Without the u flag `[]` (nothing) and `[^]` (anything) are whole classes: a `]` right
      // after `[` or `[^` closes them (taking it for a literal hid the rest of the pattern).
      if (pattern[j] === '^') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      continue;
    }
    if (c === '(') {
      groups.push({ repeats: false, alternates: false });
      continue;
    }
    if (c === '|') {
      top().alternates = true;
      continue;
    }
    const quantifier = repeatingQuantifier(pattern.slice(i));
    if (c === ')') {
      const group = groups.length > 1 ? groups.pop()! : { repeats: false, alternates: false };
      const after = repeatingQuantifier(pattern.slice(i + 1));
      if (after?.repeats && (group.repeats || group.alternates)) {
        throw new TaskPatternError(flag, pattern, `repeats a group that itself holds ${group.repeats ? 'a repetition' : 'an alternation "|"'} (a nested quantifier), which can take exponential time on some task ids`);
      }
      if (after?.repeats) repeated();
      if (group.repeats || after?.repeats) top().repeats = true;
      if (after) i += after.length;
      continue;
    }
    if (quantifier) {
      if (quantifier.repeats) {
        repeated();
        top().repeats = true;
      }
      i += quantifier.length - 1;
    }
  }
  return regex;
}

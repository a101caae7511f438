import { InvalidTransitionError } from '../errors';
import { assertTransition, canTransition, decideTransition, NEXT } from './state-machine';
import { TI_STATES, type TiState } from './states';

// Written out independently of NEXT: the STYLE.md table plus the documented extra edges.
const ALLOWED = new Set([
  'none>scheduled', 'none>skipped', 'none>upstream_failed', 'none>cached', 'none>removed',
  'scheduled>queued', 'scheduled>none',
  'queued>running', 'queued>scheduled', 'queued>failed',
  'queued>up_for_retry', 'queued>success', 'queued>skipped', // finished applied before started
  'running>success', 'running>failed', 'running>up_for_retry',
  'running>skipped', // skip exit code
  'up_for_retry>scheduled', 'up_for_retry>none', 'up_for_retry>failed',
  'success>none', 'failed>none', 'skipped>none', 'upstream_failed>none', 'removed>none', 'cached>none',
]);

const pairs: [TiState, TiState][] = TI_STATES.flatMap((from) => TI_STATES.map((to) => [from, to] as [TiState, TiState]));

describe('state machine', () => {
  it('has a row for each of the 11 states and nothing else', () => {
    expect(Object.keys(NEXT).sort()).toEqual([...TI_STATES].sort());
    expect(TI_STATES).toHaveLength(11);
  });

  it.each(pairs)('%s -> %s is allowed exactly when listed', (from, to) => {
    const expected = ALLOWED.has(`${from}>${to}`);
    expect(canTransition(from, to)).toBe(expected);
    // A scheduler decision (no event try number) on the same try.
    const decision = decideTransition({ state: from, tryNumber: 1 }, to);
    expect(decision).toBe(from === to ? 'duplicate' : expected ? 'apply' : 'invalid');
    // An event of the current try decides the same; an event of an older try is always stale.
    expect(decideTransition({ state: from, tryNumber: 2 }, to, 2)).toBe(decision);
    expect(decideTransition({ state: from, tryNumber: 2 }, to, 1)).toBe('stale');
  });

  it('lists every allowed edge once', () => {
    const edges = TI_STATES.flatMap((from) => NEXT[from].map((to) => `${from}>${to}`));
    expect(new Set(edges).size).toBe(edges.length);
    expect(new Set(edges)).toEqual(ALLOWED);
  });

  it('never allows a self-transition (those are duplicates)', () => {
    for (const state of TI_STATES) expect(NEXT[state]).not.toContain(state);
  });

  it('treats an event of a try newer than the stored one as invalid', () => {
    expect(decideTransition({ state: 'queued', tryNumber: 1 }, 'running', 2)).toBe('invalid');
  });

  it('recognises a duplicate finished event for the same try', () => {
    expect(decideTransition({ state: 'success', tryNumber: 3 }, 'success', 3)).toBe('duplicate');
  });

  it('recognises a late started event after a retry as stale', () => {
    expect(decideTransition({ state: 'queued', tryNumber: 2 }, 'running', 1)).toBe('stale');
  });

  it('assertTransition throws an error naming the current state and the allowed ones', () => {
    expect(() => assertTransition('success', 'running')).toThrow(
      new InvalidTransitionError('success', 'running', ['none']),
    );
    try {
      assertTransition('up_for_retry', 'running');
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidTransitionError);
      expect((err as InvalidTransitionError).from).toBe('up_for_retry');
      expect((err as InvalidTransitionError).to).toBe('running');
      expect((err as Error).message).toBe(
        'cannot move a task instance from "up_for_retry" to "running": it is "up_for_retry", which may only move to "scheduled", "none", "failed"',
      );
    }
    expect(() => assertTransition('running', 'success')).not.toThrow();
  });
});

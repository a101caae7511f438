import { InvalidTransitionError, TransitionStepsError } from '../errors';
import { assertSteps, assertTransition, canTransition, decideTransition, NEXT, transition, USER_ONLY_EDGES, userTransition } from './state-machine';
import {
  FINISHED_TI_STATES, TI_BUSY, TI_CLEARABLE, TI_ENDED, TI_FINISHED, TI_KILLABLE, TI_STATES, type TiState,
} from './states';

// A user's mark (to success/failed) or a cancelled run's unstarted tries (to skipped): only a user takes these.
const USER_ONLY = [
  'none>success', 'none>failed', 'scheduled>success', 'scheduled>failed', 'scheduled>skipped',
  'up_for_retry>success', 'up_for_retry>skipped', 'success>failed', 'failed>success',
  'skipped>success', 'skipped>failed', 'upstream_failed>success', 'upstream_failed>failed', 'cached>failed',
];

// Written out independently of NEXT: the STYLE.md table plus the documented extra edges.
const ALLOWED = new Set([
  'none>scheduled', 'none>skipped', 'none>upstream_failed', 'none>cached', 'none>removed',
  'scheduled>queued', 'scheduled>none',
  'queued>running', 'queued>scheduled', 'queued>failed',
  'queued>up_for_retry', 'queued>success', 'queued>skipped', // finished applied before started
  'queued>cached', 'running>cached', // a worker confirmed a cache hit (image digest unchanged)
  'running>success', 'running>failed', 'running>up_for_retry',
  'running>skipped', // skip exit code
  'up_for_retry>scheduled', 'up_for_retry>none', 'up_for_retry>failed',
  'success>none', 'failed>none', 'skipped>none', 'upstream_failed>none', 'removed>none', 'cached>none',
  ...USER_ONLY,
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
    // A scheduler decision (no event try number) on the same try; user-only edges are not its to take.
    const decision = decideTransition({ state: from, tryNumber: 1 }, to);
    expect(decision).toBe(from === to ? 'duplicate' : expected && !USER_ONLY.includes(`${from}>${to}`) ? 'apply' : 'invalid');
    // An event of the current try decides the same; an event of an older try is always stale.
    expect(decideTransition({ state: from, tryNumber: 2 }, to, 2)).toBe(decision);
    expect(decideTransition({ state: from, tryNumber: 2 }, to, 1)).toBe('stale');
  });

  it.each(pairs)('the gate: %s -> %s', (from, to) => {
    const expected = ALLOWED.has(`${from}>${to}`);
    const userOnly = USER_ONLY.includes(`${from}>${to}`);
    const nextTry = to === 'queued' ? 3 : 2;
    // A decision, and an event of the current try: the verdict, and on apply the step to record.
    for (const eventTry of [undefined, 2]) {
      const decided = transition({ state: from, tryNumber: 2 }, to, eventTry, 'why');
      if (from === to) expect(decided).toEqual({ verdict: 'duplicate', step: null });
      else if (expected && !userOnly) expect(decided).toEqual({ verdict: 'apply', step: { from, to, tryNumber: nextTry, reason: 'why' } });
      else expect(decided).toEqual({ verdict: 'invalid', step: null });
    }
    // A user's own decision takes every edge of the table, the user-only ones included.
    const byUser = userTransition({ state: from, tryNumber: 2 }, to, 'why');
    if (from === to) expect(byUser).toEqual({ verdict: 'duplicate', step: null });
    else if (expected) expect(byUser).toEqual({ verdict: 'apply', step: { from, to, tryNumber: nextTry, reason: 'why' } });
    else expect(byUser).toEqual({ verdict: 'invalid', step: null });
    // An event of an older try is stale whatever it asks; one of a newer try is invalid.
    expect(transition({ state: from, tryNumber: 2 }, to, 1)).toEqual({ verdict: 'stale', step: null });
    expect(transition({ state: from, tryNumber: 2 }, to, 3)).toEqual({ verdict: 'invalid', step: null });
    // The repository's check on write agrees with the gate, step by step.
    const write = () => assertSteps({ state: from, tryNumber: 2 }, { state: to, tryNumber: nextTry }, [{ from, to, tryNumber: nextTry, reason: null }]);
    if (expected) expect(write).not.toThrow();
    else expect(write).toThrow(from === to ? InvalidTransitionError : new InvalidTransitionError(from, to, NEXT[from]));
  });

  it('checks on write that the steps chain from the old row to the new one', () => {
    const scheduled = { state: 'scheduled' as const, tryNumber: 1 };
    const toQueued = { from: 'scheduled' as const, to: 'queued' as const, tryNumber: 2, reason: null };
    const toFailed = { from: 'queued' as const, to: 'failed' as const, tryNumber: 2, reason: 'template error' };
    expect(() => assertSteps(scheduled, { state: 'failed', tryNumber: 2 }, [toQueued, toFailed])).not.toThrow();
    // A reason-only write: no step, same state and try.
    expect(() => assertSteps(scheduled, scheduled, [])).not.toThrow();
    expect(() => assertSteps(scheduled, { state: 'none', tryNumber: 1 }, [])).toThrow(
      new TransitionStepsError('the steps end at "scheduled" try 1, the write at "none" try 1'),
    );
    expect(() => assertSteps(scheduled, { state: 'failed', tryNumber: 2 }, [toFailed])).toThrow(
      new TransitionStepsError('a step starts from "queued" while the task instance is "scheduled"'),
    );
    expect(() => assertSteps(scheduled, { state: 'queued', tryNumber: 1 }, [{ ...toQueued, tryNumber: 1 }])).toThrow(
      new TransitionStepsError('step scheduled -> queued records try 1, the task instance is at try 2'),
    );
    expect(() => assertSteps({ state: 'running', tryNumber: 1 }, { state: 'running', tryNumber: 2 }, [])).toThrow(TransitionStepsError);
  });

  describe('named groups agree with the table', () => {
    it('finished: left only by a user (clearing it, or marking it)', () => {
      expect(TI_FINISHED).toEqual(new Set(FINISHED_TI_STATES));
      const userOnlyOut = (state: TiState) => NEXT[state].every((to) => to === 'none' || USER_ONLY_EDGES.has(`${state}>${to}`));
      for (const state of TI_STATES) expect(TI_FINISHED.has(state)).toBe(userOnlyOut(state));
    });

    it('user-only edges are edges of the table, and none of them starts a try', () => {
      expect(new Set(USER_ONLY_EDGES)).toEqual(new Set(USER_ONLY));
      for (const edge of USER_ONLY_EDGES) {
        const [from, to] = edge.split('>') as [TiState, TiState];
        expect(canTransition(from, to)).toBe(true);
        expect(['success', 'failed', 'skipped']).toContain(to);
      }
    });

    it('ended: the finished states a try reaches on its own end, and up_for_retry', () => {
      const tryEnds = new Set([...NEXT.running, ...NEXT.queued].filter((s) => s !== 'running' && s !== 'scheduled'));
      expect(TI_ENDED).toEqual(tryEnds);
    });

    it('clearable: every one may move to none; busy and not-yet-run states are not clearable', () => {
      for (const state of TI_CLEARABLE) expect(canTransition(state, 'none')).toBe(true);
      expect([...TI_CLEARABLE].sort()).toEqual([...FINISHED_TI_STATES, 'up_for_retry'].sort());
      for (const state of [...TI_BUSY, 'none', 'scheduled'] as TiState[]) expect(TI_CLEARABLE.has(state)).toBe(false);
    });

    it('busy: the states a worker holds, the ones a try leaves only by its events or a requeue', () => {
      expect([...TI_BUSY].sort()).toEqual(['queued', 'running']);
      for (const state of TI_BUSY) expect(canTransition(state, 'none')).toBe(false);
    });

    it('killable: each may end failed at once or through its worker', () => {
      for (const state of TI_KILLABLE) expect(canTransition(state, 'failed')).toBe(true);
      expect([...TI_KILLABLE].sort()).toEqual(['queued', 'running', 'up_for_retry']);
    });
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
      new InvalidTransitionError('success', 'running', ['none', 'failed']),
    );
    try {
      assertTransition('up_for_retry', 'running');
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidTransitionError);
      expect((err as InvalidTransitionError).from).toBe('up_for_retry');
      expect((err as InvalidTransitionError).to).toBe('running');
      expect((err as Error).message).toBe(
        'cannot move a task instance from "up_for_retry" to "running": it is "up_for_retry", which may only move to "scheduled", "none", "failed", "success", "skipped"',
      );
    }
    expect(() => assertTransition('running', 'success')).not.toThrow();
  });
});

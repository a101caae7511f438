import { InvalidTransitionError, TransitionStepsError } from '../errors';
import type { TiState } from './states';

/**
 * Every allowed task-instance transition, in one place (STYLE.md).
 * S = scheduler decides, W = worker event applied by the scheduler, U = user (clear, kill,
 * mark, cancel a run). Edges marked "U only" are also listed in {@link USER_ONLY_EDGES}:
 * only {@link userTransition} takes them, never a worker's event or a scheduler decision.
 */
export const NEXT: Readonly<Record<TiState, readonly TiState[]>> = {
  none: [
    'scheduled', 'skipped', 'upstream_failed', 'cached', 'removed', // S; U cancels the run (skipped)
    'success', 'failed', // U only: marks it
  ],
  scheduled: [
    'queued', 'none', // S
    'success', 'failed', 'skipped', // U only: marks it, or cancels the run (skipped)
  ],
  queued: [
    'running', 'scheduled', 'failed', // W; S requeues stuck; U kills it before a worker starts it
    'up_for_retry', // W: `finished` (failed, tries left) applied before `started` (lost or reordered event)
    'success', // W: a fast task's `finished` applied before its `started`; U marks it
    'skipped', // W: same, the task exited with its skip exit code; U cancels the run
    'cached', // W: a worker confirmed a cache hit (the image still has the cached try's digest), reported before `started`
  ],
  running: [
    'success', 'failed', 'up_for_retry', // W; S on lost heartbeat; U marks it (and its worker stops the try)
    'skipped', // W: the worker reports the task's skip exit code
    'cached', // W: a worker confirmed a cache hit and ran nothing
  ],
  up_for_retry: [
    'scheduled', 'none', 'failed', // S after backoff; U clears it (runs again now, retries restored), or kills it
    'success', 'skipped', // U only: marks it, or cancels the run (skipped)
  ],
  success: ['none', 'failed'], // U: clears it; U only: marks it failed
  failed: ['none', 'success'], // U: clears it; U only: marks it success
  skipped: ['none', 'success', 'failed'], // U: clears it; U only: marks it
  upstream_failed: ['none', 'success', 'failed'], // U: clears it; U only: marks it
  removed: ['none'], // U: clears it (a removed task is not in the DAG version: nothing to mark)
  cached: ['none', 'failed'], // U: clears it; U only: marks it failed (it already counts as a success)
};

/**
 * The edges of {@link NEXT} only a user takes: marking a task instance success or failed,
 * or ending what a cancelled run had not started. A worker's late event (the end of a try a
 * user marked) or a scheduler decision asking one of them gets `invalid`: a mark is final.
 */
export const USER_ONLY_EDGES: ReadonlySet<string> = new Set([
  'none>success', 'none>failed',
  'scheduled>success', 'scheduled>failed', 'scheduled>skipped',
  'up_for_retry>success', 'up_for_retry>skipped',
  'success>failed', 'failed>success',
  'skipped>success', 'skipped>failed',
  'upstream_failed>success', 'upstream_failed>failed',
  'cached>failed',
]);

function userOnly(from: TiState, to: TiState): boolean {
  return USER_ONLY_EDGES.has(`${from}>${to}`);
}

/** True when `from -> to` is an edge of {@link NEXT}. */
export function canTransition(from: TiState, to: TiState): boolean {
  return NEXT[from].includes(to);
}

/** One step of a task instance's history: `from -> to` at try `tryNumber` (the try it is at after the step). */
export interface TiStep {
  from: TiState;
  to: TiState;
  tryNumber: number;
  reason: string | null;
}

/**
 * How to treat a requested transition, without throwing for expected cases:
 * - `stale`: the event belongs to an older try (`eventTry < current.tryNumber`): ignore, ack.
 * - `duplicate`: the instance is already in `to` for that try: a harmless no-op, ack.
 * - `apply`: the edge is in {@link NEXT}: write it (compare-and-set on state and try number).
 * - `invalid`: anything else, including an event of a try newer than the stored one.
 */
export type TransitionVerdict = 'apply' | 'duplicate' | 'stale' | 'invalid';

export type TransitionDecision =
  | { verdict: 'apply'; step: TiStep }
  | { verdict: Exclude<TransitionVerdict, 'apply'>; step: null };

/**
 * The one gate for a task instance's state changes: every writer (the scheduler applying a
 * worker's event or deciding, a user's clear or kill) asks it, and writes only on `apply`,
 * recording the returned step (entering `queued` starts the next try, so its step carries
 * `tryNumber + 1`). The repository checks the same table again on write
 * ({@link assertSteps}) and compare-and-sets on (state, try number).
 *
 * @param current the state and try as last read (or as this batch left them)
 * @param eventTry the try number of the worker event asking; omitted for scheduler and user decisions
 * @param reason the history row's reason
 */
export function transition(
  current: { state: TiState; tryNumber: number }, to: TiState, eventTry?: number, reason: string | null = null,
): TransitionDecision {
  return decide(current, to, eventTry, reason, false);
}

/**
 * The gate for a user's own decision (mark success/failed, cancel a run, clear, kill): as
 * {@link transition} for a decision, and also takes the {@link USER_ONLY_EDGES}.
 */
export function userTransition(
  current: { state: TiState; tryNumber: number }, to: TiState, reason: string | null = null,
): TransitionDecision {
  return decide(current, to, undefined, reason, true);
}

function decide(
  current: { state: TiState; tryNumber: number }, to: TiState, eventTry: number | undefined, reason: string | null, byUser: boolean,
): TransitionDecision {
  const verdict = verdictOf(current, to, eventTry, byUser);
  if (verdict !== 'apply') return { verdict, step: null };
  const tryNumber = to === 'queued' ? current.tryNumber + 1 : current.tryNumber;
  return { verdict, step: { from: current.state, to, tryNumber, reason } };
}

function verdictOf(current: { state: TiState; tryNumber: number }, to: TiState, eventTry: number | undefined, byUser = false): TransitionVerdict {
  if (eventTry !== undefined && eventTry < current.tryNumber) return 'stale';
  if (eventTry !== undefined && eventTry > current.tryNumber) return 'invalid';
  if (current.state === to) return 'duplicate';
  if (!byUser && userOnly(current.state, to)) return 'invalid';
  return canTransition(current.state, to) ? 'apply' : 'invalid';
}

/** The verdict of {@link transition} alone. */
export function decideTransition(
  current: { state: TiState; tryNumber: number }, to: TiState, eventTryNumber?: number,
): TransitionVerdict {
  return verdictOf(current, to, eventTryNumber);
}

/** Throws {@link InvalidTransitionError} (naming the current state) unless `from -> to` is allowed. */
export function assertTransition(from: TiState, to: TiState): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to, NEXT[from]);
}

/**
 * What a repository checks before it writes a task instance: its recorded `steps` lead from
 * `before` to `after` one edge of {@link NEXT} at a time (each step from where the last one
 * left it, the try number raised only by entering `queued`); no steps means the state and
 * try stay as they are (a reason-only write).
 * @throws InvalidTransitionError for an edge not in the table, TransitionStepsError for steps that do not chain
 */
export function assertSteps(
  before: { state: TiState; tryNumber: number }, after: { state: TiState; tryNumber: number }, steps: readonly TiStep[],
): void {
  let state = before.state;
  let tryNumber = before.tryNumber;
  for (const step of steps) {
    if (step.from !== state) throw new TransitionStepsError(`a step starts from "${step.from}" while the task instance is "${state}"`);
    assertTransition(step.from, step.to);
    tryNumber = step.to === 'queued' ? tryNumber + 1 : tryNumber;
    if (step.tryNumber !== tryNumber) throw new TransitionStepsError(`step ${step.from} -> ${step.to} records try ${step.tryNumber}, the task instance is at try ${tryNumber}`);
    state = step.to;
  }
  if (state !== after.state || tryNumber !== after.tryNumber) {
    throw new TransitionStepsError(`the steps end at "${state}" try ${tryNumber}, the write at "${after.state}" try ${after.tryNumber}`);
  }
}

import { InvalidTransitionError } from '../errors';
import type { TiState } from './states';

/**
 * Every allowed task-instance transition, in one place (STYLE.md).
 * S = scheduler decides, W = worker event applied by the scheduler, U = user clears.
 */
export const NEXT: Readonly<Record<TiState, readonly TiState[]>> = {
  none: ['scheduled', 'skipped', 'upstream_failed', 'cached', 'removed'], // S
  scheduled: ['queued', 'none'], // S
  queued: [
    'running', 'scheduled', 'failed', // W; S requeues stuck; U kills it before a worker starts it
    'up_for_retry', // W: `finished` (failed, tries left) applied before `started` (lost or reordered event)
    'success', // W: a fast task's `finished` applied before its `started`
    'skipped', // W: same, the task exited with its skip exit code
  ],
  running: [
    'success', 'failed', 'up_for_retry', // W; S on lost heartbeat
    'skipped', // W: the worker reports the task's skip exit code
  ],
  up_for_retry: ['scheduled', 'none', 'failed'], // S after backoff; U clears it (runs again now, retries restored), or kills it
  success: ['none'], // U
  failed: ['none'], // U
  skipped: ['none'], // U
  upstream_failed: ['none'], // U
  removed: ['none'], // U
  cached: ['none'], // U
};

/** True when `from -> to` is an edge of {@link NEXT}. */
export function canTransition(from: TiState, to: TiState): boolean {
  return NEXT[from].includes(to);
}

/**
 * How to treat a requested transition of a task instance, without throwing for expected cases:
 * - `stale`: the event belongs to an older try (`eventTryNumber < current.tryNumber`): ignore, ack.
 * - `duplicate`: the instance is already in `to` for that try: a harmless no-op, ack.
 * - `apply`: the edge is in {@link NEXT}: write it (compare-and-set on state and try number).
 * - `invalid`: anything else, including an event of a try newer than the stored one.
 *
 * `eventTryNumber` is omitted for scheduler/user decisions that are not tied to a worker event.
 */
export function decideTransition(
  current: { state: TiState; tryNumber: number },
  to: TiState,
  eventTryNumber?: number,
): 'apply' | 'duplicate' | 'stale' | 'invalid' {
  if (eventTryNumber !== undefined && eventTryNumber < current.tryNumber) return 'stale';
  if (eventTryNumber !== undefined && eventTryNumber > current.tryNumber) return 'invalid';
  if (current.state === to) return 'duplicate';
  return canTransition(current.state, to) ? 'apply' : 'invalid';
}

/** Throws {@link InvalidTransitionError} (naming the current state) unless `from -> to` is allowed. */
export function assertTransition(from: TiState, to: TiState): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to, NEXT[from]);
}

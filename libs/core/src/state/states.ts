/** Task instance states (DESIGN.md). S = scheduler decides, W = worker event applied by the scheduler, U = user. */
export type TiState =
  | 'none' //            created with the run, not yet evaluated (or cleared by a user: U)
  | 'scheduled' //       dependencies met, waiting for a pool slot / concurrency (S)
  | 'queued' //          published to the broker, waiting for a worker (S)
  | 'running' //         a worker started it (W)
  | 'success' //         exit code 0 (W)
  | 'failed' //          non-zero exit, timeout, lost worker with no tries left (W, or S)
  | 'up_for_retry' //    failed with tries left, waits for its retry delay (W, or S on lost heartbeat)
  | 'skipped' //         skip exit code, or its trigger rule says skip (W or S)
  | 'upstream_failed' // its trigger rule can no longer be met because upstreams failed (S)
  | 'removed' //         the task no longer exists in the DAG version (S)
  | 'cached'; //         skipped because an identical try already succeeded (S; W when a worker confirmed the image's digest)

export const TI_STATES: readonly TiState[] = [
  'none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry',
  'skipped', 'upstream_failed', 'removed', 'cached',
];

// Named groups of states, beside the states (as Airflow's state.py keeps `finished` and
// `unfinished`). Writers ask these instead of listing states; a unit test holds each group
// to the transition table (NEXT).

/** States a task instance does not leave without a user clearing it. */
export const FINISHED_TI_STATES: readonly TiState[] = [
  'success', 'failed', 'skipped', 'upstream_failed', 'removed', 'cached',
];

/** The finished states, as a set. */
export const TI_FINISHED: ReadonlySet<TiState> = new Set(FINISHED_TI_STATES);

/**
 * Its try has reported its end (up_for_retry: a failed try waiting for the next one; cached: a
 * worker confirmed a cache hit, or the scheduler found one before any try): a later
 * `task.started` or `task.finished` of the same try is a redelivery or a second copy.
 */
export const TI_ENDED: ReadonlySet<TiState> = new Set<TiState>(['success', 'failed', 'skipped', 'up_for_retry', 'cached']);

/** A user may clear it (runs again, with fresh retries): the finished states and up_for_retry, as in Airflow. */
export const TI_CLEARABLE: ReadonlySet<TiState> = new Set<TiState>([...FINISHED_TI_STATES, 'up_for_retry']);

/**
 * A worker holds it or is about to: it takes a pool slot and counts toward max_active_tasks;
 * a clear would race its worker's events.
 */
export const TI_BUSY: ReadonlySet<TiState> = new Set<TiState>(['queued', 'running']);

/** A user may kill its try: a busy one, or one waiting for its retry delay. */
export const TI_KILLABLE: ReadonlySet<TiState> = new Set<TiState>([...TI_BUSY, 'up_for_retry']);

/** DAG run states. */
export type DagRunState =
  | 'queued' //  created, waiting for max_active_runs (S)
  | 'running' // its task instances are being scheduled (S)
  | 'success' // every leaf ended in a success-like state (S)
  | 'failed'; // some leaf failed or upstream_failed (S)

export type RunType = 'scheduled' | 'manual' | 'backfill';

/**
 * The reason of a task instance held `scheduled` because its DAG is paused: a paused DAG's
 * runs queue nothing (as in Airflow), while its running tries go on to their end.
 */
export function pausedReason(dagId: string): string {
  return `waiting: DAG "${dagId}" is paused: unpause it with \`swarmflow dags unpause ${dagId}\``;
}

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
  | 'cached'; //         skipped because an identical try already succeeded (S)

export const TI_STATES: readonly TiState[] = [
  'none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry',
  'skipped', 'upstream_failed', 'removed', 'cached',
];

/** States a task instance does not leave without a user clearing it. */
export const FINISHED_TI_STATES: readonly TiState[] = [
  'success', 'failed', 'skipped', 'upstream_failed', 'removed', 'cached',
];

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

import type { TiState } from '@swarmflow/core';

/**
 * The answers of the task and run actions (`…/tasks/:taskId/clear|mark|kill`,
 * `…/runs/:runId/cancel`), shared by the webserver, the CLI and the UI.
 */

export interface KillResultDto {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  /** The worker told to stop it, "all workers" while it was still queued, or "nobody" while it waited for a retry. */
  sentTo: string;
  /** The try ended `failed` at once (it was queued or waiting for a retry); otherwise its worker reports its end. */
  ended: boolean;
}

export interface ClearResultDto {
  dagId: string;
  runId: string;
  /** Task ids moved back to `none` (on a dry run: that would be), in topological order. */
  cleared: string[];
  /** Set on a dry run: nothing was written. */
  dryRun?: true;
  /** Dry run: the instances a clear would reset, with their current state and try. */
  taskInstances?: { taskId: string; state: TiState; tryNumber: number }[];
  /** Dry run: queued or running instances among them; the clear is refused (409) until they end. */
  busy?: { taskId: string; state: TiState }[];
}

/** One task instance a mark or a cancel changes (or, on a dry run, would). */
export interface TaskChangeDto {
  taskId: string;
  from: TiState;
  to: TiState;
  tryNumber: number;
}

/** A try a worker held: who was told to stop it (its worker, or `all workers` while queued). */
export interface StoppedTryDto {
  taskId: string;
  tryNumber: number;
  sentTo: string;
}

export interface MarkResultDto {
  dagId: string;
  runId: string;
  taskId: string;
  state: 'success' | 'failed';
  dryRun: boolean;
  /** In topological order; empty when everything already was in that state. */
  changes: TaskChangeDto[];
  stopped: StoppedTryDto[];
}

export interface CancelRunResultDto {
  dagId: string;
  runId: string;
  state: 'failed';
  /** `cancelled by <user>` */
  reason: string;
  changes: TaskChangeDto[];
  stopped: StoppedTryDto[];
}

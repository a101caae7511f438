// Response bodies of the backfill, DAG version and run upgrade routes (the CLI imports them).
import type { BackfillAction, BackfillState, DagRunState, TiState } from '@swarmflow/core';
import type { RunDto } from './api.types';

/** One logical date of a backfill: what it does there, and (once it exists) the run. */
export interface BackfillDateDto {
  logicalDate: string;
  action: BackfillAction;
  runId: string;
  /** With `rerun`: the failed tasks cleared to run again. */
  rerun: string[];
  /** The run's state now; null in a dry run of a date without a run. */
  state: DagRunState | null;
}

export interface BackfillDto {
  /** Null in a dry run (nothing was stored). */
  id: number | null;
  dagId: string;
  from: string;
  to: string;
  tasks: string | null;
  ignoreDependencies: boolean;
  rerunFailed: boolean;
  maxActiveRuns: number;
  state: BackfillState;
  dryRun: boolean;
  /** True when the request resumed an unfinished backfill with the same arguments instead of creating one. */
  resumed: boolean;
  /** The tasks its new runs run; the others end `removed` in them. */
  selectedTasks: string[];
  removedTasks: string[];
  /** Runs per state, and how many dates have no run yet. */
  counts: Record<DagRunState, number>;
  createdAt: string | null;
  dates: BackfillDateDto[];
}

export interface DagVersionDto {
  hash: string;
  firstSeenAt: string;
  fileloc: string;
  taskCount: number;
  /** The version new runs get. */
  latest: boolean;
}

export interface RunUpgradeDto {
  dagId: string;
  runId: string;
  from: string;
  to: string;
  dryRun: boolean;
  /** New tasks: created, they run when their upstreams allow. */
  added: string[];
  /** Tasks the new version lacks that had not ended: they end `removed`. */
  removed: { taskId: string; state: TiState }[];
  /** Tasks in both versions, with their state (an ended one keeps it). */
  kept: { taskId: string; state: TiState }[];
  /** Tasks the new version lacks that had ended: they keep their state. */
  gone: { taskId: string; state: TiState }[];
  run: RunDto;
}

/** What one task try stored under its artefacts prefix. */
export interface TaskArtifactsDto {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  /** The try's prefix (what the task got as SWARMFLOW_ARTIFACTS_URL); for a `cached` task, its source try's. */
  url: string;
  /** A `cached` task instance wrote nothing: the try it was cached from, whose prefix `url` and `artifacts` are; else null. */
  cachedFrom: { dagId: string; runId: string; taskId: string; tryNumber: number } | null;
  artifacts: { name: string; size: number; modifiedAt: string; url: string }[];
}

// The REST API's response shapes (JSON: camelCase fields, dates as ISO 8601 strings).
// The CLI's client imports these types, so the two cannot drift apart.
import type { DagRunState, ParamSpec, RetryBackoff, RunType, TiState, TriggerRule } from '@swarmflow/core';

/** Every error response: `reason` is stable and machine-readable, `message` is for people. */
export interface ApiErrorBody {
  reason: string;
  message: string;
  /** The request field at fault (`conf.epochs`, `runId`), when there is one. */
  field?: string;
}

export interface RunRefDto {
  runId: string;
  state: DagRunState;
  logicalDate: string;
}

export interface DagSummaryDto {
  dagId: string;
  fileloc: string;
  isPaused: boolean;
  isActive: boolean;
  schedule: string | null;
  latestVersion: string;
  tags: string[];
  description: string | null;
  /** The most recently created run. */
  lastRun: RunRefDto | null;
  /** The next cron time after now (for display); null for a manual DAG or a paused one. */
  nextRun: string | null;
}

export interface TaskSpecDto {
  taskId: string;
  kind: 'process';
  command: string | string[];
  env: Record<string, string>;
  cwd: string | null;
  upstream: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryBackoff: RetryBackoff;
  maxRetryDelayMs: number;
  timeoutMs: number | null;
  queue: string;
  priority: number;
  pool: string;
  poolSlots: number;
  skipExitCode: number | null;
}

export interface DagDetailDto extends DagSummaryDto {
  catchup: boolean;
  startDate: string | null;
  maxActiveRuns: number;
  maxActiveTasks: number;
  params: Record<string, ParamSpec>;
  /** From the DAG's latest version. */
  tasks: TaskSpecDto[];
}

export interface RunDto {
  dagId: string;
  runId: string;
  runType: RunType;
  state: DagRunState;
  logicalDate: string;
  conf: Record<string, unknown>;
  params: Record<string, unknown>;
  versionHash: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export interface TaskInstanceDto {
  taskId: string;
  state: TiState;
  tryNumber: number;
  maxTries: number;
  queue: string;
  pool: string;
  worker: string | null;
  hostname: string | null;
  exitCode: number | null;
  reason: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  nextRetryAt: string | null;
}

export interface RunDetailDto extends RunDto {
  taskInstances: TaskInstanceDto[];
}

export interface TiHistoryEntryDto {
  tryNumber: number;
  from: TiState;
  to: TiState;
  reason: string | null;
  at: string;
}

export interface TaskInstanceDetailDto extends TaskInstanceDto {
  dagId: string;
  runId: string;
  history: TiHistoryEntryDto[];
}

export interface LogLineDto {
  at: string;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

export interface TaskLogsDto {
  tryNumber: number;
  lines: LogLineDto[];
  /** Pass it back as `cursor` to get only the lines written since. */
  cursor: number;
  /** No more lines will come for this try: it is not queued or running (a later try exists, or it ended). */
  finished: boolean;
}

export interface ClearResultDto {
  dagId: string;
  runId: string;
  /** Task ids moved back to `none`, in topological order. */
  cleared: string[];
}

export interface ImportErrorDto {
  fileloc: string;
  message: string;
  at: string;
}

export interface WorkerDto {
  name: string;
  hostname: string;
  queues: string[];
  concurrency: number;
  state: string;
  running: { tiId: number; tryNumber: number }[];
  firstSeenAt: string;
  lastHeartbeatAt: string;
}

export interface PoolDto {
  name: string;
  slots: number;
  description: string;
}

export interface HealthDto {
  status: 'ok';
}

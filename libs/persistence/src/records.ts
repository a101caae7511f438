import type { DagRunState, RunType, SerializedDag, TiState, TiStep } from '@swarmflow/core';

/** A DAG as the metadata database knows it. */
export interface DagRecord {
  dagId: string;
  fileloc: string;
  isPaused: boolean;
  isActive: boolean;
  latestVersion: string;
  schedule: string | null;
  lastScheduledDate: Date | null;
  firstSeenAt: Date;
  lastParsedAt: Date;
}

export interface DagRun {
  /** Database key. */
  pk: number;
  dagId: string;
  runId: string;
  versionHash: string;
  runType: RunType;
  state: DagRunState;
  logicalDate: Date;
  conf: Record<string, unknown>;
  params: Record<string, unknown>;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Why it ended when its tasks did not decide it (`cancelled by alice`); null otherwise. */
  reason: string | null;
  /** Tasks whose id matches this pattern run although a cached try exists (`dags trigger --force`/`--force-task`); null = none. */
  cacheForce: string | null;
}

export interface TaskInstance {
  id: number;
  runPk: number;
  dagId: string;
  taskId: string;
  state: TiState;
  tryNumber: number;
  maxTries: number;
  queue: string;
  pool: string;
  poolSlots: number;
  priority: number;
  worker: string | null;
  hostname: string | null;
  pid: number | null;
  exitCode: number | null;
  reason: string | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
  nextRetryAt: Date | null;
}

/** What a try ran on and how it exited, as a task instance holds them (its latest try's). */
export type TryFacts = Pick<TaskInstance, 'worker' | 'hostname' | 'pid' | 'exitCode'>;

/** The {@link TryFacts} of a task instance. */
export function tryFacts(ti: TryFacts): TryFacts {
  return { worker: ti.worker, hostname: ti.hostname, pid: ti.pid, exitCode: ti.exitCode };
}

/**
 * A step as its history row records it: the core's step, and what the instance ran on and
 * exited with right after it (`ran`). Without `ran` the row takes the write's `after`: set it
 * on a step that a later step of the same write changes the facts of (a started step folded
 * with the try's end; a try's end folded with the next try's dispatch, which clears them).
 */
export interface TiHistoryStep extends TiStep {
  ran?: TryFacts;
}

/**
 * One compare-and-set write of a task instance: applied only if the row is still in
 * `before.state` at `before.tryNumber`; `steps` are the history rows it records
 * (several when one batch folds e.g. started + finished).
 */
export interface TiTransition {
  before: TaskInstance;
  after: TaskInstance;
  steps: TiHistoryStep[];
}

export interface ImportError {
  fileloc: string;
  message: string;
  at: Date;
}

export interface WorkerRecord {
  name: string;
  hostname: string;
  queues: string[];
  concurrency: number;
  /** GPUs it can hand to container tasks. */
  gpus: number;
  /** `active`, `draining`, `stopping`, `stopped`: as its last heartbeat said; `lost`: silent too long, set by the scheduler. */
  state: string;
  /** Tries running on it, as its last heartbeat listed them; [] once it is `lost`. */
  running: { tiId: number; tryNumber: number }[];
  /** Tries it finished since it started, and how many of them failed (0 from workers that do not say). */
  processed: number;
  failed: number;
  /** When the worker process started (the scheduler's receipt time minus the reported uptime); null when not reported. */
  startedAt: Date | null;
  /** Its Swarmflow version; null when not reported. */
  version: string | null;
  /** Task messages it holds unacked, per queue topic. */
  unacked: Record<string, number>;
  firstSeenAt: Date;
  lastHeartbeatAt: Date;
}

export interface LogLine {
  at: string;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

export type { SerializedDag };

import type { TaskMessage, TaskOutcome } from '@swarmflow/core';
import type { ProcessResult } from '@swarmflow/executors';

/** What the worker reports for one ended try; the scheduler decides about retries. */
export interface TaskVerdict {
  outcome: TaskOutcome;
  /** Why it failed when the exit code alone does not say; null otherwise. */
  reason: string | null;
}

/**
 * A confirmed cache hit (nothing ran) → success; exit 0 → success; exit == skipExitCode → skipped; anything else → failed. A timeout,
 * a cancel, a spawn error or a lost process is a failure whatever the exit code, with its
 * reason (the scheduler retries it if the task has tries left).
 */
export function taskVerdict(
  result: ProcessResult & { cacheHit?: true },
  task: Pick<TaskMessage, 'skipExitCode' | 'timeoutMs'>,
  cancelReason: string | null,
): TaskVerdict {
  if (result.cacheHit && result.error === null) return { outcome: 'success', reason: null };
  if (result.error !== null) return { outcome: 'failed', reason: result.error };
  if (result.lost !== null) return { outcome: 'failed', reason: result.lost };
  if (result.timedOut) return { outcome: 'failed', reason: `timeout after ${formatSeconds(task.timeoutMs ?? 0)}` };
  if (result.cancelled) return { outcome: 'failed', reason: cancelReason ?? 'cancelled' };
  if (result.exitCode === 0) return { outcome: 'success', reason: null };
  if (result.exitCode !== null && result.exitCode === task.skipExitCode) return { outcome: 'skipped', reason: null };
  if (result.signal !== null) return { outcome: 'failed', reason: `killed by ${result.signal}` };
  return { outcome: 'failed', reason: null };
}

/** `300` → `0.3s`, `7200000` → `7200s`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** The task's own environment plus the SWARMFLOW_* variables that tell it who it is, and `extra` (the worker's: artefacts, output file) over them. */
export function taskEnv(task: TaskMessage, extra?: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {
    ...task.env,
    SWARMFLOW_DAG_ID: task.dagId,
    SWARMFLOW_RUN_ID: task.runId,
    SWARMFLOW_TASK_ID: task.taskId,
    SWARMFLOW_TRY_NUMBER: String(task.tryNumber),
    SWARMFLOW_TI_ID: String(task.tiId),
  };
  // Added to the object above, not spread into a new one: one object a try (the worker's hot path).
  if (extra) for (const k in extra) env[k] = extra[k];
  return env;
}

/** The 'system' log line that closes a try (the worker adds the verdict's reason). */
export function describeEnd(result: ProcessResult, elapsedMs: number): string {
  const after = `after ${formatSeconds(elapsedMs)}`;
  if (result.error !== null) return `could not start: ${result.error}`;
  if (result.lost !== null) return `the task's process was lost ${after}, its end unknown`;
  if (result.exitCode !== null) return `exited with code ${result.exitCode} ${after}`;
  return `ended by signal ${result.signal ?? 'unknown'} ${after}`;
}

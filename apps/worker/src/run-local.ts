import type { TaskMessage, TaskOutcome } from '@swarmflow/core';
import { runProcess } from '@swarmflow/executors';
import { describeEnd, taskEnv, taskVerdict } from './task-outcome';

export interface LocalRunResult {
  exitCode: number | null;
  outcome: TaskOutcome;
  /** Why it failed when the exit code does not say (timeout, spawn error); null otherwise. */
  reason: string | null;
}

/**
 * Runs one task in the foreground exactly as a worker would (same env, cwd, timeout and
 * outcome rules) but without broker or state: for `swarmflow tasks test`. Output lines go
 * to `out` as they come (stderr too); the worker's own lines start with `[swarmflow] `.
 */
export async function runTaskLocally(
  message: TaskMessage,
  out: (line: string) => void,
  options: { graceMs?: number } = {},
): Promise<LocalRunResult> {
  const startedAt = Date.now();
  const result = await runProcess({
    command: message.command,
    env: taskEnv(message),
    cwd: message.cwd,
    timeoutMs: message.timeoutMs,
    graceMs: options.graceMs,
    onLine: (_stream, line) => out(line),
    onKill: (signal, cause) => out(`[swarmflow] ${cause}: ${signal} sent to the process group`),
  }).result;
  const verdict = taskVerdict(result, message, null);
  out(`[swarmflow] ${describeEnd(result, Date.now() - startedAt)}: ${verdict.outcome}${verdict.reason ? ` (${verdict.reason})` : ''}`);
  return { exitCode: result.exitCode, outcome: verdict.outcome, reason: verdict.reason };
}

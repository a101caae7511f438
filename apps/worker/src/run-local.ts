import type { TaskMessage, TaskOutcome } from '@swarmflow/core';
import { defaultDockerExecutor, runProcess, taskLabels, type DockerExecutor, type ProcessResult } from '@swarmflow/executors';
import { hostname } from 'node:os';
import { describeEnd, taskEnv, taskVerdict } from './task-outcome';

export interface LocalRunResult {
  exitCode: number | null;
  outcome: TaskOutcome;
  /** Why it failed when the exit code does not say (timeout, spawn error); null otherwise. */
  reason: string | null;
}

/**
 * Runs one task in the foreground exactly as a worker would (same env, cwd, timeout and
 * outcome rules; a container task in a container) but without broker or state: for
 * `swarmflow tasks test`. Output lines go to `out` as they come (stderr too); the
 * worker's own lines start with `[swarmflow] `. A container task's sealed secrets are
 * not decrypted here: it runs without them.
 */
export async function runTaskLocally(
  message: TaskMessage,
  out: (line: string) => void,
  options: { graceMs?: number; docker?: DockerExecutor } = {},
): Promise<LocalRunResult> {
  const startedAt = Date.now();
  let result: ProcessResult;
  if (message.kind === 'docker' && message.docker) {
    result = await (options.docker ?? defaultDockerExecutor()).run({
      docker: message.docker, command: message.command, env: taskEnv(message), cwd: message.cwd, timeoutMs: message.timeoutMs,
      graceMs: options.graceMs, gpuIds: message.docker.gpus > 0 ? Array.from({ length: message.docker.gpus }, (_, i) => String(i)) : [],
      labels: taskLabels({
        worker: `local-${hostname()}-${process.pid}`, tiId: message.tiId, tryNumber: message.tryNumber,
        dagId: message.dagId, runId: message.runId, taskId: message.taskId,
      }),
    }, {
      onLine: (_stream, line) => out(line),
      onKill: (signal, cause) => out(`[swarmflow] ${cause}: ${signal} sent to the container`),
      onStatus: (text) => out(`[swarmflow] ${text}`),
    }).result;
  } else {
    result = await runProcess({
      command: message.command,
      env: taskEnv(message),
      cwd: message.cwd,
      timeoutMs: message.timeoutMs,
      graceMs: options.graceMs,
      onLine: (_stream, line) => out(line),
      onKill: (signal, cause) => out(`[swarmflow] ${cause}: ${signal} sent to the process group`),
    }).result;
  }
  const verdict = taskVerdict(result, message, null);
  out(`[swarmflow] ${describeEnd(result, Date.now() - startedAt)}: ${verdict.outcome}${verdict.reason ? ` (${verdict.reason})` : ''}`);
  return { exitCode: result.exitCode, outcome: verdict.outcome, reason: verdict.reason };
}

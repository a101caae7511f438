import type { TaskSpec } from '../dag/dag.types';

/**
 * Delay before the next try, after try `tryNumber` (1-based) failed.
 * `fixed`: `retryDelayMs`; `exponential`: `retryDelayMs * 2^(tryNumber-1)`, capped at
 * `maxRetryDelayMs`.
 */
export function retryDelayMs(
  task: Pick<TaskSpec, 'retryDelayMs' | 'retryBackoff' | 'maxRetryDelayMs'>,
  tryNumber: number,
): number {
  if (task.retryBackoff === 'fixed') return task.retryDelayMs;
  if (task.retryDelayMs <= 0) return 0; // 0 * 2^1100 would be NaN
  const exponent = Math.max(0, tryNumber - 1);
  // 2^1100 is Infinity, which Math.min caps like any other large delay.
  return Math.min(task.retryDelayMs * 2 ** exponent, task.maxRetryDelayMs);
}

/**
 * What a failed try leads to: `up_for_retry` while `tryNumber <= retries` (retries = 2
 * allows tries 1, 2 and 3), else `failed`.
 */
export function afterFailure(task: Pick<TaskSpec, 'retries'>, tryNumber: number): 'up_for_retry' | 'failed' {
  return tryNumber <= task.retries ? 'up_for_retry' : 'failed';
}

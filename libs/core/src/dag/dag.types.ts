/** How a task decides to run from the states of its direct upstream tasks (Airflow's semantics). */
export type TriggerRule =
  | 'all_success'
  | 'all_failed'
  | 'all_done'
  | 'one_success'
  | 'one_failed'
  | 'none_failed'
  | 'none_failed_min_one_success'
  | 'none_skipped'
  | 'always';

export const TRIGGER_RULES: readonly TriggerRule[] = [
  'all_success', 'all_failed', 'all_done', 'one_success', 'one_failed',
  'none_failed', 'none_failed_min_one_success', 'none_skipped', 'always',
];

export type RetryBackoff = 'fixed' | 'exponential';

/** A DAG parameter, a subset of JSON Schema: a trigger's conf is validated against it. */
export interface ParamSpec {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  default?: unknown;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

/**
 * One task of a serialized DAG, every default resolved: what the scheduler stores in a
 * dag_version and what a worker needs (after templating) to run it.
 */
export interface TaskSpec {
  id: string;
  /** 'process': a command in a child process of the worker. */
  kind: 'process';
  /** A string runs through `/bin/sh -c`; an array is exec'd as argv. May hold `{{ … }}` templates. */
  command: string | string[];
  env: Record<string, string>;
  /** Working directory; null = the worker's own. */
  cwd: string | null;
  /** Direct upstream task ids. */
  upstream: string[];
  triggerRule: TriggerRule;
  /** Extra tries after the first: retries = 2 means at most 3 tries. */
  retries: number;
  retryDelayMs: number;
  retryBackoff: RetryBackoff;
  maxRetryDelayMs: number;
  /** Execution timeout of one try; null = none. */
  timeoutMs: number | null;
  queue: string;
  /** Higher runs first among ready tasks. */
  priority: number;
  pool: string;
  poolSlots: number;
  /** A process exit code that ends the task `skipped` instead of `failed`; null = none. Default 99. */
  skipExitCode: number | null;
}

/** A validated DAG as stored in a dag_version (content-hashed JSON). */
export interface SerializedDag {
  id: string;
  description: string | null;
  /** Cron expression (5 or 6 fields), a preset (`@daily`, `@hourly`…), or null = manual only. */
  schedule: string | null;
  /** Create the runs missed since startDate (or since the last run) when true. */
  catchup: boolean;
  /** ISO date; first logical date a schedule may produce. null = from the time the DAG is first seen. */
  startDate: string | null;
  maxActiveRuns: number;
  /** Running + queued task instances allowed across all runs of this DAG. */
  maxActiveTasks: number;
  params: Record<string, ParamSpec>;
  tags: string[];
  tasks: TaskSpec[];
  /** Source file, relative to the DAGs folder. */
  fileloc: string;
}

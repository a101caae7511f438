import type { ParamSpec, RetryBackoff, TriggerRule } from './dag.types';

/** Task settings that a DAG's `defaults` may set for all its tasks; a task's own value wins. */
export interface TaskDefaults {
  /** Extra tries after the first. Default 0. */
  retries?: number;
  /** Delay before a retry: ms or `'30s'`, `'5m'`, `'2h'`, `'1d'`, `'500ms'`. Default 30s. */
  retryDelay?: string | number;
  /** Default 'fixed'. */
  retryBackoff?: RetryBackoff;
  /** Cap of exponential backoff. Default 1h. */
  maxRetryDelay?: string | number;
  /** Timeout of one try; null = none (default). */
  timeout?: string | number | null;
  /** Broker queue (topic) the task is published to. Default 'default'. */
  queue?: string;
  /** Higher runs first among ready tasks. Default 0. */
  priority?: number;
  /** Default 'default_pool'. */
  pool?: string;
  /** Slots of the pool a try takes. Default 1. */
  poolSlots?: number;
  /** Default 'all_success'. */
  triggerRule?: TriggerRule;
  /** Exit code that ends the task `skipped`; null = none. Default 99. */
  skipExitCode?: number | null;
  /** Environment variables of the process; merged over the DAG defaults' env. Default {}. */
  env?: Record<string, string>;
  /** Working directory; null = the worker's own (default). */
  cwd?: string | null;
}

/** A task as written in a DAG file, before defaults are applied. */
export interface TaskInput extends TaskDefaults {
  id: string;
  kind?: 'process';
  /** A string runs through `/bin/sh -c`; an array is exec'd as argv. */
  command: string | string[];
  /** Direct upstream task ids. */
  upstream?: string[];
}

/** A DAG as written in a DAG file (TypeScript SDK or YAML), before validation. */
export interface DagInput {
  id: string;
  description?: string;
  /** Cron (5 or 6 fields) or preset (`@daily`…); null/absent = manual only. */
  schedule?: string | null;
  /** Default false. */
  catchup?: boolean;
  /** ISO date or Date; null = from when the DAG is first seen. */
  startDate?: string | Date | null;
  /** Default 16. */
  maxActiveRuns?: number;
  /** Default 16. */
  maxActiveTasks?: number;
  params?: Record<string, ParamSpec>;
  defaults?: TaskDefaults;
  tags?: string[];
  tasks: TaskInput[];
}

export const TASK_DEFAULT_KEYS: readonly (keyof TaskDefaults)[] = [
  'retries', 'retryDelay', 'retryBackoff', 'maxRetryDelay', 'timeout', 'queue', 'priority',
  'pool', 'poolSlots', 'triggerRule', 'skipExitCode', 'env', 'cwd',
];
export const TASK_INPUT_KEYS: readonly (keyof TaskInput)[] = ['id', 'kind', 'command', 'upstream', ...TASK_DEFAULT_KEYS];
export const DAG_INPUT_KEYS: readonly (keyof DagInput)[] = [
  'id', 'description', 'schedule', 'catchup', 'startDate', 'maxActiveRuns', 'maxActiveTasks',
  'params', 'defaults', 'tags', 'tasks',
];
export const PARAM_SPEC_KEYS: readonly (keyof ParamSpec)[] = [
  'type', 'default', 'description', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern',
];

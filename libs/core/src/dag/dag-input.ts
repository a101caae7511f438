import type { DockerSpec, ParamSpec, PullPolicy, RetryBackoff, TriggerRule } from './dag.types';

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
  /**
   * Skip the task (state `cached`) when a successful try with the same cache key exists in
   * the DAG's cache namespace, taking over its outputs. Default false.
   */
  cache?: boolean;
  /** How long a successful try serves as a cache hit: ms or `'7d'`, `'12h'`; null = forever (default). */
  cacheTtl?: string | number | null;
}

/** A bind mount or named volume as written: an object, or a `'source:target[:ro|rw]'` string. */
export interface VolumeInput {
  /** Absolute host path, or the name of a Docker volume. */
  source: string;
  /** Absolute path in the container. */
  target: string;
  /** Default false. */
  readOnly?: boolean;
}

/** Resource limits of a container task. */
export interface ResourcesInput {
  /** CPU limit in cores, fractions allowed (`0.5`); more than 0. Default none. */
  cpus?: number | null;
  /** Memory limit: `'512m'`, `'1.5g'`, `'30g'`, `'1024k'` or bytes (binary units, at least 6m). Default none. */
  memory?: string | number | null;
  /** GPUs by count, a whole number >= 0. Default 0. */
  gpus?: number;
}

/** Container settings of a docker task as written, before defaults are applied (see {@link DockerSpec}). */
export interface DockerInput {
  /** Image reference `[registry/]repository[:tag][@digest]`, repository lowercase. Required. */
  image: string;
  /** Default 'if-not-present'. */
  pullPolicy?: PullPolicy;
  /** Overrides the image's entrypoint: a string is one program, an array is argv. Default null = the image's. */
  entrypoint?: string | string[] | null;
  /** `uid[:gid]` or a user name; a number is a uid. Default null = the image's. */
  user?: string | number | null;
  /** Bind mounts and named volumes; `'src:dst'`, `'src:dst:ro'` or objects. Targets are unique. Default []. */
  volumes?: (string | VolumeInput)[];
  /** Docker network. Default 'none' (no network). */
  network?: string;
  /** Extra container labels; the `swarmflow.` prefix is reserved. Default {}. */
  labels?: Record<string, string>;
  /** Key of the variable holding registry credentials (JSON). Default null = none. */
  registryCredentials?: string | null;
  resources?: ResourcesInput;
  /** Default 'device-request'. */
  gpuMode?: DockerSpec['gpuMode'];
  /** OCI runtime. Default null = Docker's, or 'nvidia' when gpuMode is 'runtime'. */
  runtime?: string | null;
  /** Default true. */
  autoRemove?: boolean;
  /** Absolute container path where `secrets` are mounted, one file per key. Default '/secrets/variables'. */
  secretsPath?: string;
}

/** A task as written in a DAG file, before defaults are applied. */
export interface TaskInput extends TaskDefaults {
  id: string;
  /** Default 'docker' when `docker` is given, else 'process'. */
  kind?: 'process' | 'docker';
  /**
   * Process tasks (required): a string runs through `/bin/sh -c`; an array is exec'd as argv.
   * Docker tasks: the container's command, a string or an array; absent or [] = the image's.
   */
  command?: string | string[];
  /** Container settings; giving them makes the task a docker task. */
  docker?: DockerInput;
  /** Keys of variables mounted into the container as files under `docker.secretsPath` (docker tasks only). */
  secrets?: string[];
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
  /** Cached tries are shared by the DAGs with the same namespace. Default 'default'. */
  cacheNamespace?: string;
  tasks: TaskInput[];
}

export const TASK_DEFAULT_KEYS: readonly (keyof TaskDefaults)[] = [
  'retries', 'retryDelay', 'retryBackoff', 'maxRetryDelay', 'timeout', 'queue', 'priority',
  'pool', 'poolSlots', 'triggerRule', 'skipExitCode', 'env', 'cwd', 'cache', 'cacheTtl',
];
export const TASK_INPUT_KEYS: readonly (keyof TaskInput)[] = ['id', 'kind', 'command', 'docker', 'secrets', 'upstream', ...TASK_DEFAULT_KEYS];
export const DOCKER_INPUT_KEYS: readonly (keyof DockerInput)[] = [
  'image', 'pullPolicy', 'entrypoint', 'user', 'volumes', 'network', 'labels', 'registryCredentials', 'resources',
  'gpuMode', 'runtime', 'autoRemove', 'secretsPath',
];
export const RESOURCES_INPUT_KEYS: readonly (keyof ResourcesInput)[] = ['cpus', 'memory', 'gpus'];
export const VOLUME_INPUT_KEYS: readonly (keyof VolumeInput)[] = ['source', 'target', 'readOnly'];
export const DAG_INPUT_KEYS: readonly (keyof DagInput)[] = [
  'id', 'description', 'schedule', 'catchup', 'startDate', 'maxActiveRuns', 'maxActiveTasks',
  'params', 'defaults', 'tags', 'cacheNamespace', 'tasks',
];
export const PARAM_SPEC_KEYS: readonly (keyof ParamSpec)[] = [
  'type', 'default', 'description', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern',
];

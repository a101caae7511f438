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

/** Image pull policy of a container task. */
export type PullPolicy =
  | 'if-not-present' // pull only when the image is missing (default)
  | 'always' //         pull before every try
  | 'never'; //         never pull: a missing image fails the try

/** A bind mount or named volume of a container task. */
export interface VolumeSpec {
  /** Host path (absolute) or volume name. */
  source: string;
  target: string;
  readOnly: boolean;
}

/** What a container task asks of Docker (resources, runtime, mounts). */
export interface DockerSpec {
  image: string;
  pullPolicy: PullPolicy;
  /** Overrides the image's entrypoint; null = the image's. */
  entrypoint: string[] | null;
  /** User (`uid[:gid]` or name) to run as; null = the image's. */
  user: string | null;
  volumes: VolumeSpec[];
  /** Docker network; 'none' (the default) gives the container no network. */
  network: string;
  /** Extra container labels (Swarmflow adds its own `swarmflow.*` labels). */
  labels: Record<string, string>;
  /** Name of a secret variable holding registry credentials as JSON `{ "username", "password", "serveraddress" }`; null = none. */
  registryCredentials: string | null;
  /** CPU limit in cores (fractions allowed); null = none. */
  cpus: number | null;
  /** Memory limit in bytes; null = none. */
  memoryBytes: number | null;
  /** GPUs by count; 0 = none. The worker assigns specific GPU ids so concurrent tasks never share one. */
  gpus: number;
  /** 'device-request': Docker device requests (driver nvidia, capability gpu); 'runtime': the `nvidia` runtime with NVIDIA_VISIBLE_DEVICES. */
  gpuMode: 'device-request' | 'runtime';
  /** OCI runtime to run the container with (e.g. 'nvidia'); null = Docker's default. */
  runtime: string | null;
  /** Remove the container when the try ends (after its logs and exit code are read). Default true. */
  autoRemove: boolean;
  /** Where the task's secret variables are mounted, one read-only file per key. Default /secrets/variables. */
  secretsPath: string;
}

/**
 * One task of a serialized DAG, every default resolved: what the scheduler stores in a
 * dag_version and what a worker needs (after templating) to run it.
 */
export interface TaskSpec {
  id: string;
  /** 'process': a command in a child process of the worker; 'docker': a sibling container. */
  kind: 'process' | 'docker';
  /**
   * Process tasks: a string runs through `/bin/sh -c`, an array is exec'd as argv. Docker
   * tasks: the container's command (a string runs through `/bin/sh -c` in the container);
   * an empty array = the image's default command. May hold `{{ … }}` templates.
   */
  command: string | string[];
  /** Container settings; null for process tasks. */
  docker: DockerSpec | null;
  /** Variables to hand to the task: mounted as read-only files under `docker.secretsPath` (docker tasks). */
  secrets: string[];
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
  /**
   * Present (true) when the task is cacheable: a successful try with the same cache key
   * ({@link cacheKey}) ends it `cached`. Absent otherwise (so the DAG hashes of DAGs
   * without caching do not change).
   */
  cache?: true;
  /** How long a successful try serves as a cache hit; absent = forever. */
  cacheTtlMs?: number;
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
  /** The cache namespace its cacheable tasks share with other DAGs; absent = 'default'. */
  cacheNamespace?: string;
  tasks: TaskSpec[];
  /** Source file, relative to the DAGs folder. */
  fileloc: string;
}

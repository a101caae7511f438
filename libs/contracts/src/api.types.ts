// The REST API's response shapes (JSON: camelCase fields, dates as ISO 8601 strings).
// The webserver answers with them, the CLI's client and the web UI read them: one definition,
// in libs/contracts, so the three cannot drift apart (the UI never imports from apps/).
import type { DagRunState, DockerSpec, ParamSpec, RetryBackoff, RunType, TiState, TriggerRule, VolumeSpec } from '@swarmflow/core';

/** Every error response: `reason` is stable and machine-readable, `message` is for people. */
export interface ApiErrorBody {
  reason: string;
  message: string;
  /** The request field at fault (`conf.epochs`, `runId`), when there is one. */
  field?: string;
  /**
   * What is wrong, without the fix (and for a conf error without the field's name:
   * `must be integer (got "ten")`), for a client that words its own message, such as the web
   * UI's forms. Set for `invalid_conf` and `duplicate_logical_date`; `message` says the same
   * with the fix worded for an API caller or the CLI.
   */
  problem?: string;
  /** The fix, without an example of a JSON body or a CLI command (`pass a whole number`); with `problem`. */
  hint?: string;
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
  /**
   * The DAG's newest runs, newest first (at most 5; `lastRun` is the first): the web UI's
   * last runs at a glance. Optional because the CLI may talk to an older server.
   */
  recentRuns?: RunRefDto[];
  /** The next cron time after now (for display); null for a manual DAG or a paused one. */
  nextRun: string | null;
  /**
   * The current import error of the DAG's file, or null. When set, the DAG shown (and run)
   * is the last version that imported; the file's changes since are not in it.
   */
  importError: { message: string; at: string } | null;
}

/** A bind mount or named volume of a container task. */
/** A volume of a docker task: core's `VolumeSpec` (JSON-safe as it is). */
export type VolumeDto = VolumeSpec;

/** Container settings of a docker task, defaults resolved: core's `DockerSpec` (JSON-safe as it is). */
export type DockerSpecDto = DockerSpec;

export interface TaskSpecDto {
  taskId: string;
  kind: 'process' | 'docker';
  /** Docker tasks: [] = the image's default command. */
  command: string | string[];
  /**
   * Container settings of a docker task; null for a process task. Always sent by this
   * server; optional because the CLI may talk to an older one (absent = a process task).
   */
  docker?: DockerSpecDto | null;
  /** Keys of the variables mounted into the container (names only: values never leave the variable store). Absent from older servers. */
  secrets?: string[];
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
  /** Why it ended when its tasks did not decide it (`cancelled by alice`); null otherwise. */
  reason: string | null;
  /** Tasks matching this pattern run although cached tries exist (`.*` = `--force`); null = none. */
  cacheForce: string | null;
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
  /** Why the try ended; for a queued try whose queue no live worker serves, why it waits ("no worker serves queue gpu …"). */
  reason: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  nextRetryAt: string | null;
  /** What its latest try (or the cached try it took over) wrote to its output file; null = nothing. */
  outputs: Record<string, unknown> | null;
  /** A `cached` task: the try it took its outputs from. */
  cachedFrom: CachedFromDto | null;
}

export interface CachedFromDto {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
}

/** What one try left besides its state. */
export interface TryResultDto {
  tryNumber: number;
  succeeded: boolean;
  outputs: Record<string, unknown> | null;
  /** A container try: the image reference and the digest it ran. */
  image: string | null;
  imageDigest: string | null;
  cacheKey: string | null;
  cachedFrom: { tiId: number; tryNumber: number } | null;
  /** A container try: its container's id; null for a process try (and tries run by older workers). Absent from older servers. */
  containerId?: string | null;
  /** A container try: the GPU devices the worker gave it ([] = none); null when unknown. Absent from older servers. */
  gpuDevices?: string[] | null;
  /** A container try: the OCI runtime it ran with; null = Docker's default (or unknown). Absent from older servers. */
  runtime?: string | null;
  at: string;
}

/** One image of a run's version set: the digest its container tries ran. */
export interface RunImageDto {
  image: string;
  digest: string;
}

export interface RunDetailDto extends RunDto {
  taskInstances: TaskInstanceDto[];
  /** The run's version set: the digest each container image ran (newest try). */
  images: RunImageDto[];
}

/** A cache entry: a successful executed try of a cacheable task. */
export interface CacheEntryDto {
  key: string;
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  outputs: Record<string, unknown> | null;
  imageDigest: string | null;
  createdAt: string;
}

export interface InvalidateCacheResultDto {
  invalidated: number;
}

/** `GET /dags/:dagId/grid`: the newest runs with their task instances, newest first (the UI's grid). */
/** A run of the grid: its task instances, without the version set (the run page has it). */
export interface GridRunDto extends RunDto {
  taskInstances: TaskInstanceDto[];
}

export interface GridDto {
  dagId: string;
  runs: GridRunDto[];
}

export interface TiHistoryEntryDto {
  tryNumber: number;
  from: TiState;
  to: TiState;
  /** Why the try ended; for a queued try whose queue no live worker serves, why it waits ("no worker serves queue gpu …"). */
  reason: string | null;
  at: string;
  /**
   * The try's worker, its host and the task's process id right after this step: set from the
   * step into `running` on; null while the instance has none (scheduled, queued, cleared), and
   * in transitions recorded before Swarmflow kept them per try. Absent from older servers.
   */
  worker?: string | null;
  hostname?: string | null;
  pid?: number | null;
  /** The try's exit code right after this step: set by the step that ends it (null for an end with none: a lost worker, a signal, a cache hit). */
  exitCode?: number | null;
}

export interface TaskInstanceDetailDto extends TaskInstanceDto {
  dagId: string;
  runId: string;
  history: TiHistoryEntryDto[];
  /** Stored results of its tries, newest first. */
  tries: TryResultDto[];
  /**
   * The containers of its container tries, newest try first, as their workers reported them
   * once started: readable while a try runs (its result comes with its end). Absent from older servers.
   */
  containers?: TryContainerDto[];
}

/** A container try's container, reported by its worker once it started. */
export interface TryContainerDto {
  tryNumber: number;
  containerId: string;
  /** The worker that runs (ran) it. */
  worker: string;
  /** The image reference the try was given, and the digest that runs; null when the worker could not read the digest. */
  image: string | null;
  imageDigest: string | null;
  /** The GPU devices the worker gave it ([] = none). */
  gpuDevices: string[];
  /** The OCI runtime; null = Docker's default. */
  runtime: string | null;
  startedAt: string;
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
  /** Set when the lines were read from the try's archived log (SWARMFLOW_LOG_RETENTION pruned its rows): the object's URL. */
  archivedUrl?: string;
}

// The task and run actions' answers live in the shared contracts (the UI imports them from there).
export type { CancelRunResultDto, ClearResultDto, KillResultDto, MarkResultDto, StoppedTryDto, TaskChangeDto } from './task-actions';

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
  /** GPUs the worker can hand to container tasks. */
  gpus: number;
  /**
   * `active` takes work; `draining` takes none and finishes what it runs, then stays up
   * (`workers drain`; `workers resume` makes it active); `stopping` takes none and exits once
   * its running tries are reported (`workers shutdown`, SIGTERM); `stopped` has exited (each
   * as the worker's last heartbeat said); `lost`: no heartbeat for
   * SWARMFLOW_HEARTBEAT_TIMEOUT, set by the scheduler.
   */
  state: string;
  /**
   * Task tries running on the worker, as its last heartbeat listed them. Always [] for a
   * `lost` worker: it runs nothing we know of, since the scheduler failed (or queued for
   * retry) its tries when it marked it lost. A lost worker that beats again is `active`
   * with what it then reports.
   */
  running: { tiId: number; tryNumber: number }[];
  firstSeenAt: string;
  lastHeartbeatAt: string;
  /** Seconds since the last heartbeat, by the server's clock. */
  heartbeatAgeSeconds: number;
  /** Tries the worker finished since it started (any outcome), and how many of them failed. */
  processed: number;
  failed: number;
  /** When the worker process started; null from workers that do not report it. */
  startedAt: string | null;
  /** Seconds since `startedAt`; null when it is unknown. */
  uptimeSeconds: number | null;
  /** The worker's Swarmflow version; null when not reported. */
  version: string | null;
  /** Task messages it holds unacked, per queue topic (as of its last heartbeat). */
  unacked: Record<string, number>;
}

/** What `POST /workers/:name/drain|shutdown|resume` answers (202: the command is sent; the worker's heartbeat shows it applied). */
export interface WorkerCommandResultDto {
  worker: string;
  command: 'drain' | 'shutdown' | 'resume';
  /** The state the worker last reported, before the command. */
  state: string;
  message: string;
}

/** One task queue topic, as `GET /queues` lists it. */
export interface QueueDto {
  /** The topic (`default`, `gpu`, …); its RabbitMQ queue is `swarmflow.tasks.<queue>`. */
  queue: string;
  /** False when the broker has no such queue yet (nothing was ever queued to it): the counts are 0. */
  declared: boolean;
  /** Messages waiting for a worker (RabbitMQ's "ready"). */
  ready: number;
  /** Messages delivered to workers and not yet acked, summed from the live workers' last heartbeats. */
  unacked: number;
  /** Consumers attached now (a draining worker cancels its consumer). */
  consumers: number;
  /** Workers (not lost or stopped) that serve this topic, with their state. */
  workers: { name: string; state: string }[];
}

export interface PoolDto {
  name: string;
  slots: number;
  description: string;
}

/** One dependency of the API: `down` names why; `not_configured`: the server runs without it (no broker: kill answers 503). */
export interface DependencyHealthDto {
  status: 'up' | 'down' | 'not_configured';
  message?: string;
}

/** `GET /health`: 200 `ok` when every configured dependency is up, 503 `unavailable` when one is down. */
export interface HealthDto {
  status: 'ok' | 'unavailable';
  dependencies: { database: DependencyHealthDto; broker: DependencyHealthDto };
}

/** A variable as the API shows it: a secret's value is always `***`. */
export interface VariableDto {
  key: string;
  /** The value as stored; `***` for a secret (secret values are never returned). */
  value: string;
  /** Encrypted at rest with the cluster key; its value is never returned or logged. */
  secret: boolean;
  description: string;
  updatedAt: string;
}

/** One variable in an import or export file: a plain string, or the value with its flags. */
export type VariableEntryDto = string | { value: string; secret?: boolean; description?: string };

export interface VariablesImportRequestDto {
  variables: Record<string, VariableEntryDto>;
  /** Keys to leave untouched (the secrets an export left out), even when `variables` holds them. */
  secrets_omitted?: string[];
}

export interface VariablesImportResultDto {
  created: number;
  updated: number;
  /** The keys of `secrets_omitted`, not written. */
  skipped: string[];
  /** Of `skipped`, the keys with no variable on this server: tasks that mount them fail until they are set. Absent from older servers. */
  missing?: string[];
}

/**
 * `GET /variables/export`: exactly the variables exported, and the secrets left out.
 * `Object.keys(variables).length` is the number exported, `secrets_omitted.length` the
 * number of secrets left out.
 */
export interface VariablesExportDto {
  /** Every plain variable. Secrets are not here, not even masked (older servers listed them with the value `***`). */
  variables: Record<string, { value: string; secret: boolean; description: string }>;
  /** Keys of the secret variables, left out: secret values are never returned by the API. */
  secrets_omitted: string[];
}
export type * from './auth.types';
export * from './backfill.types';

/** One recorded autoscaler decision, with the inputs it was made from. */
export interface AutoscalerDecisionDto {
  id: number;
  at: string;
  group: string;
  provider: string;
  /** up | down | hold | drain (a scale-in step) | error */
  action: string;
  currentReplicas: number;
  desiredReplicas: number;
  targetReplicas: number;
  backlog: number;
  running: number;
  unplaceable: number;
  reason: string;
  detail: Record<string, unknown>;
  leader: string;
}

export interface AutoscalerViewDto {
  /** The latest decision of each group. */
  groups: AutoscalerDecisionDto[];
  /** Decisions newest first. */
  history: AutoscalerDecisionDto[];
}

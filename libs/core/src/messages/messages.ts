import type { DockerSpec } from '../dag/dag.types';
import type { HandedOver } from '../workers/hand-over';
import type { TiState } from '../state/states';

/**
 * Everything a worker needs to run one try of a task instance; published on the
 * `swarmflow.tasks` exchange with routing key = the task's queue.
 */
export interface TaskMessage {
  tiId: number;
  /** The run's database key; workers echo it in their events so the scheduler can lock the run at once. */
  runPk?: number;
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  queue: string;
  /** Templates already rendered. */
  command: string | string[];
  env: Record<string, string>;
  cwd: string | null;
  timeoutMs: number | null;
  skipExitCode: number | null;
  priority: number;
  /** 'process' or 'docker'; absent = 'process' (messages of older schedulers). */
  kind?: 'process' | 'docker';
  /** Container settings of a docker task (templates rendered). */
  docker?: DockerSpec | null;
  /**
   * Variables the task mounts, each value sealed with the cluster key for this try
   * (AES-256-GCM, `v2.<iv>.<tag>.<ciphertext>`, additional data = the variable's key, the
   * task instance and the try, see libs/secrets `taskSecretContext`): the broker never sees
   * a plaintext secret, and a ciphertext opens for no other try.
   */
  secrets?: { key: string; ciphertext: string }[];
  /** Registry credentials (JSON), sealed like `secrets` (purpose `registry`); absent when the task names none. */
  registryAuth?: string;
  /**
   * The image reference as the DAG gives it (rendered), when `docker.image` is the digest its
   * run recorded for it instead (a cleared task runs its run's images): the worker reports
   * the digest under this reference.
   */
  imageRef?: string;
  /** The try's cache key (a cacheable task): the worker echoes it in `task.finished`, and the scheduler stores it with the try. */
  cacheKey?: string;
  /**
   * A cache hit the worker must confirm (a container task whose image is not pinned by
   * digest: its tag may have moved since): the executed try the hit would take its outputs
   * from, and the image digest that try ran. The worker resolves the image as it would to
   * run it; the same digest ends the try `cached` without a container, another one runs it.
   */
  cacheCheck?: CacheCheck;
  /** Where this try keeps its artefacts (`SWARMFLOW_ARTIFACTS_URL` of the scheduler); absent when none is set. */
  artifacts?: TaskArtifacts;
}

/** A cache hit to confirm on the worker (see {@link TaskMessage.cacheCheck}). */
export interface CacheCheck {
  /** The executed try the hit would take its outputs from. */
  tiId: number;
  tryNumber: number;
  /** The image digest that try ran (`name@sha256:…`, or an image id `sha256:…`). */
  digest: string;
}

/** A try's artefacts prefix, as its task sees it in its environment. */
export interface TaskArtifacts {
  /** This try's prefix: `<base>/<dag>/<run>/<task>/try-<n>.ti-<task instance id>/` (task env `SWARMFLOW_ARTIFACTS_URL`). */
  url: string;
  /** The run's prefix, to read upstream tasks' artefacts (task env `SWARMFLOW_ARTIFACTS_RUN_URL`). */
  runUrl: string;
  /**
   * The run's tasks that ended `cached`, by task id: the prefix of the try whose outputs
   * they took, where their artefacts are (not under `runUrl`). Task env
   * `SWARMFLOW_ARTIFACTS_CACHED_URLS` (JSON); absent when the run has none.
   */
  cached?: Record<string, string>;
  /**
   * For s3:// only: JSON `{ endpoint, region, accessKeyId, secretAccessKey }` from the
   * `artifacts_s3_*` variables, sealed like `secrets` (purpose `secret`, variable
   * `artifacts_s3`); the worker gives it to the task as the AWS_* variables every S3 client reads.
   */
  s3?: string;
}

/** Output files larger than this fail their try unless the worker's SWARMFLOW_MAX_OUTPUT_BYTES says otherwise. */
export const DEFAULT_MAX_OUTPUT_BYTES = 65_536;
/** What the scheduler accepts as a try's outputs at most (JSON length), whatever a worker allows. */
export const MAX_OUTPUT_BYTES_LIMIT = 1_048_576;
/** Where a container task writes its outputs (a folder the worker creates in each try's container). */
export const CONTAINER_OUTPUT_PATH = '/swarmflow/output.json';

/**
 * What travels on `swarmflow.tasks`: a {@link TaskMessage} serialized once by the
 * scheduler and signed (HMAC-SHA256, key derived from the cluster key). Workers verify
 * `sig` over `<issuedAt>.<message>` before they parse `message`, and refuse what fails.
 */
export interface SignedTaskMessage {
  /** The task instance and try of `message`, readable without parsing it (outbox sweep, a refusal's log line); checked against it. */
  tiId: number;
  tryNumber: number;
  /** When the scheduler built it, ms since the epoch; signed. Workers refuse one older than their max age. */
  issuedAt: number;
  /** The TaskMessage, JSON. */
  message: string;
  /** HMAC-SHA256 of `<issuedAt>.<message>`, base64. */
  sig: string;
}

export interface TaskStartedEvent {
  type: 'task.started';
  tiId: number;
  /** The task message's `runPk`, echoed. */
  runPk?: number;
  tryNumber: number;
  worker: string;
  hostname: string;
  pid: number | null;
  at: string;
}

/** Outcome decided by the worker from the exit code; the scheduler decides retries. */
export type TaskOutcome = 'success' | 'failed' | 'skipped';

export interface TaskFinishedEvent {
  type: 'task.finished';
  tiId: number;
  /** The task message's `runPk`, echoed. */
  runPk?: number;
  tryNumber: number;
  worker: string;
  outcome: TaskOutcome;
  exitCode: number | null;
  signal: string | null;
  /** Why it failed when the exit code alone does not say: 'timeout', 'cancelled', 'worker shutdown', spawn error. */
  reason: string | null;
  /** Last log lines, for failures. */
  logTail: string[];
  /**
   * When the process was spawned: the `at` of the try's `task.started`, if one was
   * published. A try that ends within the worker's `startedDelayMs` gets no
   * `task.started`, so this is its only start time. Absent from older workers.
   */
  startedAt?: string;
  /**
   * The worker's host: with `startedAt`, the start the scheduler records for a try that sent
   * no `task.started` (it shows on the try, as `on <worker> (<host>)`). Absent from older workers.
   */
  hostname?: string;
  /** False when retrying cannot help (cancelled by a user, asks for more GPUs than the worker has): the try fails for good. Absent = true. */
  retryable?: boolean;
  /**
   * The try's last log lines, not published on `swarmflow.logs`: the scheduler stores them
   * with the try's end, in one transaction (most short tries publish no other log batch).
   */
  logs?: Pick<LogBatch, 'seq' | 'lines'>;
  /**
   * The log batches the worker published on `swarmflow.logs` for this try before its end,
   * all confirmed by the broker: `count` of them, with `seq` from `first` to `last` (fewer
   * than the range when a publish failed). The scheduler applies the end once the log sink
   * has stored them (or after a bounded wait), so an ended try's log is complete. Absent
   * when there were none (most short tries).
   */
  logBatches?: { first: number; last: number; count: number };
  /** The JSON object the try wrote to its output file (SWARMFLOW_OUTPUT, or /swarmflow/output.json in a container); absent when it wrote none. */
  outputs?: Record<string, unknown>;
  /** A container try: the image as the message named it and the digest it ran (`name@sha256:…`, or the image id when it has no registry digest). */
  image?: { ref: string; digest: string };
  /** The task message's `cacheKey`, echoed. */
  cacheKey?: string;
  /**
   * The worker confirmed the message's `cacheCheck` (the image still resolves to the digest
   * the source try ran) and ran nothing: the try ends `cached` from this source (outcome
   * `success`, no exit code, no container).
   */
  cachedFrom?: { tiId: number; tryNumber: number };
  /**
   * A container try: the container's id, the GPU devices it was given (ids, as the worker
   * lists them; [] = none) and the OCI runtime it ran with (null = Docker's default).
   * Absent for a process try, a container never created, and from older workers.
   */
  container?: { id: string; gpus: string[]; runtime: string | null };
  at: string;
}

/**
 * A container try's container started: what the try page shows while the try runs. Published
 * by the worker once the container started and its image's digest was read, after the try's
 * `task.started` when that went out; not for a process try, nor when the try ended first
 * (`task.finished` carries the same details with the end). Older workers never send it.
 */
export interface TaskContainerStartedEvent {
  type: 'task.container_started';
  tiId: number;
  /** The task message's `runPk`, echoed. */
  runPk?: number;
  tryNumber: number;
  worker: string;
  /** As in `task.finished`: the container's id, the GPU devices it was given ([] = none), its OCI runtime (null = Docker's default). */
  container: { id: string; gpus: string[]; runtime: string | null };
  /** As in `task.finished`: the image as the message named it and the digest that runs; absent when the digest could not be read. */
  image?: { ref: string; digest: string };
  at: string;
}

export interface WorkerHeartbeatEvent {
  type: 'worker.heartbeat';
  worker: string;
  hostname: string;
  queues: string[];
  concurrency: number;
  /** GPUs this worker can hand to container tasks (0 = none). Absent from older workers. */
  gpus?: number;
  /** Task instance tries running on this worker now. */
  running: { tiId: number; tryNumber: number }[];
  /**
   * Tries whose `task.finished` this worker published (confirmed) lately: not running any
   * more, but their end may not be applied yet (another scheduler holds it). Absent from older workers.
   */
  ended?: { tiId: number; tryNumber: number }[];
  /**
   * Tries delivered here and not started: waiting for a slot, or for the answer to their
   * claim. Another worker's claim of one of them is dropped. Absent from older workers.
   */
  held?: { tiId: number; tryNumber: number }[];
  state: WorkerHeartbeatState;
  /**
   * The containers a stopping worker handed over to the next worker of its name (their tries
   * are also in `running`), and until when (this heartbeat's clock, as `at`) they wait for it
   * (`SWARMFLOW_HANDOFF_TIMEOUT`): the scheduler does not fail or retry them before. Absent
   * when it handed none over, and from older workers.
   */
  handedOver?: HandedOver;
  /** Tries this worker finished since it started (any outcome, refused ones included). Absent from older workers. */
  processed?: number;
  /** Of those, the ones reported failed. */
  failed?: number;
  /** Milliseconds since the worker started (its monotonic clock: no skew with the scheduler's). */
  uptimeMs?: number;
  /** The Swarmflow version the worker runs. */
  version?: string;
  /**
   * Task messages this worker holds unsettled, per queue topic (running, reporting or
   * waiting for a slot): the broker's "unacked" count without its management plugin.
   */
  unacked?: Record<string, number>;
  at: string;
}

/**
 * A worker's state as its heartbeats report it. Older workers reported `draining` for
 * what is now `stopping`.
 */
export type WorkerHeartbeatState =
  | 'active' //   takes work
  | 'draining' // takes no new task, finishes the running ones, stays up (`worker.drain`); `worker.resume` makes it active
  | 'stopping' // takes no new task, exits once the running ones are reported (`worker.shutdown`, SIGTERM)
  | 'stopped'; // has exited; its last heartbeat

export type WorkerEvent = TaskStartedEvent | TaskContainerStartedEvent | TaskFinishedEvent | WorkerHeartbeatEvent;

/** A batch of log lines of one task try, on `swarmflow.logs`. */
export interface LogBatch {
  tiId: number;
  tryNumber: number;
  /** Increasing per try, so the sink can order batches. */
  seq: number;
  lines: { at: string; stream: 'stdout' | 'stderr' | 'system'; line: string }[];
}

/**
 * Commands on `swarmflow.control` (routing key `worker.<name>` or `worker.all`).
 * `worker` is the worker's name or `all`.
 */
export type ControlMessage =
  | { type: 'task.cancel'; tiId: number; tryNumber: number }
  | WorkerCommand;

/** An operator's command to a worker: drain (stay up, take nothing new), shutdown (drain, then exit), resume (take work again). */
export interface WorkerCommand {
  type: 'worker.drain' | 'worker.shutdown' | 'worker.resume';
  worker: string;
}

export type { TiState };

import type { DockerSpec } from '../dag/dag.types';
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
   * Variables the task mounts, each value encrypted with the cluster key (AES-256-GCM,
   * `v1.<iv>.<tag>.<ciphertext>` in base64, see libs/secrets): the broker never sees a plaintext secret.
   */
  secrets?: { key: string; ciphertext: string }[];
  /** Registry credentials (JSON), encrypted like `secrets`; absent when the task names none. */
  registryAuth?: string;
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
  /** False when retrying cannot help (cancelled by a user, asks for more GPUs than the worker has): the try fails for good. Absent = true. */
  retryable?: boolean;
  /**
   * The try's last log lines, not published on `swarmflow.logs`: the scheduler stores them
   * with the try's end, in one transaction (most short tries publish no other log batch).
   */
  logs?: Pick<LogBatch, 'seq' | 'lines'>;
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
  /** 'active' takes work; 'draining' finishes what it runs and stops; 'stopped' has exited. */
  state: 'active' | 'draining' | 'stopped';
  at: string;
}

export type WorkerEvent = TaskStartedEvent | TaskFinishedEvent | WorkerHeartbeatEvent;

/** A batch of log lines of one task try, on `swarmflow.logs`. */
export interface LogBatch {
  tiId: number;
  tryNumber: number;
  /** Increasing per try, so the sink can order batches. */
  seq: number;
  lines: { at: string; stream: 'stdout' | 'stderr' | 'system'; line: string }[];
}

/** Commands on `swarmflow.control` (routing key `worker.<name>` or `worker.all`). */
export type ControlMessage =
  | { type: 'task.cancel'; tiId: number; tryNumber: number }
  | { type: 'worker.drain'; worker: string };

export type { TiState };

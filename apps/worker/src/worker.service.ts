import { Logger } from '@nestjs/common';
import {
  CONTAINER_OUTPUT_PATH, DEFAULT_HANDOFF_TIMEOUT_MS, DEFAULT_MAX_OUTPUT_BYTES,
  type ControlMessage, type TaskContainerStartedEvent, type TaskFinishedEvent, type TaskMessage, type TaskStartedEvent, type WorkerHeartbeatEvent,
} from '@swarmflow/core';
import {
  containerPolicyViolation, DEFAULT_CONTAINER_POLICY, DEFAULT_GRACE_MS, DEFAULT_INSTALLATION, defaultDockerExecutor, inheritedEnv, LABELS, runProcess, taskLabels,
  type ContainerPolicy, type ContainerResult, type ContainerStart, type RunAsUser, type ContainerSummary, type DockerExecutor, type ProcessResult, type RegistryAuth, type SecretFile,
} from '@swarmflow/executors';
import {
  controlQueue, EXCHANGES, taskQueue, type Broker, type BrokerMessage, type ConsumerHandle, type ExchangeName,
} from '@swarmflow/messaging';
import { ControlSigner, logMasker, maskOutputs, MIN_MASKED_LENGTH, SecretDecryptError, TaskSigner, taskSecretContext, type ClusterKey, type LogMask } from '@swarmflow/secrets';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ARTIFACTS_SEAL, artifactsAccess, AWS_CREDENTIALS_FILE, NO_ARTIFACTS, NO_ENV, writeCredentialsFile, type ArtifactsAccess } from './artifact-credentials';
import { discardOutputFile, OUTPUT_VARIABLE, OutputError, OutputFiles, outputTooLarge, parseOutputs, takeOutputFile } from './task-output';
import { TaskLogPublisher } from './task-log.publisher';
import { ControlInbox, ControlMessageRefusedError, type ControlRefusalReason } from './control-inbox';
import { decodeControlMessage, openTaskMessage, TaskMessageRefusedError, type TaskRefusalReason } from './task-message.decoder';
import { ClaimClient } from './claim-client';
import { RecentEnds } from './recent-ends';
import { describeEnd, formatSeconds, taskEnv, taskVerdict } from './task-outcome';
import { swarmflowVersion, unackedByQueue, WorkerTally } from './worker-stats';

export interface WorkerOptions {
  /** Unique among live workers; names the control queue `swarmflow.control.<name>`. */
  name: string;
  /**
   * The installation this worker belongs to, put on every container and volume it creates
   * (label `swarmflow.installation`): it re-adopts, reaps and removes only those of its
   * own (see ofInstallation), so installations sharing a Docker engine leave each other's
   * alone. loadWorkerConfig derives it from SWARMFLOW_BROKER_PREFIX (installationOf).
   * Default {@link DEFAULT_INSTALLATION}.
   */
  installation?: string;
  hostname: string;
  /** Task topics served (`default`, `gpu`, …). */
  queues: string[];
  /** Tasks run at once, at most. */
  concurrency: number;
  /** Default 5000. */
  heartbeatIntervalMs?: number;
  /** SIGTERM → SIGKILL delay on timeout and cancel. Default 10000. */
  graceMs?: number;
  /**
   * How long a stopping worker (drain, `worker.shutdown`, SIGTERM) waits for an unreachable
   * RabbitMQ: once the broker has been unreachable this long during the stop, the worker
   * gives up on what it could not report (logged), SIGTERMs its process tries, leaves its
   * containers to be re-adopted, and stops. A reachable broker is waited for as long as the
   * running tries take. Default {@link DEFAULT_STOP_TIMEOUT_MS} (under Swarm's 10 s stop grace).
   */
  stopTimeoutMs?: number;
  /**
   * The time its supervisor gives the worker between SIGTERM and SIGKILL (Docker Swarm's
   * `stop_grace_period`; SWARMFLOW_WORKER_STOP_GRACE). With it, {@link terminate} hands the
   * containers still running over to the next worker of the same name a margin before
   * that time runs out ({@link handOffMarginMs}) and cancels the processes (reported failed,
   * retryable), so the worker exits by itself, its log lines all out, instead of being
   * killed. Default none: a stopping worker waits for its tries however long they take.
   */
  stopGraceMs?: number;
  /**
   * How long the containers this worker hands over wait for the next worker of its name
   * (SWARMFLOW_HANDOFF_TIMEOUT): its heartbeats tell the scheduler, which neither fails nor
   * retries those tries before; after it, an unadopted container is stopped and removed by
   * any worker of its installation on its Docker engine, and its try is handled as lost.
   * Default {@link DEFAULT_HANDOFF_TIMEOUT_MS} (5 min).
   */
  handOffTimeoutMs?: number;
  /** Longest a log line waits before it is published. Default 200. */
  logFlushMs?: number;
  /**
   * Output kept per try (characters of its lines, each with its newline); the rest is
   * discarded, the log says so and how much, and the task runs on. Default 100 MiB.
   */
  logLimitChars?: number;
  /** Largest output file a try may write (bytes); past it the try fails saying so. Default {@link DEFAULT_MAX_OUTPUT_BYTES}. */
  maxOutputBytes?: number;
  /** Folder of process tries' output files (SWARMFLOW_OUTPUT). Default the OS temp folder. */
  outputDir?: string;
  /**
   * Longest a delivered task waits in the local buffer for a slot; past it the message is
   * given back to the queue (nack, requeue) and the task consumers pause until a slot
   * frees. Keep it well under RabbitMQ's consumer timeout (30 min). Default 30000.
   */
  maxBufferWaitMs?: number;
  /**
   * How long after the spawn `task.started` waits. A try whose process ends within it
   * publishes no `task.started`: its `task.finished` (with `startedAt`) says it all, and
   * its message is acked once that is confirmed. 0 publishes `task.started` at the spawn.
   * Keep it far below RabbitMQ's consumer timeout: the message stays unacked until then.
   * Default 50.
   */
  startedDelayMs?: number;
  /**
   * GPU ids this worker hands to container tasks (`0`, `1`, … or GPU UUIDs), each to one
   * try at a time. Default none.
   */
  gpus?: string[];
  /**
   * Before running a try whose message the broker marks as redelivered, ask the scheduler
   * whether it already runs elsewhere or has ended (see ClaimClient); needs a scheduler
   * answering claims. startWorker turns it on. Default false.
   */
  claimRedeliveries?: boolean;
  /** How long a claim waits for the scheduler's answer before the message is given back. Default 30000. */
  claimTimeoutMs?: number;
  /**
   * A task message issued longer ago than this (by the scheduler's clock) is refused as
   * stale: its try is reported failed (retryable), never run. Default 24 h.
   */
  maxMessageAgeMs?: number;
  /**
   * What container tasks may do on this worker's host (bind mounts, host network,
   * runtimes, privileges, pids limit); a task asking for more fails, not retried, naming
   * the option. Default {@link DEFAULT_CONTAINER_POLICY}: nothing that reaches the host.
   */
  containerPolicy?: ContainerPolicy;
  /** Runs process tasks as this user (the worker must be root), so they cannot read the worker's memory, environment or key files. Default: the worker's own user. */
  runAs?: RunAsUser | null;
}

/** What the worker logs through; Nest's `Logger` fits. */
export interface WorkerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface WorkerDeps {
  logger?: WorkerLogger;
  /** Time of events and log lines. Default: the system clock. */
  now?: () => Date;
  /** Default: the process executor. */
  runProcess?: typeof runProcess;
  /**
   * Runs container tasks and finds the ones this worker left before a restart. Default:
   * the Docker engine of `DOCKER_HOST` or `/var/run/docker.sock`. null = no Docker: container
   * tasks fail, nothing is re-adopted.
   */
  docker?: DockerExecutor | null;
  /**
   * Verifies task messages (signed by the scheduler) and opens the secrets and registry
   * credentials of container tasks. Default none: every task message is refused.
   */
  clusterKey?: ClusterKey | null;
}

/** A running try, process or container. */
interface TaskRun {
  /** Pid of a process task; containers have none. */
  readonly pid?: number | null;
  /** Id of a container task once created. */
  readonly containerId?: string | null;
  /** Containers: settles once the container started and its image's digest was read (ContainerRun.running). */
  readonly running?: Promise<ContainerStart | null>;
  readonly result: Promise<ProcessResult & Pick<ContainerResult, 'output' | 'imageDigest' | 'cacheHit'> & { oomKilled?: boolean; containerMayRun?: boolean; handedOff?: boolean }>;
  cancel(reason?: string): void;
  /** Containers: stop following it and leave it running for the next worker of this name until `untilMs` (ContainerRun.handOff). */
  handOff?(untilMs: number): boolean;
  /** Stops (true) or resumes reading the task's output: the log publisher's backpressure. */
  pauseOutput?(paused: boolean): void;
}

/**
 * Lifecycle of a worker (also the heartbeat's `state`, except `idle`).
 */
export type WorkerState =
  | 'idle' //     constructed, start() not called yet
  | 'active' //   consumes its task queues
  | 'draining' // takes no new task, finishes the running ones, stays up (pause(), worker.drain); resume() makes it active
  | 'stopping' // takes no new task, stops once the running ones are reported (drain(), worker.shutdown, first SIGTERM)
  | 'stopped'; // consumers cancelled, last heartbeat sent

/** An operation that the worker's current state does not allow. */
export class WorkerStateError extends Error {
  override name = 'WorkerStateError';

  constructor(readonly operation: string, readonly state: WorkerState) {
    super(`cannot ${operation} a worker that is ${state}`);
  }
}

/** Lines per log batch, at most. */
const LOG_BATCH_LINES = 2000;
/** Lines of output sent with `task.finished`. */
const LOG_TAIL_LINES = 20;
/** Control messages are small and handled at once. */
const CONTROL_PREFETCH = 16;
/** Waits before re-publishing a `task.finished` the broker did not confirm. */
const FINISHED_RETRY_DELAYS_MS = [200, 1000, 5000];
const DEFAULT_MAX_BUFFER_WAIT_MS = 30_000;
/** A stopping worker waits this long for an unreachable broker: under Docker Swarm's default stop_grace_period (10 s). */
export const DEFAULT_STOP_TIMEOUT_MS = 8_000;
/**
 * How long before its stop grace period runs out a stopping worker hands its containers
 * over: a quarter of it, between 1 s and 10 s (2m → at 1m50s; 10s → at 7.5 s). The hand-over
 * (the log lines out and confirmed, a rename per container, the last heartbeat) takes well under a second.
 */
export function handOffMarginMs(stopGraceMs: number): number {
  return Math.min(10_000, Math.max(1_000, stopGraceMs / 4));
}
const DEFAULT_STARTED_DELAY_MS = 50;
const DEFAULT_MAX_MESSAGE_AGE_MS = 24 * 60 * 60 * 1000;
/** How long a `task.cancel` for a try not (yet) here is remembered: it may arrive before the task message. */
const CANCEL_MEMORY_MS = 60 * 60 * 1000;
/** The reason of a user's cancel; such a try is not retried. */
const USER_CANCEL = 'cancelled';
/** Listing this worker's containers at start gives up after this long (an unreachable DOCKER_HOST). */
const REATTACH_LIST_TIMEOUT_MS = 10_000;
/**
 * How often a worker looks on its Docker engine for containers handed over and not adopted
 * by their deadline (of any worker of its installation: the slot may be gone, or its next
 * worker on another node), to stop and remove them. At most this long after the deadline,
 * while the scheduler retries their tries from the deadline on.
 */
const HANDOFF_REAP_INTERVAL_MS = 30_000;
/**
 * Log batches of a re-adopted container start at 1,000,000 + seconds since 2024: after
 * everything the previous worker published for the try (the sink orders by seq), and
 * after an earlier adoption of the same container. Fits the sink's int column for decades.
 */
const adoptedFirstSeq = (): number => 1_000_000 + Math.floor((Date.now() - Date.UTC(2024, 0, 1)) / 1000);
/** Worker-side labels of a container try, read back when it is re-adopted. */
const WORKER_LABELS = {
  queue: 'swarmflow.queue',
  timeoutMs: 'swarmflow.timeout_ms',
  skipExitCode: 'swarmflow.skip_exit_code',
  /** Comma-separated GPU ids the try holds. */
  gpus: 'swarmflow.gpus',
  /** JSON array of the try's secrets as cluster-key tokens, to mask its log after a re-adoption. */
  sealedSecrets: 'swarmflow.sealed_secrets',
} as const;

interface RunningTask {
  task: TaskMessage;
  /**
   * Acked once `task.started` is confirmed, or `task.finished` when no `task.started` was
   * published; null for a container re-adopted after a restart (settled by the previous worker, or requeued by the broker).
   */
  msg: TaskDelivery | null;
  run: TaskRun;
  logs: TaskLogPublisher;
  /** GPU ids the try holds until it ends. */
  gpuIds: string[];
  /** Hides the try's secret values in `reason` and outputs (its log lines are masked by `logs`). */
  mask: LogMask;
  /** `Date.now()` at the spawn, for the elapsed time. */
  spawnedAt: number;
  /** A process try's output file (SWARMFLOW_OUTPUT); null for containers (read by the executor). */
  outputPath?: string | null;
  /** A process try's S3 credentials file (AWS_SHARED_CREDENTIALS_FILE), removed when it ends. */
  credentialsPath?: string;
  /** The clock (`now`) at the spawn: `task.started`'s `at` and `task.finished`'s `startedAt`. */
  startedAt: string;
  /** Set when the try is cancelled (control message or shutdown): the finished reason. */
  cancelReason: string | null;
  /** Set when the container is being handed over to the next worker of this name ({@link WorkerService.terminate}). */
  handingOff?: boolean;
  /**
   * Null while `task.started` is deferred (`startedDelayMs`); then settles true once it is
   * confirmed (and the message acked), false when it was not (the try is abandoned).
   */
  started: Promise<boolean> | null;
  /** Due at the end of the `startedDelayMs` window; cleared when the process ends first. */
  startedTimer: NodeJS.Timeout | undefined;
}

/** A delivered task waiting for a slot; its message is not settled yet. */
interface BufferedTask {
  task: TaskMessage;
  msg: TaskDelivery;
  /** `Date.now()` at delivery. */
  since: number;
}

/**
 * Consumes task queues, runs each task as a process or a sibling container, reports
 * `task.started` / `task.finished`, streams logs and heartbeats. It reports; the
 * scheduler decides (no retries here). Never touches the database.
 *
 * Container tasks go through the same slots, buffer and reports as processes. Their
 * secrets are decrypted here with the cluster key, mounted by the executor, and masked
 * (`***`) in every log line, the log tail and the reason. A GPU task starts once a slot
 * and as many GPU ids as it asks for are free; it holds those ids alone until it ends,
 * waiting in the buffer meanwhile (tasks behind it that need no GPU may start). A task
 * asking for more GPUs than the worker has is failed at once, not retryable. At start,
 * the containers a previous run of the same worker name left are re-adopted (see
 * {@link start}).
 *
 * A `task.cancel` for a try that is not here is remembered for an hour: cancels of queued
 * tries go to every worker, and may arrive before the task message.
 *
 * `task.started` is deferred by `startedDelayMs` (50 ms) after the spawn. A try whose
 * process ends within it publishes none: its `task.finished` carries `startedAt`, the
 * scheduler takes it straight from queued to its end, and the message is acked once
 * `task.finished` is confirmed. That saves a publish and its confirm per short task.
 * Otherwise the message is acked once `task.started` is confirmed, not at the end:
 * RabbitMQ's consumer timeout (30 min, not settable per queue before 3.12) would
 * otherwise cut long tasks off. A try lost after the ack is recovered by the scheduler
 * from missing heartbeats. Since acked messages free the prefetch window, RabbitMQ delivers more tasks
 * than there are free slots: those wait unacked in a local buffer (at most the prefetch, 2 × `concurrency`,
 * of them) and start as slots free. Pausing the consumers instead would cost a
 * basic.cancel and a basic.consume per busy period, and nacking the surplus back a
 * redelivery each. A buffered task that waits longer than `maxBufferWaitMs` is given
 * back to the queue and the consumers pause until a slot frees, so long tasks here do not
 * hold work another worker could run.
 *
 * A slot is held from the spawn until the process has exited. The last log batch and
 * `task.finished` are published after that, together; drain() waits for them.
 *
 * The broker belongs to the caller: the worker neither starts nor closes it.
 */
export class WorkerService {
  private readonly logger: WorkerLogger;
  private readonly now: () => Date;
  private readonly run: typeof runProcess;
  private readonly heartbeatIntervalMs: number;
  private readonly graceMs: number;
  /** {@link WorkerOptions.installation}. */
  private readonly installation: string;
  private readonly logFlushMs: number;
  private readonly maxBufferWaitMs: number;
  private readonly startedDelayMs: number;
  private readonly stopTimeoutMs: number;
  /** The broker's connection is down (between its `disconnected` and `connected` statuses). */
  private brokerDown = false;
  /** Armed while stopping with the broker down: {@link giveUp} when it fires. */
  private giveUpTimer: NodeJS.Timeout | undefined;
  /** Armed by {@link terminate} with `stopGraceMs`: {@link handOver} when it fires. */
  private handOverTimer: NodeJS.Timeout | undefined;
  /** Every HANDOFF_REAP_INTERVAL_MS while a Docker engine is there: {@link reapHandedOver}. */
  private reapTimer: NodeJS.Timeout | undefined;
  /** Tries whose container {@link reattach} re-adopted, to claim once the control queue is consumed ({@link claimAdopted}). */
  private adopted: string[] = [];
  /** Tries whose container was handed over to the next worker of this name: still listed as running in heartbeats. */
  private readonly handedOff = new Map<string, { tiId: number; tryNumber: number }>();
  /** Until when (the `now` clock) the handed-over containers wait for the next worker of this name; set by {@link handOver}. */
  private handedOffUntil: Date | null = null;
  /** Every GPU id this worker hands out, and those free now (in the configured order). */
  private readonly gpuIds: readonly string[];
  private freeGpus: string[];
  private docker: DockerExecutor | null | undefined;
  private readonly clusterKey: ClusterKey | null;
  private readonly signer: TaskSigner | null;
  /** Verifies control messages (signature, age, replays) before they are read. */
  private readonly controlInbox: ControlInbox;
  private readonly maxMessageAgeMs: number;
  private readonly containerPolicy: ContainerPolicy;
  /** Task messages refused without running them, by reason (what `refusedTaskMessages()` reports). */
  private readonly refusals = new Map<TaskRefusalReason, number>();
  /** `tiId:tryNumber` → when the memory of its `task.cancel` expires; oldest first. */
  private readonly cancelledTries = new Map<string, number>();
  /** What every task inherits (the worker's environment minus its `SWARMFLOW_*` settings), taken once. */
  private readonly baseEnv: Readonly<Record<string, string>>;
  /** Names process tries' output files (SWARMFLOW_OUTPUT), in `outputDir` or the OS temp folder. */
  private readonly outputFiles: OutputFiles;

  private currentState: WorkerState = 'idle';
  /** Tries holding a slot, from the spawn until their process has exited; keyed by `tiId:tryNumber`. */
  private readonly running = new Map<string, RunningTask>();
  /** Delivered tries waiting for a slot, oldest first (a Map iterates in insertion order). */
  private readonly buffered = new Map<string, BufferedTask>();
  /** Ended (or refused) tries whose last log batch and `task.finished` are being published. */
  private readonly reporting = new Map<string, { task: TaskMessage; msg: TaskDelivery | null }>();
  /** One timer for the whole buffer, due when its oldest task has waited `maxBufferWaitMs`. */
  private bufferTimer: NodeJS.Timeout | undefined;
  /** A message was given back (waited too long, or no room in the buffer): consumers stay paused until a slot frees. */
  private holdUntilSlotFrees = false;
  private taskConsumers: ConsumerHandle[] = [];
  private controlConsumer: ConsumerHandle | null = null;
  /** What the task consumers were last set to; changes go through `syncConsumers`, one at a time. */
  private consumersPaused = false;
  private consumerSync: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Asks the scheduler about redelivered messages; null when `claimRedeliveries` is off. */
  private readonly claims: ClaimClient | null;
  /** Redelivered tries waiting for the scheduler's answer to their claim. */
  private readonly claiming = new Map<string, TaskDelivery>();
  /** Tries whose end was confirmed lately, listed in heartbeats (see RecentEnds). */
  private readonly recentEnds = new RecentEnds();
  private idleWaiters: Array<() => void> = [];
  private stopping: Promise<void> | null = null;
  private readonly tally = new WorkerTally();
  private readonly stopped: Promise<void>;
  private markStopped!: () => void;

  constructor(
    private readonly broker: Broker,
    readonly options: WorkerOptions,
    deps: WorkerDeps = {},
  ) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    if (options.queues.length === 0) throw new RangeError('a worker needs at least one queue');
    this.logger = deps.logger ?? new Logger(`Worker ${options.name}`);
    this.now = deps.now ?? (() => new Date());
    this.run = deps.runProcess ?? runProcess;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5000;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.installation = options.installation ?? DEFAULT_INSTALLATION;
    this.logFlushMs = options.logFlushMs ?? 200;
    this.maxBufferWaitMs = options.maxBufferWaitMs ?? DEFAULT_MAX_BUFFER_WAIT_MS;
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    if (!(this.stopTimeoutMs >= 0)) throw new RangeError(`stopTimeoutMs must be 0 or more, got ${options.stopTimeoutMs}`);
    this.startedDelayMs = options.startedDelayMs ?? DEFAULT_STARTED_DELAY_MS;
    if (!(this.startedDelayMs >= 0)) throw new RangeError(`startedDelayMs must be 0 or more, got ${options.startedDelayMs}`);
    this.gpuIds = [...(options.gpus ?? [])];
    if (new Set(this.gpuIds).size !== this.gpuIds.length) throw new RangeError(`gpus lists an id twice: ${this.gpuIds.join(',')}`);
    this.freeGpus = [...this.gpuIds];
    this.docker = deps.docker;
    this.clusterKey = deps.clusterKey ?? null;
    this.signer = this.clusterKey && new TaskSigner(this.clusterKey);
    this.controlInbox = new ControlInbox(this.clusterKey && new ControlSigner(this.clusterKey));
    this.maxMessageAgeMs = options.maxMessageAgeMs ?? DEFAULT_MAX_MESSAGE_AGE_MS;
    this.containerPolicy = options.containerPolicy ?? DEFAULT_CONTAINER_POLICY;
    this.baseEnv = inheritedEnv();
    this.outputFiles = new OutputFiles(options.outputDir ?? tmpdir());
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    this.claims = options.claimRedeliveries ? new ClaimClient(broker, options.name, options.claimTimeoutMs) : null;
  }

  get name(): string {
    return this.options.name;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  /** Task instance tries holding a slot (their process is starting or running). */
  runningTasks(): { tiId: number; tryNumber: number }[] {
    return [...this.running.values()].map(({ task }) => ({ tiId: task.tiId, tryNumber: task.tryNumber }));
  }

  /**
   * Tries whose end the scheduler has not been told yet: running, ended and being reported,
   * or handed over (their container runs on, for the next worker of this name to report).
   */
  private unreportedTries(): { tiId: number; tryNumber: number }[] {
    const tries = new Map<string, { tiId: number; tryNumber: number }>();
    for (const { task: { tiId, tryNumber } } of [...this.running.values(), ...this.reporting.values()]) tries.set(runKey(tiId, tryNumber), { tiId, tryNumber });
    for (const [key, t] of this.handedOff) tries.set(key, t);
    return [...tries.values()];
  }

  /**
   * Re-adopts the containers a previous run of this worker name left (running ones are
   * followed to their end, ended ones reported at once; both hold their slots and GPUs and
   * show in heartbeats), then consumes the task queues (prefetch = 2 × concurrency) and the
   * worker's control queue, and starts heartbeats. Throws {@link WorkerStateError} unless
   * idle; on a broker error the consumers made so far are cancelled and the error is rethrown.
   */
  async start(): Promise<void> {
    if (this.currentState !== 'idle') throw new WorkerStateError('start', this.currentState);
    // Active before consuming: a delivery may arrive before consume() resolves.
    this.currentState = 'active';
    // Before consuming: re-adopted containers hold slots and GPUs.
    await this.reattach();
    try {
      this.controlConsumer = await this.broker.consume(controlQueue(this.name), (msg) => this.onControl(msg), {
        prefetch: CONTROL_PREFETCH,
      });
      for (const queue of this.options.queues) {
        const spec = taskQueue(queue);
        await this.broker.assertQueue(spec);
        this.taskConsumers.push(
          // Twice the slots: a short try's message stays unacked until its task.finished is
          // confirmed, so with prefetch = slots a freed slot would wait for that confirm and
          // a new delivery; the second half waits in the buffer, ready.
          await this.broker.consume(spec, (msg) => this.onTask(msg), { prefetch: this.options.concurrency * 2 }),
        );
      }
    } catch (err) {
      this.currentState = 'stopped';
      this.giveBackBuffered();
      await Promise.allSettled([...this.taskConsumers, this.controlConsumer].map((c) => c?.cancel()));
      this.markStopped();
      throw err;
    }
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    this.broker.onStatus((status) => this.onBrokerStatus(status));
    await this.heartbeat();
    this.claimAdopted();
    if (this.docker !== undefined && this.docker !== null) this.reapTimer = setInterval(() => void this.reapHandedOver(), HANDOFF_REAP_INTERVAL_MS);
    this.logger.log(`serving ${this.options.queues.join(', ')} with ${this.options.concurrency} slots` +
      (this.gpuIds.length > 0 ? ` and GPUs ${this.gpuIds.join(',')}` : ''));
  }

  /**
   * Stops taking work: pauses the task consumers and gives the buffered tasks back to
   * their queue. Then waits for the running tasks to finish and be reported, sends a last
   * heartbeat (`stopped`) and cancels the consumers. Idempotent: every call returns the
   * same promise. While the broker is unreachable the wait is bounded by `stopTimeoutMs`
   * (see {@link giveUp}).
   */
  drain(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.currentState === 'stopped') return (this.stopping = this.stopped);
    if (this.currentState === 'idle') {
      this.currentState = 'stopped';
      this.markStopped();
      return (this.stopping = Promise.resolve());
    }
    this.currentState = 'stopping';
    this.logger.log(`stopping: waiting for ${this.running.size} running task(s)`);
    if (this.brokerDown) this.armGiveUp();
    const drained = (async () => {
      this.syncConsumers();
      await this.consumerSync;
      // After the pause, so that RabbitMQ does not hand them straight back to this worker.
      this.giveBackBuffered();
      await this.heartbeat();
      await this.whenIdle();
      await this.stop();
    })();
    // giveUp() stops the worker while the steps above still wait for the broker.
    this.stopping = Promise.race([drained, this.stopped]);
    return this.stopping;
  }

  /**
   * What SIGTERM does: {@link drain}, and with `stopGraceMs`, a margin before it runs out
   * ({@link handOffMarginMs}), {@link handOver} what still runs, so that the worker exits by
   * itself before its supervisor kills it. The same promise as {@link drain}.
   */
  terminate(): Promise<void> {
    const stopping = this.drain();
    const grace = this.options.stopGraceMs;
    if (grace !== undefined && this.currentState === 'stopping' && this.handOverTimer === undefined) {
      this.handOverTimer = setTimeout(() => this.handOver(), Math.max(0, grace - handOffMarginMs(grace)));
    }
    return stopping;
  }

  /**
   * The stop grace period is running out: each running container is handed over (left
   * running, its log read up to here recorded in its name, see ContainerRun.handOff) to the
   * next worker of this name, which re-adopts and reports it (Docker Swarm starts it under
   * the same slot name); each process is cancelled (reported failed, retryable). Handed-over
   * tries stay in the heartbeats' `running` until the last one, and the heartbeats say until
   * when they wait for adoption (`handOffTimeoutMs`): the scheduler neither fails nor retries
   * them before, however slowly the next worker comes up.
   */
  private handOver(): void {
    this.handOverTimer = undefined;
    if (this.currentState !== 'stopping') return;
    const windowMs = this.options.handOffTimeoutMs ?? DEFAULT_HANDOFF_TIMEOUT_MS;
    this.handedOffUntil = new Date(this.now().getTime() + windowMs);
    const untilMs = Date.now() + windowMs;
    for (const entry of this.running.values()) {
      const { tiId, tryNumber } = entry.task;
      if (entry.task.docker && entry.run.handOff?.(untilMs)) {
        entry.handingOff = true;
        this.logger.log(`task instance ${tiId} try ${tryNumber}: stop grace period running out, container handed over to the next worker named ${this.name}`);
      } else {
        this.logger.warn(`task instance ${tiId} try ${tryNumber}: stop grace period running out, cancelled`);
        this.cancelEntry(entry, 'worker stopping: its stop grace period ran out (SWARMFLOW_WORKER_STOP_GRACE)');
      }
    }
  }

  /**
   * Stops taking work and stays up (an operator's drain): pauses the task consumers, gives
   * the buffered tasks back to their queue and lets the running ones finish. Resolves once
   * the `draining` heartbeat is out. A no-op when already draining; throws
   * {@link WorkerStateError} unless active or draining.
   */
  async pause(): Promise<void> {
    if (this.currentState === 'draining') return;
    if (this.currentState !== 'active') throw new WorkerStateError('drain', this.currentState);
    this.currentState = 'draining';
    this.logger.log(`draining: taking no new task, ${this.running.size} running; resume takes work again`);
    this.syncConsumers();
    await this.consumerSync;
    this.giveBackBuffered();
    await this.heartbeat();
  }

  /**
   * Takes work again after {@link pause}. A no-op when active; throws
   * {@link WorkerStateError} when stopping or stopped (or not started).
   */
  async resume(): Promise<void> {
    if (this.currentState === 'active') return;
    if (this.currentState !== 'draining') throw new WorkerStateError('resume', this.currentState);
    this.currentState = 'active';
    this.logger.log('resumed: taking work again');
    this.syncConsumers();
    await this.consumerSync;
    await this.heartbeat();
  }

  /**
   * Drains, cancelling every running task first: each is reported failed with `reason`.
   * For a second SIGTERM, when waiting is not an option.
   */
  shutdown(reason = 'worker shutdown'): Promise<void> {
    const drained = this.drain();
    for (const entry of this.running.values()) this.cancelEntry(entry, reason);
    return drained;
  }

  /**
   * Cancels a try running here (stops its process or container) or waiting in the buffer;
   * either is reported failed with `reason` ('cancelled' = a user's: not retryable).
   * False when the try is not here.
   */
  cancelTask(tiId: number, tryNumber: number, reason = USER_CANCEL): boolean {
    const key = runKey(tiId, tryNumber);
    const entry = this.running.get(key);
    if (entry) {
      this.cancelEntry(entry, reason);
      return true;
    }
    const waiting = this.buffered.get(key);
    if (!waiting) return false;
    this.buffered.delete(key);
    this.refuse(waiting.task, waiting.msg, reason, reason !== USER_CANCEL);
    return true;
  }

  /**
   * How many task messages this worker refused without running them, by reason (forged,
   * altered, stale, a sealed value copied from elsewhere, …): for metrics and health.
   */
  refusedTaskMessages(): Partial<Record<TaskRefusalReason, number>> {
    return Object.fromEntries(this.refusals);
  }

  /** How many control messages this worker refused without obeying them (unsigned, forged, stale, replayed), by reason. */
  refusedControlMessages(): Partial<Record<ControlRefusalReason, number>> {
    return this.controlInbox.refused();
  }

  /** GPU ids free now (tests, health). */
  freeGpuIds(): string[] {
    return [...this.freeGpus];
  }

  /** Resolves once the worker is stopped (after a drain, a shutdown, or a failed start). */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  /** Starts the task if a slot is free, buffers it otherwise. */
  private async onTask(delivered: BrokerMessage<unknown>): Promise<void> {
    let task: TaskMessage;
    try {
      task = openTaskMessage(delivered.body, this.signer, Date.now(), this.maxMessageAgeMs);
    } catch (err) {
      if (!(err instanceof TaskMessageRefusedError)) throw err;
      this.countRefusal(err.reason, delivered.routingKey, err.claims, err.message);
      const stale = err.task;
      const here = stale && [this.running, this.buffered, this.reporting].some((m) => m.has(runKey(stale.tiId, stale.tryNumber)));
      if (stale && !here && this.currentState !== 'stopped') {
        // Authentic but too old: reported failed (retryable), so the scheduler sends a fresh message for a new try
        // (draining or stopping too: nothing else would, and the try would stay queued).
        this.refuse(stale, new TaskDelivery(delivered, () => undefined), `task message refused: ${err.message}`, true);
        return;
      }
      // Dropped (dead-lettered where the queue has a DLX): never run, never requeued.
      delivered.nack(false);
      return;
    }
    const key = runKey(task.tiId, task.tryNumber);
    if (this.running.has(key) || this.buffered.has(key) || this.reporting.has(key) || this.claiming.has(key)) {
      // A redelivery of a try already here: running it twice would be worse than losing the message.
      const held = this.buffered.get(key)?.msg ?? this.running.get(key)?.msg ?? this.reporting.get(key)?.msg ?? this.claiming.get(key) ?? null;
      if (held !== null && !held.settled) {
        // Its message is not settled yet: the earlier delivery may be on a channel that died (a lost
        // connection), where its ack/nack would be no-ops and the message lost. The new one is settled
        // instead; the old one is acked (a no-op on a dead channel, harmless for a true duplicate).
        this.logger.warn(`ignoring a duplicate delivery of task instance ${task.tiId} try ${task.tryNumber}; ` +
          'its message was not settled yet: the new delivery is kept to settle, the earlier one acked');
        held.replace(delivered);
        return;
      }
      this.logger.warn(`ignoring a duplicate delivery of task instance ${task.tiId} try ${task.tryNumber}`);
      delivered.ack();
      return;
    }
    const msg = new TaskDelivery(delivered, (err) =>
      this.logger.warn(`acking the earlier delivery of task instance ${task.tiId} try ${task.tryNumber} failed: ${errorMessage(err)}`));
    if ((delivered.redelivered || delivered.resent) && this.claims && this.currentState === 'active') {
      // Delivered before (or published again by a recovery), to this worker or another: it may run there already, or have ended.
      this.claiming.set(key, msg);
      const answer = await this.claims.claim(task.tiId, task.tryNumber);
      this.claiming.delete(key);
      if (answer.verdict === 'drop') {
        this.logger.warn(`not running redelivered task instance ${task.tiId} try ${task.tryNumber}: ${answer.reason}`);
        msg.ack();
        return;
      }
      if (answer.verdict === 'unanswered') {
        this.logger.warn(`no answer to the claim of redelivered task instance ${task.tiId} try ${task.tryNumber}; giving it back`);
        msg.nack(true);
        return;
      }
    }
    if (this.currentState !== 'active') {
      // Delivered before the consumers were paused for the drain: back to the queue for another worker.
      msg.nack(true);
      return;
    }
    if ((this.cancelledTries.get(key) ?? 0) > Date.now()) {
      // Cancelled while queued: the cancel went to every worker and reached this one first.
      this.cancelledTries.delete(key);
      this.refuse(task, msg, USER_CANCEL, false);
      return;
    }
    const gpus = gpusOf(task);
    if (gpus > this.gpuIds.length) {
      this.refuse(task, msg, `needs ${gpus} GPUs, worker ${this.name} has ${this.gpuIds.length}`, false);
      return;
    }
    const violation = task.kind === 'docker' && task.docker ? containerPolicyViolation(task.docker, this.containerPolicy, this.name) : null;
    if (violation !== null) {
      // Another try would meet the same policy: not retried.
      this.refuse(task, msg, violation, false);
      return;
    }
    if (this.canStart(task)) return this.startTask(task, msg);
    if (this.buffered.size >= this.options.concurrency * 2) {
      // Only with several task queues, each with its own prefetch window (2 × slots).
      this.giveBackAndHold([msg]);
      return;
    }
    this.buffered.set(key, { task, msg, since: Date.now() });
    this.bufferTimer ??= setTimeout(() => this.expireBuffered(), this.maxBufferWaitMs);
  }

  /**
   * Takes a slot and spawns. `task.started` waits `startedDelayMs` ({@link announceStart});
   * the end is handled in the background by {@link finishTask}, started at once so that
   * the slot frees at the exit. The message is settled by one or the other.
   */
  private startTask(task: TaskMessage, msg: TaskDelivery): void {
    const key = runKey(task.tiId, task.tryNumber);
    const gpuIds = this.freeGpus.splice(0, gpusOf(task));
    let secrets: SecretFile[] = [];
    let registryAuth: RegistryAuth | null = null;
    let unsealError: string | null = null;
    let artifacts: ArtifactsAccess = NO_ARTIFACTS;
    let credentialsPath: string | undefined;
    try {
      ({ secrets, registryAuth } = this.unseal(task));
      artifacts = this.artifactsAccess(task);
      if (artifacts.credentials !== null && task.kind !== 'docker') {
        credentialsPath = writeCredentialsFile(this.options.outputDir ?? tmpdir(), task, artifacts.credentials, this.options.runAs ?? null);
        artifacts.env.AWS_SHARED_CREDENTIALS_FILE = credentialsPath;
      }
    } catch (err) {
      unsealError = errorMessage(err);
    }
    // Most tries have nothing to mask: no list is built for them (logMasker shares one no-op masker).
    const masked = secrets.length === 0 && registryAuth === null && artifacts.secret === null ? [] : [
      ...secrets.map((s) => ({ name: s.key, value: s.value })), ...(registryAuth ? [{ name: 'the registry password', value: registryAuth.password }] : []),
      ...(artifacts.secret ? [{ name: 'artifacts_s3_secret_access_key', value: artifacts.secret }] : []),
    ];
    const { mask, tooShort } = logMasker(masked);
    let output: TaskRun | null = null;
    const logs = this.logPublisher(task, mask, undefined, (full) => output?.pauseOutput?.(full));
    if (tooShort.length > 0) logs.add('system', tooShortWarning(tooShort));
    const spawnedAt = Date.now();
    const startedAt = this.now().toISOString();
    const logStart = (pid: number | null): void => logs.add('system',
      `try ${task.tryNumber} of ${task.dagId}.${task.taskId} (run ${task.runId}) started on ${this.name}` +
      (pid !== null ? ` as pid ${pid}` : '') +
      (task.kind === 'docker' && task.docker ? (task.cacheCheck ? `, to confirm its cache hit (or else run a container of ${task.docker.image})` : ` in a container of ${task.docker.image}`) : '') +
      (gpuIds.length > 0 ? ` with GPU ${gpuIds.join(',')}` : ''));
    /**
     * task.started waits for the pid when it is due (at once, or at the end of `startedDelayMs`)
     * and the spawner has not answered yet: it carries the pid, and nothing else does later.
     */
    let announceOnSpawn = false;
    let run: TaskRun;
    const outputPath = task.kind === 'docker' ? null : this.outputFiles.pathFor(task);
    if (unsealError !== null) run = failedRun(unsealError);
    else if (task.kind === 'docker') run = this.startContainer(task, logs, mask, gpuIds, secrets, registryAuth, artifacts);
    else {
      run = this.run({
        command: task.command,
        env: taskEnv(task, artifacts.env === NO_ENV ? { [OUTPUT_VARIABLE]: outputPath! } : { ...artifacts.env, [OUTPUT_VARIABLE]: outputPath! }),
        baseEnv: this.baseEnv,
        runAs: this.options.runAs ?? null,
        cwd: task.cwd,
        timeoutMs: task.timeoutMs,
        graceMs: this.graceMs,
        // The pid may come a moment after the call (native spawner), always before the first line.
        onSpawn: (pid) => {
          logStart(pid);
          if (!announceOnSpawn) return;
          announceOnSpawn = false;
          this.announceStart(entry);
        },
        onLine: (stream, line) => logs.add(stream, line),
        mask: mask.longest > 0 ? mask : undefined,
        onKill: (signal, cause) => logs.add('system', this.describeKill(signal, cause, task)),
      });
    }
    output = run;
    // A process that never started has no start line: its end line gives the error.
    if (unsealError !== null || task.kind === 'docker') logStart(null);

    const entry: RunningTask = {
      task, msg, run, logs, gpuIds, mask, spawnedAt, startedAt, cancelReason: null, started: null, startedTimer: undefined, outputPath, credentialsPath,
    };
    this.running.set(key, entry);
    const pidPending = task.kind !== 'docker' && unsealError === null && run.pid === null;
    if (this.startedDelayMs === 0 && pidPending) announceOnSpawn = true;
    else if (this.startedDelayMs === 0) this.announceStart(entry);
    else {
      entry.startedTimer = setTimeout(() => {
        // On a loaded machine the native spawner may report the pid after the delay (a start sent then said pid null for good).
        if (pidPending && run.pid === null) {
          entry.startedTimer = undefined;
          announceOnSpawn = true;
        } else this.announceStart(entry);
      }, this.startedDelayMs);
    }
    if (run.running) this.announceContainer(key, entry, run.running);
    this.finishTask(key, entry).catch((err: unknown) =>
      this.logger.error(`reporting the end of task instance ${task.tiId} try ${task.tryNumber} failed: ${errorMessage(err)}`),
    );
  }

  /**
   * The outputs a successful try wrote (its output file, or the container's); a file that
   * is too large or not a JSON object fails the try (`verdict` is changed), for good.
   */
  private takeOutputs(entry: RunningTask, result: Awaited<TaskRun['result']>, verdict: { outcome: TaskFinishedEvent['outcome']; reason: string | null }): { value?: Record<string, unknown>; error?: true } {
    const max = this.options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (verdict.outcome !== 'success') {
      if (entry.outputPath) discardOutputFile(entry.outputPath);
      return {};
    }
    try {
      if (entry.outputPath) return { value: takeOutputFile(entry.outputPath, max) };
      if (!result.output) return {};
      if ('tooLarge' in result.output) throw outputTooLarge(result.output.tooLarge, max);
      return { value: parseOutputs(result.output.content, max) };
    } catch (err) {
      if (!(err instanceof OutputError)) throw err;
      verdict.outcome = 'failed';
      verdict.reason = err.message;
      entry.logs.add('system', err.message);
      return { error: true };
    }
  }

  /**
   * The process outlived `startedDelayMs`: publishes `task.started` and acks the message
   * once it is confirmed, so a long task never meets RabbitMQ's consumer timeout. When it
   * is not confirmed, the process is stopped and {@link finishTask} gives the message back.
   */
  private announceStart(entry: RunningTask): void {
    const { task, run, msg } = entry;
    entry.startedTimer = undefined;
    const event: TaskStartedEvent = {
      type: 'task.started', tiId: task.tiId, runPk: task.runPk, tryNumber: task.tryNumber, worker: this.name,
      hostname: this.options.hostname, pid: run.pid ?? null, at: entry.startedAt,
    };
    entry.started = this.broker.publish(EXCHANGES.events, 'task.started', event).then(
      () => {
        msg?.ack();
        return true;
      },
      (err: unknown) => {
        // Nobody knows it started: stop it, and once it is gone give the message back, so the try runs once, somewhere.
        this.logger.error(`task.started of task instance ${task.tiId} try ${task.tryNumber} not confirmed, requeueing: ${errorMessage(err)}`);
        run.cancel('task.started not confirmed');
        return false;
      },
    );
  }

  /**
   * The try's container started: publishes `task.container_started` (its id, image digest,
   * GPU devices, runtime), so the try's page shows them while it runs. After `task.started`
   * when that is on its way; nothing when the try ended (or was handed over) first: its
   * `task.finished` carries the same. Not retried: the end reports them anyway.
   */
  private announceContainer(key: string, entry: RunningTask, running: Promise<ContainerStart | null>): void {
    const { task } = entry;
    void running.then(async (start) => {
      if (start === null || !task.docker || this.running.get(key) !== entry) return;
      if (entry.started !== null && !(await entry.started)) return;
      const event: TaskContainerStartedEvent = {
        type: 'task.container_started', tiId: task.tiId, runPk: task.runPk, tryNumber: task.tryNumber, worker: this.name,
        container: this.containerDetails(entry, start.containerId), at: this.now().toISOString(),
      };
      if (start.imageDigest !== null) event.image = { ref: task.imageRef ?? task.docker.image, digest: start.imageDigest };
      await this.broker.publish(EXCHANGES.events, 'task.container_started', event);
    }).catch((err: unknown) => {
      this.logger.warn(`task.container_started of task instance ${task.tiId} try ${task.tryNumber} not published (its end reports the container): ${errorMessage(err)}`);
    });
  }

  /** A container try's container as `task.container_started` and `task.finished` report it. */
  private containerDetails(entry: RunningTask, id: string): NonNullable<TaskFinishedEvent['container']> {
    // The runtime as container-options sets it: the task's, else `nvidia` for GPUs in runtime mode.
    const docker = entry.task.docker;
    const runtime = docker?.runtime ?? (entry.gpuIds.length > 0 && docker?.gpuMode === 'runtime' ? 'nvidia' : null);
    return { id, gpus: [...entry.gpuIds], runtime };
  }

  /**
   * Waits for the process and frees its slot; then publishes the last log batch and
   * `task.finished` together. If `task.started` went out, they wait for its confirm:
   * all go out on the publisher's channel in that order, the one the scheduler needs.
   * If the process ended within `startedDelayMs`, no `task.started` is ever published
   * and the message is acked once `task.finished` is confirmed (given back if it is not).
   */
  private async finishTask(key: string, entry: RunningTask): Promise<void> {
    const { task, run, logs, msg } = entry;
    const result = await run.result;
    // Deciding here, before any await, is what keeps a late task.started from following task.finished.
    clearTimeout(entry.startedTimer);
    entry.startedTimer = undefined;
    const started = entry.started;
    if (result.handedOff) return this.finishHandOff(key, entry, started);
    const verdict = taskVerdict(result, task, entry.cancelReason);
    if (result.oomKilled && verdict.outcome === 'failed' && verdict.reason === null) {
      verdict.reason = `out of memory (limit ${task.docker?.memoryBytes ?? 'none'} bytes)`;
    }
    const outputs = this.takeOutputs(entry, result, verdict);
    if (entry.credentialsPath !== undefined) discardOutputFile(entry.credentialsPath);
    // Outputs are shown to viewers and fed to templates: a secret value in them is masked as in the log.
    if (outputs.value !== undefined && entry.mask.longest > 0) outputs.value = maskOutputs(outputs.value, entry.mask);
    const reason = verdict.reason === null ? null : entry.mask(verdict.reason);
    logs.summarizeDropped();
    if (result.cacheHit && task.cacheCheck) {
      logs.add('system', `ended cached: takes the outputs of task instance ${task.cacheCheck.tiId} try ${task.cacheCheck.tryNumber}, whose image digest it still has`);
    } else {
      logs.add('system', describeEnd(result, Date.now() - entry.spawnedAt) + (reason ? ` (${reason})` : ''));
    }
    const finished: TaskFinishedEvent = {
      type: 'task.finished', tiId: task.tiId, runPk: task.runPk, tryNumber: task.tryNumber, worker: this.name,
      outcome: verdict.outcome, exitCode: result.exitCode, signal: result.signal, reason,
      logTail: logs.tail(), startedAt: entry.startedAt, hostname: this.options.hostname, at: this.now().toISOString(),
    };
    if (reason === USER_CANCEL && result.cancelled) finished.retryable = false;
    if (outputs.error) finished.retryable = false;
    if (outputs.value !== undefined) finished.outputs = outputs.value;
    if (result.imageDigest && task.docker) finished.image = { ref: task.imageRef ?? task.docker.image, digest: result.imageDigest };
    if (task.cacheKey !== undefined) finished.cacheKey = task.cacheKey;
    if (result.cacheHit && task.cacheCheck) finished.cachedFrom = { tiId: task.cacheCheck.tiId, tryNumber: task.cacheCheck.tryNumber };
    const containerId = task.kind === 'docker' && !result.cacheHit ? entry.run.containerId : null;
    if (containerId && task.docker) finished.container = this.containerDetails(entry, containerId);
    this.tally.finished(finished.outcome);
    this.reporting.set(key, { task, msg });
    this.release(key, result.containerMayRun === true);
    /** How the message is settled once the try leaves `reporting`; null when `announceStart` acked it. */
    let settle: 'ack' | 'requeue' | null = started === null ? 'requeue' : null;
    try {
      if (started !== null && !(await started)) {
        logs.discard();
        settle = 'requeue';
        return;
      }
      // The last lines ride in task.finished, which goes out once the batches before them
      // are confirmed and names them: the scheduler applies the end when they are stored.
      const final = logs.takeFinal();
      if (final) finished.logs = final;
      await logs.flush();
      const batches = logs.publishedBatches();
      if (batches !== null) finished.logBatches = batches;
      await this.publishWithRetries(EXCHANGES.events, 'task.finished', finished);
      this.recentEnds.add(task.tiId, task.tryNumber);
      if (started === null) settle = 'ack';
    } finally {
      this.reporting.delete(key);
      // Before notifyIfIdle: drain cancels the consumers once idle, which would requeue an unsettled message.
      // After reporting.delete: a requeued message redelivered here must not be taken for a duplicate.
      if (settle === 'ack') msg?.ack();
      else if (settle === 'requeue') msg?.nack(true);
      this.notifyIfIdle();
    }
  }

  /**
   * A container handed over ({@link handOver}): no `task.finished` (the next worker of this
   * name reports it); its log lines go out and are confirmed, and the try stays listed as
   * running in the heartbeats. A message not acked yet (its task.started deferred or not
   * confirmed) is given back: the redelivery finds the try re-adopted.
   */
  private async finishHandOff(key: string, entry: RunningTask, started: Promise<boolean> | null): Promise<void> {
    const { task, logs, msg } = entry;
    logs.add('system', `worker ${this.name} stopping: container left running; the next worker named ${this.name} follows it on`);
    this.handedOff.set(key, { tiId: task.tiId, tryNumber: task.tryNumber });
    this.reporting.set(key, { task, msg });
    this.release(key);
    let requeue = started === null;
    try {
      if (started !== null && !(await started)) requeue = true;
      await logs.flush();
    } catch (err) {
      this.logger.error(`task instance ${task.tiId} try ${task.tryNumber}: log lines of the hand-over not confirmed: ${errorMessage(err)}`);
    } finally {
      this.reporting.delete(key);
      if (requeue) msg?.nack(true);
      this.notifyIfIdle();
    }
  }

  /**
   * Reports a delivered try failed without running it (cancelled while queued, more GPUs
   * than this worker has, cancelled in the buffer): a system log line and `task.finished`,
   * then the ack once confirmed (a requeue when not).
   */
  private refuse(task: TaskMessage, msg: TaskDelivery, reason: string, retryable: boolean): void {
    const key = runKey(task.tiId, task.tryNumber);
    this.logger.log(`task instance ${task.tiId} try ${task.tryNumber} not run: ${reason}`);
    const logs = this.logPublisher(task, (text) => text);
    logs.add('system', `try ${task.tryNumber} of ${task.dagId}.${task.taskId} (run ${task.runId}) not run on ${this.name}: ${reason}`);
    const finished: TaskFinishedEvent = {
      type: 'task.finished', tiId: task.tiId, runPk: task.runPk, tryNumber: task.tryNumber, worker: this.name,
      outcome: 'failed', exitCode: null, signal: null, reason, logTail: [], at: this.now().toISOString(),
    };
    if (!retryable) finished.retryable = false;
    this.tally.finished(finished.outcome);
    const final = logs.takeFinal();
    if (final) finished.logs = final;
    this.reporting.set(key, { task, msg });
    Promise.all([logs.flush(), this.publishWithRetries(EXCHANGES.events, 'task.finished', finished)]).then(
      () => msg.ack(),
      (err: unknown) => {
        this.logger.error(`task.finished of task instance ${task.tiId} try ${task.tryNumber} not confirmed, requeueing: ${errorMessage(err)}`);
        msg.nack(true);
      },
    ).finally(() => {
      this.reporting.delete(key);
      this.notifyIfIdle();
    });
  }

  /** A slot is free, and as many GPUs as the task needs. */
  private canStart(task: TaskMessage): boolean {
    return this.running.size < this.options.concurrency && gpusOf(task) <= this.freeGpus.length;
  }

  private logPublisher(task: TaskMessage, mask: (text: string) => string, firstSeq?: number, onPressure?: (full: boolean) => void): TaskLogPublisher {
    return new TaskLogPublisher(this.broker, task.tiId, task.tryNumber, {
      flushMs: this.logFlushMs,
      maxChars: this.options.logLimitChars,
      onPressure,
      maxLines: LOG_BATCH_LINES,
      tailLines: LOG_TAIL_LINES,
      now: this.now,
      mask,
      firstSeq,
      onError: (err) => this.logger.warn(`lost a log batch of task instance ${task.tiId} try ${task.tryNumber}: ${errorMessage(err)}`),
    });
  }

  /** The executor of container tasks; the default one is made on first use. */
  private dockerExecutor(): DockerExecutor | null {
    if (this.docker === undefined) this.docker = defaultDockerExecutor();
    return this.docker;
  }

  /** Logs (no secret material: the reason and what the envelope claims) and counts a refused task message. */
  private countRefusal(reason: TaskRefusalReason, routingKey: string, claims: { tiId: number; tryNumber: number } | null, problem: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
    const what = claims ? ` (it names task instance ${claims.tiId} try ${claims.tryNumber})` : '';
    this.logger.error(`refused a task message on queue ${routingKey}${what}: ${reason}: ${problem}; not run`);
  }

  /** The try's artefacts prefix and S3 settings ({@link artifactsAccess}); throws a message fit for the try's log. */
  private artifactsAccess(task: TaskMessage): ArtifactsAccess {
    return artifactsAccess(task, this.clusterKey, this.name);
  }

  /** Decrypts a container task's secrets and registry credentials; throws a message fit for the task's log. */
  private unseal(task: TaskMessage): { secrets: SecretFile[]; registryAuth: RegistryAuth | null } {
    if (task.kind !== 'docker') return { secrets: [], registryAuth: null };
    const sealed = task.secrets ?? [];
    if (sealed.length === 0 && task.registryAuth === undefined) return { secrets: [], registryAuth: null };
    const key = this.clusterKey;
    if (key === null) {
      throw new Error(`worker ${this.name} has no cluster key to decrypt the task's secrets: set SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE on the worker`);
    }
    const open = (purpose: 'secret' | 'registry', name: string, ciphertext: string): string => {
      try {
        return key.decryptFor(ciphertext, taskSecretContext(purpose, name, task.tiId, task.tryNumber));
      } catch (err) {
        if (err instanceof SecretDecryptError && (err.reason === 'unbound' || err.reason === 'wrong_context')) {
          this.countRefusal('secret_not_bound', task.queue, task, `${purpose} "${name}": ${err.message}`);
        }
        throw err;
      }
    };
    const secrets = sealed.map(({ key: name, ciphertext }) => {
      try {
        return { key: name, value: open('secret', name, ciphertext) };
      } catch (err) {
        throw new Error(`cannot decrypt secret "${name}": ${errorMessage(err)}`);
      }
    });
    let registryAuth: RegistryAuth | null = null;
    if (task.registryAuth !== undefined) {
      let parsed: Partial<RegistryAuth>;
      try {
        parsed = JSON.parse(open('registry', task.docker?.registryCredentials ?? '', task.registryAuth)) as Partial<RegistryAuth>;
      } catch (err) {
        throw new Error(`cannot read the registry credentials: ${err instanceof SyntaxError ? 'they are not JSON { "username", "password", "serveraddress" }' : errorMessage(err)}`);
      }
      if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
        throw new Error('the registry credentials must be JSON { "username", "password", "serveraddress" }');
      }
      registryAuth = { username: parsed.username, password: parsed.password, serveraddress: parsed.serveraddress ?? '' };
    }
    return { secrets, registryAuth };
  }

  private startContainer(
    task: TaskMessage, logs: TaskLogPublisher, mask: LogMask, gpuIds: string[], secrets: SecretFile[], registryAuth: RegistryAuth | null,
    artifacts: ArtifactsAccess,
  ): TaskRun {
    const docker = this.dockerExecutor();
    if (docker === null || !task.docker) return failedRun(`worker ${this.name} has no Docker engine to run container tasks`);
    const labels: Record<string, string> = {
      ...taskLabels({ installation: this.installation, worker: this.name, tiId: task.tiId, tryNumber: task.tryNumber, dagId: task.dagId, runId: task.runId, taskId: task.taskId }),
      [WORKER_LABELS.queue]: task.queue,
    };
    if (task.timeoutMs !== null) labels[WORKER_LABELS.timeoutMs] = String(task.timeoutMs);
    if (task.skipExitCode !== null) labels[WORKER_LABELS.skipExitCode] = String(task.skipExitCode);
    if (gpuIds.length > 0) labels[WORKER_LABELS.gpus] = gpuIds.join(',');
    // Sealed for this try: the label opens nothing anywhere else.
    const sealed = (task.secrets ?? []).map((s) => ({ k: s.key, c: s.ciphertext }));
    if (task.artifacts?.s3 !== undefined) sealed.push({ k: ARTIFACTS_SEAL, c: task.artifacts.s3 });
    if (sealed.length > 0) labels[WORKER_LABELS.sealedSecrets] = JSON.stringify(sealed);
    // The S3 keys go in the secrets mount, not the environment (which `docker inspect` shows).
    const env: Record<string, string> = { ...taskEnv(task), ...artifacts.env, [OUTPUT_VARIABLE]: CONTAINER_OUTPUT_PATH };
    if (artifacts.credentials !== null) {
      secrets = [...secrets, { key: AWS_CREDENTIALS_FILE, value: artifacts.credentials }];
      env.AWS_SHARED_CREDENTIALS_FILE = `${task.docker.secretsPath.replace(/\/+$/, '')}/${AWS_CREDENTIALS_FILE}`;
    }
    return docker.run({
      docker: task.docker, command: task.command, env,
      cwd: task.cwd, timeoutMs: task.timeoutMs, graceMs: this.graceMs,
      labels, secrets, gpuIds, hideGpus: this.gpuIds.length > 0, registryAuth, cachedDigest: task.cacheCheck?.digest,
      output: { path: CONTAINER_OUTPUT_PATH, maxBytes: this.options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES },
      noNewPrivileges: !this.containerPolicy.allowPrivileged, pidsLimit: this.containerPolicy.pidsLimit,
    }, {
      onLine: (stream, line) => logs.add(stream, line),
      mask,
      onKill: (signal, cause) => logs.add('system', this.describeKill(signal, cause, task, 'the container')),
      onStatus: (message) => logs.add('system', message),
    });
  }

  /**
   * Finds the containers this worker (same name) left when it stopped without draining:
   * running ones are followed to their end and reported, ended ones reported at once; they
   * hold their slots and GPUs meanwhile. Then removes leftover seed containers and secrets
   * volumes. Without a reachable Docker engine there is nothing to re-adopt.
   */
  private async reattach(): Promise<void> {
    if (this.docker === undefined && !process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return;
    const docker = this.dockerExecutor();
    if (docker === null) return;
    let containers: ContainerSummary[];
    try {
      containers = await withTimeout(docker.listTaskContainers(this.name, this.installation), REATTACH_LIST_TIMEOUT_MS, 'listing containers');
    } catch (err) {
      this.logger.warn(`cannot look for containers left by an earlier run of ${this.name}: ${errorMessage(err)}`);
      return;
    }
    for (const container of containers) {
      try {
        const key = this.adopt(docker, container);
        if (key !== null) this.adopted.push(key);
      } catch (err) {
        this.logger.error(`cannot re-adopt container ${container.id.slice(0, 12)}: ${errorMessage(err)}`);
      }
    }
    await this.reapHandedOver();
    try {
      const reaped = await docker.reap(this.name, this.installation);
      if (reaped.seeds + reaped.volumes > 0) this.logger.log(`removed ${reaped.seeds} seed container(s) and ${reaped.volumes} secrets volume(s) left by an earlier run`);
    } catch (err) {
      this.logger.warn(`cannot remove what an earlier run of ${this.name} left: ${errorMessage(err)}`);
    }
  }

  /**
   * Stops and removes the containers of this worker's installation on its Docker engine
   * that were handed over and not adopted in time (see DockerExecutor.reapHandedOver): at
   * start, then every HANDOFF_REAP_INTERVAL_MS. Their tries are the scheduler's to retry
   * (as lost). Never throws.
   */
  private async reapHandedOver(): Promise<void> {
    const docker = this.docker;
    if (!docker) return;
    try {
      const reaped = await docker.reapHandedOver({
        installation: this.installation,
        graceMs: this.graceMs,
        onError: (c, err) => this.logger.warn(`cannot remove container ${c.name}, handed over and not adopted in time: ${errorMessage(err)}`),
      });
      for (const c of reaped) {
        this.logger.warn(`stopped and removed container ${c.name} (task instance ${c.labels[LABELS.tiId]} try ${c.labels[LABELS.tryNumber]}): ` +
          'handed over by a stopping worker and not adopted in time (SWARMFLOW_HANDOFF_TIMEOUT); the scheduler retries its try as lost');
      }
    } catch (err) {
      this.logger.warn(`cannot look for handed-over containers nobody adopted: ${errorMessage(err)}`);
    }
  }

  /**
   * Asks the scheduler (a claim) about each try whose container was re-adopted at start: one
   * it no longer has running on this worker (cleared, ended, retried elsewhere meanwhile)
   * is stopped, so that it does not run beside its successor. Without an answer (no
   * scheduler, claims off) the container is followed on, as before.
   */
  private claimAdopted(): void {
    const keys = this.adopted;
    this.adopted = [];
    if (!this.claims) return;
    for (const key of keys) {
      const { tiId, tryNumber } = parseKey(key);
      void this.claims.claim(tiId, tryNumber).then((answer) => {
        const entry = this.running.get(key);
        if (answer.verdict !== 'drop' || !entry) return;
        this.logger.warn(`task instance ${tiId} try ${tryNumber}: stopping its re-adopted container: ${answer.reason}`);
        entry.logs.add('system', `worker ${this.name}: the try is no longer running (${answer.reason}): its re-adopted container is stopped`);
        this.cancelEntry(entry, `no longer running: ${answer.reason}`);
      });
    }
  }

  /** Re-adopts one container; the key of its try, or null when that try is here already. */
  private adopt(docker: DockerExecutor, container: ContainerSummary): string | null {
    const l = container.labels;
    const tiId = Number(l[LABELS.tiId]);
    const tryNumber = Number(l[LABELS.tryNumber]);
    if (!Number.isInteger(tiId) || !Number.isInteger(tryNumber)) throw new Error('its labels do not name a task instance try');
    const optionalInt = (value: string | undefined): number | null => (value === undefined || value === '' ? null : Number(value));
    const task: TaskMessage = {
      tiId, tryNumber, dagId: l[LABELS.dagId] ?? '?', runId: l[LABELS.runId] ?? '?', taskId: l[LABELS.taskId] ?? '?',
      queue: l[WORKER_LABELS.queue] ?? '', command: [], env: {}, cwd: null, timeoutMs: optionalInt(l[WORKER_LABELS.timeoutMs]),
      skipExitCode: optionalInt(l[WORKER_LABELS.skipExitCode]), priority: 0, kind: 'docker',
    };
    const key = runKey(tiId, tryNumber);
    if (this.running.has(key)) return null;
    const held = (l[WORKER_LABELS.gpus] ?? '').split(',').filter((id) => id !== '');
    const gpuIds = held.filter((id) => this.freeGpus.includes(id));
    this.freeGpus = this.freeGpus.filter((id) => !gpuIds.includes(id));
    const { mask, tooShort } = logMasker(this.unsealForMasking(l[WORKER_LABELS.sealedSecrets], tiId, tryNumber).map((value, i) => ({ name: `secret ${i + 1}`, value })));
    let output: TaskRun | null = null;
    const logs = this.logPublisher(task, mask, adoptedFirstSeq(), (full) => output?.pauseOutput?.(full));
    if (tooShort.length > 0) logs.add('system', tooShortWarning(tooShort));
    logs.add('system', `worker ${this.name} restarted: re-adopted container ${container.id.slice(0, 12)} (${container.state})`);
    this.logger.log(`re-adopted container ${container.id.slice(0, 12)} (${container.state}) of task instance ${tiId} try ${tryNumber}`);
    const run = docker.adopt(container, {
      onLine: (stream, line) => logs.add(stream, line),
      mask,
      onKill: (signal, cause) => logs.add('system', this.describeKill(signal, cause, task, 'the container')),
      onStatus: (message) => logs.add('system', message),
    }, { timeoutMs: task.timeoutMs, graceMs: this.graceMs, tailLines: LOG_TAIL_LINES });
    output = run;
    const entry: RunningTask = {
      task, msg: null, run, logs, gpuIds, mask, spawnedAt: Date.now(), startedAt: this.now().toISOString(),
      cancelReason: null, started: Promise.resolve(true), startedTimer: undefined,
    };
    this.running.set(key, entry);
    this.finishTask(key, entry).catch((err: unknown) =>
      this.logger.error(`reporting the end of task instance ${tiId} try ${tryNumber} failed: ${errorMessage(err)}`),
    );
    return key;
  }

  /** The secret values of a re-adopted container, from its sealed label; none (with a warning) when they cannot be read. */
  private unsealForMasking(label: string | undefined, tiId: number, tryNumber: number): string[] {
    if (label === undefined) return [];
    try {
      const tokens = JSON.parse(label) as { k: string; c: string }[];
      if (this.clusterKey === null) throw new Error('this worker has no cluster key');
      return tokens.map((t) => {
        const value = this.clusterKey!.decryptFor(t.c, taskSecretContext('secret', t.k, tiId, tryNumber));
        // The artefacts store's settings are sealed as JSON: the secret access key is what the log must not show.
        return t.k === ARTIFACTS_SEAL ? (JSON.parse(value) as { secretAccessKey: string }).secretAccessKey : value;
      });
    } catch (err) {
      this.logger.warn(`re-adopted try ${runKey(tiId, tryNumber)}: its secrets cannot be read to mask its log (${errorMessage(err)})`);
      return [];
    }
  }

  private cancelEntry(entry: RunningTask, reason: string): void {
    entry.cancelReason ??= reason;
    entry.run.cancel(reason);
  }

  /**
   * Frees a slot and the try's GPUs: the buffered tasks that now fit start, oldest first (a
   * task waiting for GPUs does not hold back one that needs none), and consumers held back resume.
   */
  private release(key: string, containerMayRun = false): void {
    const entry = this.running.get(key);
    if (!entry) return;
    this.running.delete(key);
    if (entry.gpuIds.length > 0 && containerMayRun) {
      // The executor lost track of the container (its exit code is unknown): it may still use them.
      this.logger.warn(`GPU ${entry.gpuIds.join(',')} of task instance ${entry.task.tiId} try ${entry.task.tryNumber} stay reserved: ` +
        'its container may still be running (it is re-adopted when this worker restarts)');
    } else if (entry.gpuIds.length > 0) {
      this.freeGpus = this.gpuIds.filter((id) => this.freeGpus.includes(id) || entry.gpuIds.includes(id));
    }
    if (this.currentState === 'active') {
      for (const [nextKey, { task, msg }] of this.buffered) {
        if (this.running.size >= this.options.concurrency) break;
        if (!this.canStart(task)) continue;
        this.buffered.delete(nextKey);
        try {
          this.startTask(task, msg);
        } catch (err) {
          this.logger.error(`starting task instance ${task.tiId} try ${task.tryNumber} failed, requeueing: ${errorMessage(err)}`);
          msg.nack(true);
        }
      }
    }
    if (this.holdUntilSlotFrees) {
      this.holdUntilSlotFrees = false;
      this.syncConsumers();
    }
    this.notifyIfIdle();
  }

  /** Gives back (nack, requeue) the buffered tasks that waited `maxBufferWaitMs`, then pauses the consumers until a slot frees. */
  private expireBuffered(): void {
    this.bufferTimer = undefined;
    const now = Date.now();
    const expired: TaskDelivery[] = [];
    for (const [key, { msg, since }] of this.buffered) {
      if (now - since < this.maxBufferWaitMs) break;
      this.buffered.delete(key);
      expired.push(msg);
    }
    if (expired.length > 0) {
      this.logger.warn(`gave ${expired.length} task(s) back to the queue after ${formatSeconds(this.maxBufferWaitMs)} without a free slot; pausing until one frees`);
      this.giveBackAndHold(expired);
    }
    const oldest = this.buffered.values().next();
    if (!oldest.done) this.bufferTimer = setTimeout(() => this.expireBuffered(), oldest.value.since + this.maxBufferWaitMs - now);
  }

  /** Drain, shutdown: the buffered tasks go back to their queue, never to run here. */
  private giveBackBuffered(): void {
    clearTimeout(this.bufferTimer);
    this.bufferTimer = undefined;
    if (this.buffered.size === 0) return;
    this.logger.log(`giving ${this.buffered.size} waiting task(s) back to the queue`);
    for (const { msg } of this.buffered.values()) msg.nack(true);
    this.buffered.clear();
  }

  /** Pauses the task consumers until a slot frees, then requeues the messages (after the pause, so they go to another consumer). */
  private giveBackAndHold(messages: TaskDelivery[]): void {
    if (!this.holdUntilSlotFrees) {
      this.holdUntilSlotFrees = true;
      this.syncConsumers();
    }
    void this.consumerSync.then(() => {
      for (const msg of messages) msg.nack(true);
    });
  }

  private notifyIfIdle(): void {
    if (this.running.size > 0 || this.reporting.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when no process runs and every ended try is reported. */
  private whenIdle(): Promise<void> {
    if (this.running.size === 0 && this.reporting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Pauses the task consumers once the worker no longer takes work, or while a message
   * given back waits for a free slot; resumes them otherwise. Changes are chained so a
   * resume never overtakes a pause.
   */
  private syncConsumers(): void {
    this.consumerSync = this.consumerSync
      .then(async () => {
        const pause = this.currentState !== 'active' || this.holdUntilSlotFrees;
        if (pause === this.consumersPaused) return;
        this.consumersPaused = pause;
        await Promise.all(this.taskConsumers.map((c) => (pause ? c.pause() : c.resume())));
      })
      .catch((err: unknown) => this.logger.error(`could not pause/resume the task consumers: ${errorMessage(err)}`));
  }

  private async onControl(msg: BrokerMessage<unknown>): Promise<void> {
    let body: unknown;
    try {
      body = this.controlInbox.open(msg.body, msg.routingKey, Date.now());
    } catch (err) {
      if (!(err instanceof ControlMessageRefusedError)) throw err;
      this.logger.error(`refused a control message on ${msg.routingKey}: ${err.reason}: ${err.message}; not obeyed`);
      msg.nack(false);
      return;
    }
    if (this.onClaimControl(body)) {
      msg.ack();
      return;
    }
    let command: ControlMessage;
    try {
      command = decodeControlMessage(body);
    } catch (err) {
      this.logger.error(`dropping a control message: ${errorMessage(err)}`);
      msg.nack(false);
      return;
    }
    msg.ack();
    switch (command.type) {
      case 'task.cancel':
        // Cancels of queued tries go to every worker (worker.all); only the one holding the try acts,
        // and every other remembers it in case the task message reaches it later.
        if (this.cancelTask(command.tiId, command.tryNumber, USER_CANCEL)) {
          this.logger.log(`cancelling task instance ${command.tiId} try ${command.tryNumber}`);
        } else if (!this.reporting.has(runKey(command.tiId, command.tryNumber))) {
          this.rememberCancel(runKey(command.tiId, command.tryNumber));
        }
        return;
      case 'worker.drain':
      case 'worker.shutdown':
      case 'worker.resume':
        if (command.worker !== this.name && command.worker !== 'all') return;
        this.obey(command.type);
        return;
    }
  }

  /** Answers to claims and the scheduler's asks for a heartbeat (while a claim waits on this worker). */
  private onClaimControl(body: unknown): boolean {
    if (this.claims?.onControl(body)) return true;
    if ((body as { type?: unknown } | null)?.type !== 'worker.heartbeat.request') return false;
    void this.heartbeat();
    return true;
  }

  /**
   * After a broker outage: heartbeat at once (the scheduler learns which tries still run
   * here, and hears from this worker before it answers other workers' claims). Buffered
   * tries came over the dead connection: the broker redelivers their messages, so they are
   * forgotten here rather than run beside another worker's copy.
   */
  private onBrokerStatus(status: 'connected' | 'disconnected'): void {
    this.brokerDown = status === 'disconnected';
    if (this.currentState === 'idle' || this.currentState === 'stopped') return;
    if (status === 'connected') {
      clearTimeout(this.giveUpTimer);
      this.giveUpTimer = undefined;
    } else if (this.currentState === 'stopping') {
      this.armGiveUp();
    }
    if (status === 'disconnected') {
      if (this.buffered.size > 0) this.logger.warn(`broker connection lost: forgetting ${this.buffered.size} buffered task(s), which the broker redelivers`);
      this.buffered.clear();
      clearTimeout(this.bufferTimer);
      this.bufferTimer = undefined;
      return;
    }
    void this.heartbeat();
  }

  /** A command the current state does not allow (resume while stopping) is logged, not thrown: the sender cannot hear it. */
  private obey(command: 'worker.drain' | 'worker.shutdown' | 'worker.resume'): void {
    const done = command === 'worker.shutdown' ? this.drain() : command === 'worker.drain' ? this.pause() : this.resume();
    done.catch((err: unknown) => this.logger.warn(`ignoring ${command}: ${errorMessage(err)}`));
  }

  private rememberCancel(key: string): void {
    const now = Date.now();
    for (const [k, until] of this.cancelledTries) {
      if (until > now) break;
      this.cancelledTries.delete(k);
    }
    this.cancelledTries.delete(key);
    this.cancelledTries.set(key, now + CANCEL_MEMORY_MS);
  }

  private armGiveUp(): void {
    if (this.giveUpTimer) return;
    this.giveUpTimer = setTimeout(() => this.giveUp(), this.stopTimeoutMs);
  }

  /**
   * Stopping, with the broker unreachable for `stopTimeoutMs`: nothing more can be
   * reported, so waiting longer only ends in a SIGKILL (Swarm's stop_grace_period). Logs
   * each try given up on, SIGTERMs process tries (they would outlive the worker), leaves
   * containers running (a worker of the same name re-adopts and reports them), and stops.
   * The broker hands unacked messages back itself; an acked try whose end is not
   * reported is retried by the scheduler once this worker's heartbeats stop.
   */
  private giveUp(): void {
    this.giveUpTimer = undefined;
    if (this.currentState !== 'stopping' || !this.brokerDown) return;
    const seconds = formatSeconds(this.stopTimeoutMs);
    const running = [...this.running.values()];
    const reporting = [...this.reporting.values()];
    this.logger.warn(`RabbitMQ unreachable for ${seconds} while stopping (SWARMFLOW_WORKER_STOP_TIMEOUT): giving up on ` +
      `${running.length} running and ${reporting.length} unreported ended task(s); stopping without a last heartbeat`);
    for (const entry of running) {
      const { tiId, tryNumber } = entry.task;
      if (entry.task.docker) {
        this.logger.warn(`task instance ${tiId} try ${tryNumber}: container left running, unreported; a worker named ${this.name} re-adopts it`);
      } else {
        this.logger.warn(`task instance ${tiId} try ${tryNumber}: process sent SIGTERM, unreported; the scheduler retries it when this worker's heartbeats stop`);
        this.cancelEntry(entry, 'worker shutdown (broker unreachable)');
      }
    }
    for (const { task } of reporting) {
      this.logger.warn(`task instance ${task.tiId} try ${task.tryNumber}: ended, task.finished not published; the scheduler retries it when this worker's heartbeats stop`);
    }
    clearInterval(this.heartbeatTimer);
    clearInterval(this.reapTimer);
    clearTimeout(this.bufferTimer);
    clearTimeout(this.handOverTimer);
    this.claims?.abandon();
    this.currentState = 'stopped';
    this.logger.log('stopped (broker unreachable)');
    this.markStopped();
  }

  private async stop(): Promise<void> {
    if (this.currentState === 'stopped') return; // giveUp() came first
    clearTimeout(this.giveUpTimer);
    this.giveUpTimer = undefined;
    clearTimeout(this.handOverTimer);
    this.handOverTimer = undefined;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.reapTimer);
    this.claims?.abandon();
    await Promise.allSettled(this.taskConsumers.map((c) => c.cancel()));
    this.currentState = 'stopped';
    await this.heartbeat();
    await this.controlConsumer?.cancel().catch((err: unknown) => this.logger.warn(`cancelling the control consumer: ${errorMessage(err)}`));
    this.logger.log('stopped');
    this.markStopped();
  }

  private async heartbeat(): Promise<void> {
    if (this.currentState === 'idle') return;
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: this.name, hostname: this.options.hostname, queues: this.options.queues,
      concurrency: this.options.concurrency, gpus: this.gpuIds.length, running: this.unreportedTries(), ended: this.recentEnds.list(),
      held: [...this.buffered.values(), ...[...this.claiming.keys()].map((key) => ({ task: parseKey(key) }))]
        .map(({ task }) => ({ tiId: task.tiId, tryNumber: task.tryNumber })),
      state: this.currentState,
      ...(this.handedOff.size > 0 && this.handedOffUntil !== null
        ? { handedOver: { tries: [...this.handedOff.values()], until: this.handedOffUntil.toISOString() } } : {}),
      processed: this.tally.processed, failed: this.tally.failed, uptimeMs: this.tally.uptimeMs(), version: swarmflowVersion(),
      unacked: unackedByQueue(this.heldMessages()), at: this.now().toISOString(),
    };
    try {
      await this.broker.publish(EXCHANGES.events, 'worker.heartbeat', event);
    } catch (err) {
      this.logger.warn(`heartbeat not published: ${errorMessage(err)}`);
    }
  }

  private *heldMessages(): Iterable<{ queue: string; settled: boolean }> {
    for (const held of [this.buffered.values(), this.running.values(), this.reporting.values()]) {
      for (const { task, msg } of held) if (msg) yield { queue: task.queue, settled: msg.settled };
    }
  }

  /** `task.finished` is the one event the scheduler cannot do without quickly; the others are retried by design (heartbeats). */
  private async publishWithRetries(exchange: ExchangeName, routingKey: string, body: object): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.broker.publish(exchange, routingKey, body);
        return;
      } catch (err) {
        const delay = FINISHED_RETRY_DELAYS_MS[attempt];
        if (delay === undefined) throw err;
        this.logger.warn(`${routingKey} not confirmed, retrying in ${delay} ms: ${errorMessage(err)}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private describeKill(signal: 'SIGTERM' | 'SIGKILL', cause: string, task: TaskMessage, target = 'the process group'): string {
    if (signal === 'SIGKILL') return `still running ${formatSeconds(this.graceMs)} after SIGTERM: SIGKILL sent to ${target}`;
    const why = cause === 'timeout' ? `timeout after ${formatSeconds(task.timeoutMs ?? 0)}` : cause;
    return `${why}: SIGTERM sent to ${target}`;
  }
}

/**
 * The delivery of a try's message that the worker settles. A redelivery of a try whose
 * message is not settled yet takes the place of the earlier one ({@link replace}): after
 * a lost connection the earlier delivery's ack/nack are no-ops, and only the new one can
 * give the message back. Settling is once: later calls are ignored.
 */
class TaskDelivery {
  private settledAs: 'ack' | 'nack' | null = null;

  constructor(
    private current: BrokerMessage<unknown>,
    private readonly onAckError: (err: unknown) => void,
  ) {}

  get settled(): boolean {
    return this.settledAs !== null;
  }

  ack(): void {
    if (this.settledAs !== null) return;
    this.settledAs = 'ack';
    this.current.ack();
  }

  nack(requeue: boolean): void {
    if (this.settledAs !== null) return;
    this.settledAs = 'nack';
    this.current.nack(requeue);
  }

  /** Settles the earlier delivery (ack) and keeps `next` as the one to settle. */
  replace(next: BrokerMessage<unknown>): void {
    const previous = this.current;
    this.current = next;
    try {
      previous.ack();
    } catch (err) {
      this.onAckError(err);
    }
  }
}

function runKey(tiId: number, tryNumber: number): string {
  return `${tiId}:${tryNumber}`;
}

function parseKey(key: string): { tiId: number; tryNumber: number } {
  const [tiId, tryNumber] = key.split(':').map(Number);
  return { tiId, tryNumber };
}

/** GPUs a try needs: a container task's `docker.gpus`, else none. */
function gpusOf(task: TaskMessage): number {
  return task.kind === 'docker' ? task.docker?.gpus ?? 0 : 0;
}

/** A try that could not start, ended at once with `error`. */
/** The log's warning about secrets {@link logMasker} leaves unmasked. */
function tooShortWarning(names: string[]): string {
  return `warning: ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} shorter than ${MIN_MASKED_LENGTH} characters and not masked in this log ` +
    '(masking it would hide every occurrence of those characters); use a longer secret value';
}

function failedRun(error: string): TaskRun {
  const result: ContainerResult = { exitCode: null, signal: null, timedOut: false, cancelled: false, error, lost: null, oomKilled: false };
  return { pid: null, result: Promise.resolve(result), cancel: () => undefined };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${formatSeconds(ms)}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

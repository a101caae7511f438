import { Logger } from '@nestjs/common';
import type { ControlMessage, TaskFinishedEvent, TaskMessage, TaskStartedEvent, WorkerHeartbeatEvent } from '@swarmflow/core';
import { DEFAULT_GRACE_MS, runProcess, type ProcessRun } from '@swarmflow/executors';
import {
  controlQueue, EXCHANGES, taskQueue, type Broker, type BrokerMessage, type ConsumerHandle, type ExchangeName,
} from '@swarmflow/messaging';
import { TaskLogPublisher } from './task-log.publisher';
import { decodeControlMessage, decodeTaskMessage } from './task-message.decoder';
import { describeEnd, formatSeconds, taskEnv, taskVerdict } from './task-outcome';

export interface WorkerOptions {
  /** Unique among live workers; names the control queue `swarmflow.control.<name>`. */
  name: string;
  hostname: string;
  /** Task topics served (`default`, `gpu`, …). */
  queues: string[];
  /** Tasks run at once, at most. */
  concurrency: number;
  /** Default 5000. */
  heartbeatIntervalMs?: number;
  /** SIGTERM → SIGKILL delay on timeout and cancel. Default 10000. */
  graceMs?: number;
  /** Longest a log line waits before it is published. Default 200. */
  logFlushMs?: number;
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
}

/**
 * Lifecycle of a worker (also the heartbeat's `state`, except `idle`).
 */
export type WorkerState =
  | 'idle' //     constructed, start() not called yet
  | 'active' //   consumes its task queues
  | 'draining' // takes no new task, finishes the running ones (drain(), worker.drain, first SIGTERM)
  | 'stopped'; // consumers cancelled, last heartbeat sent

/** An operation that the worker's current state does not allow. */
export class WorkerStateError extends Error {
  override name = 'WorkerStateError';

  constructor(readonly operation: string, readonly state: WorkerState) {
    super(`cannot ${operation} a worker that is ${state}`);
  }
}

/** Lines per log batch, at most. */
const LOG_BATCH_LINES = 500;
/** Lines of output sent with `task.finished`. */
const LOG_TAIL_LINES = 20;
/** Control messages are small and handled at once. */
const CONTROL_PREFETCH = 16;
/** Waits before re-publishing a `task.finished` the broker did not confirm. */
const FINISHED_RETRY_DELAYS_MS = [200, 1000, 5000];

interface RunningTask {
  task: TaskMessage;
  run: ProcessRun;
  logs: TaskLogPublisher;
  startedAt: number;
  /** Set when the try is cancelled (control message or shutdown): the finished reason. */
  cancelReason: string | null;
}

/**
 * Consumes task queues, runs each task as a process, reports `task.started` /
 * `task.finished`, streams logs and heartbeats. It reports; the scheduler decides (no
 * retries here). Never touches the database.
 *
 * A task message is acked once `task.started` is confirmed, not at the end: RabbitMQ's
 * consumer timeout (30 min, not settable per queue before 3.12) would otherwise cut long
 * tasks off. A try lost after the ack is recovered by the scheduler from missing
 * heartbeats. Since acked messages free the prefetch window, capacity is held by pausing
 * the task consumers while every slot is busy.
 *
 * The broker belongs to the caller: the worker neither starts nor closes it.
 */
export class WorkerService {
  private readonly logger: WorkerLogger;
  private readonly now: () => Date;
  private readonly run: typeof runProcess;
  private readonly heartbeatIntervalMs: number;
  private readonly graceMs: number;
  private readonly logFlushMs: number;

  private currentState: WorkerState = 'idle';
  /** Keyed by `tiId:tryNumber`; a slot is taken from the delivery until `task.finished` is published. */
  private readonly running = new Map<string, RunningTask>();
  private taskConsumers: ConsumerHandle[] = [];
  private controlConsumer: ConsumerHandle | null = null;
  /** What the task consumers were last set to; changes go through `syncConsumers`, one at a time. */
  private consumersPaused = false;
  private consumerSync: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private stopping: Promise<void> | null = null;
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
    this.logFlushMs = options.logFlushMs ?? 200;
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
  }

  get name(): string {
    return this.options.name;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  /** Task instance tries holding a slot (starting, running or reporting). */
  runningTasks(): { tiId: number; tryNumber: number }[] {
    return [...this.running.values()].map(({ task }) => ({ tiId: task.tiId, tryNumber: task.tryNumber }));
  }

  /**
   * Consumes the task queues (prefetch = concurrency) and the worker's control queue,
   * and starts heartbeats. Throws {@link WorkerStateError} unless idle; on a broker error
   * the consumers made so far are cancelled and the error is rethrown.
   */
  async start(): Promise<void> {
    if (this.currentState !== 'idle') throw new WorkerStateError('start', this.currentState);
    // Active before consuming: a delivery may arrive before consume() resolves.
    this.currentState = 'active';
    try {
      this.controlConsumer = await this.broker.consume(controlQueue(this.name), (msg) => this.onControl(msg), {
        prefetch: CONTROL_PREFETCH,
      });
      for (const queue of this.options.queues) {
        const spec = taskQueue(queue);
        await this.broker.assertQueue(spec);
        this.taskConsumers.push(
          await this.broker.consume(spec, (msg) => this.onTask(msg), { prefetch: this.options.concurrency }),
        );
      }
    } catch (err) {
      this.currentState = 'stopped';
      await Promise.allSettled([...this.taskConsumers, this.controlConsumer].map((c) => c?.cancel()));
      this.markStopped();
      throw err;
    }
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    await this.heartbeat();
    this.logger.log(`serving ${this.options.queues.join(', ')} with ${this.options.concurrency} slots`);
  }

  /**
   * Stops taking work, waits for the running tasks to finish and be reported, sends a
   * last heartbeat (`stopped`) and cancels the consumers. Idempotent: every call returns
   * the same promise.
   */
  drain(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.currentState === 'idle') {
      this.currentState = 'stopped';
      this.markStopped();
      return (this.stopping = Promise.resolve());
    }
    this.stopping = (async () => {
      this.currentState = 'draining';
      this.logger.log(`draining: waiting for ${this.running.size} running task(s)`);
      this.syncConsumers();
      await this.consumerSync;
      await this.heartbeat();
      await this.whenIdle();
      await this.stop();
    })();
    return this.stopping;
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

  /** Cancels a running try (reported failed with `reason`); false when it does not run here. */
  cancelTask(tiId: number, tryNumber: number, reason = 'cancelled'): boolean {
    const entry = this.running.get(runKey(tiId, tryNumber));
    if (!entry) return false;
    this.cancelEntry(entry, reason);
    return true;
  }

  /** Resolves once the worker is stopped (after a drain, a shutdown, or a failed start). */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  private async onTask(msg: BrokerMessage<unknown>): Promise<void> {
    let task: TaskMessage;
    try {
      task = decodeTaskMessage(msg.body);
    } catch (err) {
      this.logger.error(`dropping a message from ${msg.routingKey}: ${errorMessage(err)}`);
      msg.nack(false);
      return;
    }
    const key = runKey(task.tiId, task.tryNumber);
    if (this.running.has(key)) {
      // A redelivery of a try already running here: running it twice would be worse than losing the message.
      this.logger.warn(`ignoring a duplicate delivery of task instance ${task.tiId} try ${task.tryNumber}`);
      msg.ack();
      return;
    }
    if (this.currentState !== 'active' || this.running.size >= this.options.concurrency) {
      // Delivered before the consumers were paused: back to the queue for another worker.
      msg.nack(true);
      this.syncConsumers();
      return;
    }
    await this.startTask(task, msg);
  }

  /** Takes a slot, spawns, publishes `task.started`, then acks; the end is handled in the background. */
  private async startTask(task: TaskMessage, msg: BrokerMessage<unknown>): Promise<void> {
    const key = runKey(task.tiId, task.tryNumber);
    const logs = new TaskLogPublisher(this.broker, task.tiId, task.tryNumber, {
      flushMs: this.logFlushMs,
      maxLines: LOG_BATCH_LINES,
      tailLines: LOG_TAIL_LINES,
      now: this.now,
      onError: (err) => this.logger.warn(`lost a log batch of task instance ${task.tiId} try ${task.tryNumber}: ${errorMessage(err)}`),
    });
    const startedAt = Date.now();
    const run = this.run({
      command: task.command,
      env: taskEnv(task),
      cwd: task.cwd,
      timeoutMs: task.timeoutMs,
      graceMs: this.graceMs,
      onLine: (stream, line) => logs.add(stream, line),
      onKill: (signal, cause) => logs.add('system', this.describeKill(signal, cause, task)),
    });
    const entry: RunningTask = { task, run, logs, startedAt, cancelReason: null };
    this.running.set(key, entry);
    this.syncConsumers();
    logs.add('system', `try ${task.tryNumber} of ${task.dagId}.${task.taskId} (run ${task.runId}) started on ${this.name}` +
      (run.pid === null ? '' : ` as pid ${run.pid}`));

    const started: TaskStartedEvent = {
      type: 'task.started', tiId: task.tiId, tryNumber: task.tryNumber, worker: this.name,
      hostname: this.options.hostname, pid: run.pid, at: this.now().toISOString(),
    };
    try {
      await this.broker.publish(EXCHANGES.events, 'task.started', started);
    } catch (err) {
      // Nobody knows it started: stop it and give the message back, so the try runs once, somewhere.
      this.logger.error(`task.started of task instance ${task.tiId} try ${task.tryNumber} not confirmed, requeueing: ${errorMessage(err)}`);
      run.cancel('task.started not confirmed');
      await run.result;
      logs.discard();
      msg.nack(true);
      this.release(key);
      return;
    }
    msg.ack();
    void this.finishTask(key, entry).catch((err: unknown) =>
      this.logger.error(`reporting the end of task instance ${task.tiId} try ${task.tryNumber} failed: ${errorMessage(err)}`),
    );
  }

  /** Waits for the process, flushes its logs, then publishes `task.finished` and frees the slot. */
  private async finishTask(key: string, entry: RunningTask): Promise<void> {
    const { task, run, logs } = entry;
    try {
      const result = await run.result;
      const verdict = taskVerdict(result, task, entry.cancelReason);
      logs.add('system', describeEnd(result, Date.now() - entry.startedAt) + (verdict.reason ? ` (${verdict.reason})` : ''));
      const logTail = logs.tail();
      await logs.flush();
      const finished: TaskFinishedEvent = {
        type: 'task.finished', tiId: task.tiId, tryNumber: task.tryNumber, worker: this.name,
        outcome: verdict.outcome, exitCode: result.exitCode, signal: result.signal, reason: verdict.reason,
        logTail, at: this.now().toISOString(),
      };
      await this.publishWithRetries(EXCHANGES.events, 'task.finished', finished);
    } finally {
      this.release(key);
    }
  }

  private cancelEntry(entry: RunningTask, reason: string): void {
    entry.cancelReason ??= reason;
    entry.run.cancel(reason);
  }

  private release(key: string): void {
    this.running.delete(key);
    this.syncConsumers();
    if (this.running.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Pauses the task consumers while every slot is taken or the worker no longer takes
   * work, resumes them otherwise. Changes are chained so a resume never overtakes a pause.
   */
  private syncConsumers(): void {
    this.consumerSync = this.consumerSync
      .then(async () => {
        const pause = this.currentState !== 'active' || this.running.size >= this.options.concurrency;
        if (pause === this.consumersPaused) return;
        this.consumersPaused = pause;
        await Promise.all(this.taskConsumers.map((c) => (pause ? c.pause() : c.resume())));
      })
      .catch((err: unknown) => this.logger.error(`could not pause/resume the task consumers: ${errorMessage(err)}`));
  }

  private async onControl(msg: BrokerMessage<unknown>): Promise<void> {
    let command: ControlMessage;
    try {
      command = decodeControlMessage(msg.body);
    } catch (err) {
      this.logger.error(`dropping a control message: ${errorMessage(err)}`);
      msg.nack(false);
      return;
    }
    msg.ack();
    switch (command.type) {
      case 'task.cancel':
        // Cancels go to every worker (worker.all); only the one running the try acts.
        if (this.cancelTask(command.tiId, command.tryNumber, 'cancelled')) {
          this.logger.log(`cancelling task instance ${command.tiId} try ${command.tryNumber}`);
        }
        return;
      case 'worker.drain':
        if (command.worker !== this.name && command.worker !== 'all') return;
        void this.drain();
        return;
    }
  }

  private async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
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
      concurrency: this.options.concurrency, running: this.runningTasks(), state: this.currentState,
      at: this.now().toISOString(),
    };
    try {
      await this.broker.publish(EXCHANGES.events, 'worker.heartbeat', event);
    } catch (err) {
      this.logger.warn(`heartbeat not published: ${errorMessage(err)}`);
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

  private describeKill(signal: 'SIGTERM' | 'SIGKILL', cause: string, task: TaskMessage): string {
    if (signal === 'SIGKILL') return `still running ${formatSeconds(this.graceMs)} after SIGTERM: SIGKILL sent to the process group`;
    const why = cause === 'timeout' ? `timeout after ${formatSeconds(task.timeoutMs ?? 0)}` : cause;
    return `${why}: SIGTERM sent to the process group`;
  }
}

function runKey(tiId: number, tryNumber: number): string {
  return `${tiId}:${tryNumber}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import { Logger } from '@nestjs/common';
import type { ControlMessage, TaskFinishedEvent, TaskMessage, TaskStartedEvent, WorkerHeartbeatEvent } from '@swarmflow/core';
import { DEFAULT_GRACE_MS, inheritedEnv, runProcess, type ProcessRun } from '@swarmflow/executors';
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
const DEFAULT_MAX_BUFFER_WAIT_MS = 30_000;
const DEFAULT_STARTED_DELAY_MS = 50;

interface RunningTask {
  task: TaskMessage;
  /** Acked once `task.started` is confirmed, or `task.finished` when no `task.started` was published. */
  msg: BrokerMessage<unknown>;
  run: ProcessRun;
  logs: TaskLogPublisher;
  /** `Date.now()` at the spawn, for the elapsed time. */
  spawnedAt: number;
  /** The clock (`now`) at the spawn: `task.started`'s `at` and `task.finished`'s `startedAt`. */
  startedAt: string;
  /** Set when the try is cancelled (control message or shutdown): the finished reason. */
  cancelReason: string | null;
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
  msg: BrokerMessage<unknown>;
  /** `Date.now()` at delivery. */
  since: number;
}

/**
 * Consumes task queues, runs each task as a process, reports `task.started` /
 * `task.finished`, streams logs and heartbeats. It reports; the scheduler decides (no
 * retries here). Never touches the database.
 *
 * `task.started` is deferred by `startedDelayMs` (50 ms) after the spawn. A try whose
 * process ends within it publishes none: its `task.finished` carries `startedAt`, the
 * scheduler takes it straight from queued to its end, and the message is acked once
 * `task.finished` is confirmed. That saves a publish and its confirm per short task.
 * Otherwise the message is acked once `task.started` is confirmed, not at the end:
 * RabbitMQ's consumer timeout (30 min, not settable per queue before 3.12) would
 * otherwise cut long tasks off. A try lost after the ack is recovered by the scheduler
 * from missing heartbeats. Since acked messages free the prefetch window, RabbitMQ delivers more tasks
 * than there are free slots: those wait unacked in a local buffer (at most `concurrency`
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
  private readonly logFlushMs: number;
  private readonly maxBufferWaitMs: number;
  private readonly startedDelayMs: number;
  /** What every task inherits (the worker's environment minus its `SWARMFLOW_*` settings), taken once. */
  private readonly baseEnv: Readonly<Record<string, string>>;

  private currentState: WorkerState = 'idle';
  /** Tries holding a slot, from the spawn until their process has exited; keyed by `tiId:tryNumber`. */
  private readonly running = new Map<string, RunningTask>();
  /** Delivered tries waiting for a slot, oldest first (a Map iterates in insertion order). */
  private readonly buffered = new Map<string, BufferedTask>();
  /** Ended tries whose last log batch and `task.finished` are being published. */
  private readonly reporting = new Map<string, TaskMessage>();
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
    this.maxBufferWaitMs = options.maxBufferWaitMs ?? DEFAULT_MAX_BUFFER_WAIT_MS;
    this.startedDelayMs = options.startedDelayMs ?? DEFAULT_STARTED_DELAY_MS;
    if (!(this.startedDelayMs >= 0)) throw new RangeError(`startedDelayMs must be 0 or more, got ${options.startedDelayMs}`);
    this.baseEnv = inheritedEnv();
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
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

  /** Tries whose end the scheduler has not been told yet: running, or ended and being reported. */
  private unreportedTries(): { tiId: number; tryNumber: number }[] {
    const tries = this.runningTasks();
    for (const { tiId, tryNumber } of this.reporting.values()) tries.push({ tiId, tryNumber });
    return tries;
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
      this.giveBackBuffered();
      await Promise.allSettled([...this.taskConsumers, this.controlConsumer].map((c) => c?.cancel()));
      this.markStopped();
      throw err;
    }
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    await this.heartbeat();
    this.logger.log(`serving ${this.options.queues.join(', ')} with ${this.options.concurrency} slots`);
  }

  /**
   * Stops taking work: pauses the task consumers and gives the buffered tasks back to
   * their queue. Then waits for the running tasks to finish and be reported, sends a last
   * heartbeat (`stopped`) and cancels the consumers. Idempotent: every call returns the
   * same promise.
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
      // After the pause, so that RabbitMQ does not hand them straight back to this worker.
      this.giveBackBuffered();
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

  /** Starts the task if a slot is free, buffers it otherwise. */
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
    if (this.running.has(key) || this.buffered.has(key) || this.reporting.has(key)) {
      // A redelivery of a try already here: running it twice would be worse than losing the message.
      this.logger.warn(`ignoring a duplicate delivery of task instance ${task.tiId} try ${task.tryNumber}`);
      msg.ack();
      return;
    }
    if (this.currentState !== 'active') {
      // Delivered before the consumers were paused for the drain: back to the queue for another worker.
      msg.nack(true);
      return;
    }
    if (this.running.size < this.options.concurrency) return this.startTask(task, msg);
    if (this.buffered.size >= this.options.concurrency) {
      // Only with several task queues, each with its own prefetch window.
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
  private startTask(task: TaskMessage, msg: BrokerMessage<unknown>): void {
    const key = runKey(task.tiId, task.tryNumber);
    const logs = new TaskLogPublisher(this.broker, task.tiId, task.tryNumber, {
      flushMs: this.logFlushMs,
      maxLines: LOG_BATCH_LINES,
      tailLines: LOG_TAIL_LINES,
      now: this.now,
      onError: (err) => this.logger.warn(`lost a log batch of task instance ${task.tiId} try ${task.tryNumber}: ${errorMessage(err)}`),
    });
    const spawnedAt = Date.now();
    const startedAt = this.now().toISOString();
    const run = this.run({
      command: task.command,
      env: taskEnv(task),
      baseEnv: this.baseEnv,
      cwd: task.cwd,
      timeoutMs: task.timeoutMs,
      graceMs: this.graceMs,
      onLine: (stream, line) => logs.add(stream, line),
      onKill: (signal, cause) => logs.add('system', this.describeKill(signal, cause, task)),
    });
    logs.add('system', `try ${task.tryNumber} of ${task.dagId}.${task.taskId} (run ${task.runId}) started on ${this.name}` +
      (run.pid === null ? '' : ` as pid ${run.pid}`));

    const entry: RunningTask = { task, msg, run, logs, spawnedAt, startedAt, cancelReason: null, started: null, startedTimer: undefined };
    this.running.set(key, entry);
    if (this.startedDelayMs === 0) this.announceStart(entry);
    else entry.startedTimer = setTimeout(() => this.announceStart(entry), this.startedDelayMs);
    this.finishTask(key, entry).catch((err: unknown) =>
      this.logger.error(`reporting the end of task instance ${task.tiId} try ${task.tryNumber} failed: ${errorMessage(err)}`),
    );
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
      type: 'task.started', tiId: task.tiId, tryNumber: task.tryNumber, worker: this.name,
      hostname: this.options.hostname, pid: run.pid, at: entry.startedAt,
    };
    entry.started = this.broker.publish(EXCHANGES.events, 'task.started', event).then(
      () => {
        msg.ack();
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
    const verdict = taskVerdict(result, task, entry.cancelReason);
    logs.add('system', describeEnd(result, Date.now() - entry.spawnedAt) + (verdict.reason ? ` (${verdict.reason})` : ''));
    const finished: TaskFinishedEvent = {
      type: 'task.finished', tiId: task.tiId, tryNumber: task.tryNumber, worker: this.name,
      outcome: verdict.outcome, exitCode: result.exitCode, signal: result.signal, reason: verdict.reason,
      logTail: logs.tail(), startedAt: entry.startedAt, at: this.now().toISOString(),
    };
    this.reporting.set(key, task);
    this.release(key);
    /** How the message is settled once the try leaves `reporting`; null when `announceStart` acked it. */
    let settle: 'ack' | 'requeue' | null = started === null ? 'requeue' : null;
    try {
      if (started !== null && !(await started)) {
        logs.discard();
        settle = 'requeue';
        return;
      }
      await Promise.all([logs.flush(), this.publishWithRetries(EXCHANGES.events, 'task.finished', finished)]);
      if (started === null) settle = 'ack';
    } finally {
      this.reporting.delete(key);
      // Before notifyIfIdle: drain cancels the consumers once idle, which would requeue an unsettled message.
      // After reporting.delete: a requeued message redelivered here must not be taken for a duplicate.
      if (settle === 'ack') msg.ack();
      else if (settle === 'requeue') msg.nack(true);
      this.notifyIfIdle();
    }
  }

  private cancelEntry(entry: RunningTask, reason: string): void {
    entry.cancelReason ??= reason;
    entry.run.cancel(reason);
  }

  /** Frees a slot: the oldest buffered task takes it, and consumers held back resume. */
  private release(key: string): void {
    if (!this.running.delete(key)) return;
    if (this.currentState === 'active') {
      const next = this.buffered.entries().next();
      if (!next.done) {
        const [nextKey, { task, msg }] = next.value;
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
    const expired: BrokerMessage<unknown>[] = [];
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
  private giveBackAndHold(messages: BrokerMessage<unknown>[]): void {
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
      concurrency: this.options.concurrency, running: this.unreportedTries(), state: this.currentState,
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

import type { SignedTaskMessage, TaskFinishedEvent, TaskMessage, WorkerHeartbeatEvent } from '@swarmflow/core';
import { ClusterKey, ControlSigner, TaskSigner, taskSecretContext, type SignedControlEnvelope } from '@swarmflow/secrets';
import { runProcess, type ProcessResult } from '@swarmflow/executors';
import {
  EXCHANGES, MemoryBroker, MessageAlreadySettledError, type Broker, type BrokerMessage, type ConsumeOptions, type ExchangeName,
  type MessageHandler, type QueueSpec,
} from '@swarmflow/messaging';
import { DEFAULT_WAIT_MS } from '@swarmflow/messaging/test-support/wait';
import { WorkerService, type WorkerDeps, type WorkerLogger, type WorkerOptions } from '../worker.service';

export interface Published {
  exchange: ExchangeName;
  routingKey: string;
  body: any;
}

/**
 * Records what is published on a broker, in call order, and lets a test await a
 * condition on the record (re-checked at every publish, failing after a timeout).
 */
export class PublishRecorder {
  readonly all: Published[] = [];
  private waiters: Array<() => void> = [];

  constructor(broker: Broker) {
    const publish = broker.publish.bind(broker);
    broker.publish = async (exchange, routingKey, body) => {
      this.all.push({ exchange, routingKey, body: structuredClone(body) });
      for (const wake of this.waiters) wake();
      return publish(exchange, routingKey, body);
    };
  }

  events(routingKey?: string): any[] {
    return this.all.filter((p) => p.exchange === EXCHANGES.events && (routingKey === undefined || p.routingKey === routingKey)).map((p) => p.body);
  }

  finished(): TaskFinishedEvent[] {
    return this.events('task.finished');
  }

  heartbeats(): WorkerHeartbeatEvent[] {
    return this.events('worker.heartbeat');
  }

  /** The lines of a task instance: its batches on `swarmflow.logs`, then the last ones its `task.finished` carried. */
  logLines(tiId: number): { stream: string; line: string }[] {
    return this.all
      .flatMap((p) => {
        if (p.exchange === EXCHANGES.logs && p.body.tiId === tiId) return p.body.lines;
        if (p.exchange === EXCHANGES.events && p.body.type === 'task.finished' && p.body.tiId === tiId) return p.body.logs?.lines ?? [];
        return [];
      })
      .map((l: { stream: string; line: string }) => ({ stream: l.stream, line: l.line }));
  }

  /** Resolves with `probe`'s first truthy result, checked now and after every publish. */
  async waitFor<T>(what: string, probe: () => T, timeoutMs = DEFAULT_WAIT_MS): Promise<NonNullable<T>> {
    const first = probe();
    if (first) return first as NonNullable<T>;
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        const value = probe();
        if (!value) return;
        cleanup();
        resolve(value as NonNullable<T>);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; published: ${JSON.stringify(this.all.map((p) => p.routingKey))}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
      };
      this.waiters.push(wake);
    });
  }

  /** Waits for the `task.finished` of a try. */
  finishedOf(tiId: number, tryNumber = 1, timeoutMs = DEFAULT_WAIT_MS): Promise<TaskFinishedEvent> {
    return this.waitFor(`task.finished of ${tiId}:${tryNumber}`, () => this.finished().find((e) => e.tiId === tiId && e.tryNumber === tryNumber), timeoutMs);
  }

  /** Waits for the `task.started` of a try. */
  startedOf(tiId: number, tryNumber = 1, timeoutMs = DEFAULT_WAIT_MS): Promise<unknown> {
    return this.waitFor(`task.started of ${tiId}:${tryNumber}`, () => this.events('task.started').find((e) => e.tiId === tiId && e.tryNumber === tryNumber), timeoutMs);
  }
}

/** How a consumer settled one delivery. */
export interface Settlement {
  queue: string;
  /** The delivered body's `tiId`, when it has one. */
  tiId: unknown;
  as: 'ack' | 'nack';
  requeue: boolean;
}

/**
 * Records what the consumers made on a broker do: deliveries, acks and nacks, pauses and
 * resumes. Install it before the consumers are made (before `worker.start()`).
 */
export class ConsumerRecorder {
  readonly deliveries: { queue: string; tiId: unknown }[] = [];
  readonly settlements: Settlement[] = [];
  pauses = 0;
  resumes = 0;
  private waiters: Array<() => void> = [];

  constructor(broker: Broker) {
    const consume = broker.consume.bind(broker);
    broker.consume = async <T>(spec: QueueSpec, handler: MessageHandler<T>, options: ConsumeOptions) => {
      const handle = await consume<T>(spec, (msg) => {
        const tiId = (msg.body as { tiId?: unknown } | null)?.tiId;
        this.record(() => this.deliveries.push({ queue: spec.name, tiId }));
        const settle = (as: 'ack' | 'nack', requeue: boolean): void => {
          this.record(() => this.settlements.push({ queue: spec.name, tiId, as, requeue }));
        };
        return handler({
          ...msg,
          ack: () => {
            msg.ack();
            settle('ack', false);
          },
          nack: (requeue) => {
            msg.nack(requeue);
            settle('nack', requeue);
          },
        });
      }, options);
      return {
        pause: async () => {
          await handle.pause();
          this.record(() => this.pauses++);
        },
        resume: async () => {
          await handle.resume();
          this.record(() => this.resumes++);
        },
        cancel: () => handle.cancel(),
      };
    };
  }

  /** Nacks of task messages (`requeue` true or false). */
  taskNacks(): Settlement[] {
    return this.settlements.filter((s) => s.as === 'nack' && s.queue.startsWith('swarmflow.tasks.'));
  }

  /** Resolves with `probe`'s first truthy result, checked now and after every recorded operation. */
  waitFor<T>(what: string, probe: () => T, timeoutMs = DEFAULT_WAIT_MS): Promise<NonNullable<T>> {
    const first = probe();
    if (first) return Promise.resolve(first as NonNullable<T>);
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        const value = probe();
        if (!value) return;
        cleanup();
        resolve(value as NonNullable<T>);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; settled: ${JSON.stringify(this.settlements)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
      };
      this.waiters.push(wake);
    });
  }

  private record(change: () => void): void {
    change();
    for (const wake of [...this.waiters]) wake();
  }
}

/**
 * Stands in for a lost AMQP connection, which MemoryBroker has no way to lose: {@link drop}
 * sends every delivery not settled yet back to its queue (RabbitMQ redelivers it, flagged
 * redelivered) and turns its ack/nack into no-ops, as on AmqpBroker's dead channel. Install
 * it before the consumers are made, and before {@link ConsumerRecorder} so that the recorder
 * sees what the worker does.
 */
export class ConnectionDropper {
  private readonly held = new Set<{ dead: boolean; inner: BrokerMessage<unknown> }>();

  constructor(broker: Broker) {
    const consume = broker.consume.bind(broker);
    broker.consume = async <T>(spec: QueueSpec, handler: MessageHandler<T>, options: ConsumeOptions) =>
      consume<T>(spec, (msg) => {
        const delivery = { dead: false, inner: msg as BrokerMessage<unknown> };
        this.held.add(delivery);
        let settledAs: 'ack' | 'nack' | null = null;
        const settle = (as: 'ack' | 'nack', apply: () => void): void => {
          if (settledAs) throw new MessageAlreadySettledError(msg.routingKey, settledAs);
          settledAs = as;
          if (delivery.dead) return;
          this.held.delete(delivery);
          apply();
        };
        return handler({ ...msg, ack: () => settle('ack', () => msg.ack()), nack: (requeue) => settle('nack', () => msg.nack(requeue)) });
      }, options);
  }

  /** Loses the connection: the unsettled deliveries go back to their queues; their ack/nack do nothing from now on. Returns how many. */
  drop(): number {
    const lost = [...this.held];
    this.held.clear();
    for (const delivery of lost) {
      delivery.dead = true;
      delivery.inner.nack(true);
    }
    return lost.length;
  }
}

/** Wraps the process executor to count the task processes alive at once. */
export class ProcessCounter {
  live = 0;
  maxLive = 0;
  spawned = 0;
  /** Each process's result, in spawn order: await one to know that process has ended. */
  readonly results: Promise<ProcessResult>[] = [];

  readonly runProcess: typeof runProcess = (spec) => {
    const run = runProcess(spec);
    this.results.push(run.result);
    this.spawned++;
    this.maxLive = Math.max(this.maxLive, ++this.live);
    void run.result.then(() => this.live--);
    return run;
  };
}

/** A logger that keeps what it is told, so tests stay quiet and can await a line. */
export class RecordingLogger implements WorkerLogger {
  readonly lines: string[] = [];
  private waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  log = (m: string): void => this.add(`log ${m}`);
  warn = (m: string): void => this.add(`warn ${m}`);
  error = (m: string): void => this.add(`error ${m}`);

  waitForLine(pattern: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.lines.some((l) => pattern.test(l))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms: ${JSON.stringify(this.lines)}`)), timeoutMs);
      this.waiters.push({ pattern, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  private add(line: string): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve();
      return false;
    });
  }
}

let nextTiId = 1;

/** The cluster key of harness workers, unless a test gives its own. */
export const TEST_CLUSTER_KEY = ClusterKey.generate();

/** A task message as the scheduler publishes it: serialized once and signed with `key`. */
export function signed(task: TaskMessage, key: ClusterKey = TEST_CLUSTER_KEY, issuedAt = Date.now()): SignedTaskMessage {
  const message = JSON.stringify(task);
  return { tiId: task.tiId, tryNumber: task.tryNumber, issuedAt, message, sig: new TaskSigner(key).sign(issuedAt, message) };
}

/** A control message as the scheduler or the webserver publishes it to `routingKey`: signed with `key`. */
export function signedControl(routingKey: string, command: object, key: ClusterKey = TEST_CLUSTER_KEY, issuedAt = Date.now()): SignedControlEnvelope {
  return new ControlSigner(key).envelope(routingKey, command, issuedAt);
}

/** The command of a control message received on `routingKey`; throws unless it is signed with `key` for that routing key. */
export function openedControl<T = any>(body: SignedControlEnvelope, routingKey: string, key: ClusterKey = TEST_CLUSTER_KEY): T {
  if (!new ControlSigner(key).verify(body.issuedAt, routingKey, body.control, body.sig)) {
    throw new Error(`control message on ${routingKey} is not signed for it: ${JSON.stringify(body)}`);
  }
  return JSON.parse(body.control) as T;
}

/** Seals `values` (variable key → value) for `task`'s try as the scheduler does, into its `secrets`; returns the task. */
export function withSecrets(task: TaskMessage, values: Record<string, string>, key: ClusterKey = TEST_CLUSTER_KEY): TaskMessage {
  task.secrets = Object.entries(values).map(([name, value]) => ({ key: name, ciphertext: sealFor(task, name, value, key) }));
  return task;
}

/** One value sealed for `task`'s try (`registry`: the registry credentials named `name`). */
export function sealFor(task: Pick<TaskMessage, 'tiId' | 'tryNumber'>, name: string, value: string, key: ClusterKey = TEST_CLUSTER_KEY, purpose: 'secret' | 'registry' = 'secret'): string {
  return key.encryptFor(value, taskSecretContext(purpose, name, task.tiId, task.tryNumber));
}

/** A valid task message; every call gets a fresh tiId unless given one. */
export function taskMessage(overrides: Partial<TaskMessage> = {}): TaskMessage {
  return {
    tiId: nextTiId++, dagId: 'dag1', runId: 'manual__2024-01-01', taskId: 'task1', tryNumber: 1, queue: 'default',
    command: 'true', env: {}, cwd: null, timeoutMs: null, skipExitCode: null, priority: 0,
    ...overrides,
  };
}

export interface Harness {
  broker: MemoryBroker;
  published: PublishRecorder;
  consumers: ConsumerRecorder;
  /** Simulates a lost broker connection (see {@link ConnectionDropper}). */
  connection: ConnectionDropper;
  processes: ProcessCounter;
  logger: RecordingLogger;
  worker: WorkerService;
  /** Publishes task messages on `swarmflow.tasks` with their queue as routing key, signed with the worker's key as the scheduler does. */
  submit(...tasks: TaskMessage[]): Promise<void>;
  /** Publishes a command on `swarmflow.control` to `routingKey`, signed with the worker's key as the scheduler and the webserver do. */
  control(routingKey: string, command: object): Promise<void>;
  /** Stops the worker (cancelling what runs) and closes the broker. */
  close(): Promise<void>;
}

/**
 * A started MemoryBroker and a started worker on it. Without `deps.docker` the worker has
 * no Docker engine (unit tests never touch one).
 */
export async function startHarness(options: Partial<WorkerOptions> = {}, deps: Partial<WorkerDeps> = {}): Promise<Harness> {
  const logger = new RecordingLogger();
  const broker = new MemoryBroker({ logger });
  await broker.start();
  const published = new PublishRecorder(broker);
  const connection = new ConnectionDropper(broker);
  const consumers = new ConsumerRecorder(broker);
  const processes = new ProcessCounter();
  const worker = new WorkerService(broker, {
    name: 'w1', hostname: 'host1', queues: ['default'], concurrency: 2, heartbeatIntervalMs: 60_000, graceMs: 1000, logFlushMs: 20,
    ...options,
  }, { logger, runProcess: processes.runProcess, docker: null, ...deps, clusterKey: deps.clusterKey === undefined ? TEST_CLUSTER_KEY : deps.clusterKey });
  await worker.start();
  return {
    broker, published, consumers, connection, processes, logger, worker,
    submit: async (...tasks) => {
      for (const task of tasks) await broker.publish(EXCHANGES.tasks, task.queue, signed(task, deps.clusterKey ?? TEST_CLUSTER_KEY));
    },
    control: (routingKey, command) => broker.publish(EXCHANGES.control, routingKey, signedControl(routingKey, command, deps.clusterKey ?? TEST_CLUSTER_KEY)),
    close: async () => {
      await worker.shutdown('test over');
      await broker.close();
    },
  };
}

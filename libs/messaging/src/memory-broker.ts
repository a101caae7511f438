import type {
  Broker, BrokerMessage, ConsumeOptions, ConsumerHandle, ExchangeName, MessageHandler, QueueSpec, QueueStats, PublishOptions,
} from './broker';
import { EXCHANGES } from './broker';
import { BrokerState, BrokerStateError, MessageAlreadySettledError, QueueNotFoundError } from './errors';
import { assertPrefetch, BrokerLogger, consoleLogger, describeError } from './logger';
import { topicMatches } from './topic';

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /** Prepended to every exchange and queue name, as in {@link AmqpBroker}. Default ''. */
  prefix?: string;
  /** Default: console. */
  logger?: BrokerLogger;
}

/** A message at rest in a queue. The body is kept as JSON so no delivery shares objects with the publisher. */
interface StoredMessage {
  json: string;
  routingKey: string;
  redelivered: boolean;
  resent?: boolean;
}

interface MemoryQueue {
  spec: QueueSpec;
  /** Ready messages, head first. */
  ready: StoredMessage[];
  consumers: MemoryConsumer[];
  /** Index of the consumer to try first on the next delivery (round robin). */
  next: number;
}

interface Delivery {
  stored: StoredMessage;
  settledAs?: 'ack' | 'nack';
}

interface MemoryConsumer {
  queue: MemoryQueue;
  handler: MessageHandler<unknown>;
  prefetch: number;
  paused: boolean;
  cancelled: boolean;
  unacked: Set<Delivery>;
}

interface Binding {
  queue: MemoryQueue;
  pattern: string;
}

/**
 * The in-process broker of standalone mode: the {@link Broker} contract without a
 * server. Topic routing with AMQP wildcards, queues in memory (lost with the process),
 * per-consumer prefetch, manual ack/nack, round robin between competing consumers.
 *
 * Deliveries are always asynchronous (never inside `publish()` or `ack()`), and every
 * delivery is a fresh `JSON.parse` of what was published, so publisher and consumers
 * never share an object. `publish()` resolves as soon as the message is routed.
 *
 * A handler that throws or rejects without settling its message gets it nacked: requeued
 * the first time, dropped when it was already a redelivery (same policy as AmqpBroker).
 */
export class MemoryBroker implements Broker {
  private readonly prefix: string;
  private readonly logger: BrokerLogger;
  private state: BrokerState = 'idle';
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly bindings = new Map<string, Binding[]>();
  private readonly listeners: Array<(status: 'connected' | 'disconnected', detail?: string) => void> = [];
  /** Queues with a dispatch already scheduled, so a burst of publishes schedules one. */
  private readonly dispatchScheduled = new Set<MemoryQueue>();

  constructor(options: MemoryBrokerOptions = {}) {
    this.prefix = options.prefix ?? '';
    this.logger = options.logger ?? consoleLogger('MemoryBroker');
  }

  /** Declares the exchanges. Throws {@link BrokerStateError} unless the broker is idle. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new BrokerStateError('start', this.state);
    for (const exchange of Object.values(EXCHANGES)) {
      if (!this.bindings.has(this.prefix + exchange)) this.bindings.set(this.prefix + exchange, []);
    }
    this.state = 'connected';
    this.emitStatus('connected');
  }

  /**
   * Cancels every consumer (their unacked messages go back to their queues) and deletes
   * exclusive queues, as RabbitMQ does when their connection closes. Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const queue of [...this.queues.values()]) {
      for (const consumer of [...queue.consumers]) this.cancelConsumer(consumer);
      if (queue.spec.exclusive) this.deleteQueue(queue);
    }
  }

  /**
   * Declares the queue and its bindings; idempotent. A later declaration may add
   * bindings; like RabbitMQ it never removes one.
   */
  async assertQueue(spec: QueueSpec): Promise<void> {
    this.requireConnected('assertQueue');
    this.declare(spec);
  }

  /**
   * Routes one message to every queue with a matching binding (a key nobody binds is
   * dropped, as in RabbitMQ). Rejects if the body is not JSON-serialisable.
   */
  async publish(exchange: ExchangeName, routingKey: string, body: object, options?: PublishOptions): Promise<void> {
    this.requireConnected('publish');
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError(`publish to ${exchange}: body is not JSON-serialisable`);
    const bindings = this.bindings.get(this.prefix + exchange);
    if (!bindings) throw new TypeError(`publish: unknown exchange "${exchange}"`);
    const targets = new Set<MemoryQueue>();
    for (const binding of bindings) {
      if (topicMatches(binding.pattern, routingKey)) targets.add(binding.queue);
    }
    for (const queue of targets) {
      queue.ready.push({ json, routingKey, redelivered: false, resent: options?.resent === true });
      this.scheduleDispatch(queue);
    }
  }

  /** Declares the queue and consumes it; see {@link ConsumerHandle} for pause/resume/cancel. */
  async consume<T = unknown>(spec: QueueSpec, handler: MessageHandler<T>, options: ConsumeOptions): Promise<ConsumerHandle> {
    this.requireConnected('consume');
    assertPrefetch(options.prefetch);
    const consumer: MemoryConsumer = {
      queue: this.declare(spec),
      handler: handler as MessageHandler<unknown>,
      prefetch: options.prefetch,
      paused: false,
      cancelled: false,
      unacked: new Set(),
    };
    consumer.queue.consumers.push(consumer);
    this.scheduleDispatch(consumer.queue);
    return {
      pause: async () => {
        consumer.paused = true;
      },
      resume: async () => {
        if (consumer.cancelled || !consumer.paused) return;
        consumer.paused = false;
        this.scheduleDispatch(consumer.queue);
      },
      cancel: async () => this.cancelConsumer(consumer),
    };
  }

  /**
   * Ready messages and active (not paused) consumers of a queue, by its unprefixed
   * name; RabbitMQ counts the same way. Throws {@link QueueNotFoundError}.
   */
  async queueStats(queueName: string): Promise<QueueStats> {
    const queue = this.queues.get(this.prefix + queueName);
    if (!queue) throw new QueueNotFoundError(queueName);
    return {
      messages: queue.ready.length,
      consumers: queue.consumers.filter((c) => !c.paused).length,
    };
  }

  /** The in-memory broker never loses its "connection"; listeners hear `connected` once, at start. */
  onStatus(listener: (status: 'connected' | 'disconnected', detail?: string) => void): void {
    this.listeners.push(listener);
  }

  private requireConnected(operation: string): void {
    if (this.state !== 'connected') throw new BrokerStateError(operation, this.state);
  }

  private declare(spec: QueueSpec): MemoryQueue {
    const name = this.prefix + spec.name;
    const exchange = this.prefix + spec.exchange;
    const bindings = this.bindings.get(exchange);
    if (!bindings) throw new TypeError(`assertQueue ${spec.name}: unknown exchange "${spec.exchange}"`);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = { spec, ready: [], consumers: [], next: 0 };
      this.queues.set(name, queue);
    }
    for (const pattern of spec.bindings) {
      if (!bindings.some((b) => b.queue === queue && b.pattern === pattern)) bindings.push({ queue, pattern });
    }
    return queue;
  }

  private deleteQueue(queue: MemoryQueue): void {
    this.queues.delete(this.prefix + queue.spec.name);
    for (const [exchange, bindings] of this.bindings) {
      this.bindings.set(exchange, bindings.filter((b) => b.queue !== queue));
    }
  }

  private cancelConsumer(consumer: MemoryConsumer): void {
    if (consumer.cancelled) return;
    consumer.cancelled = true;
    const queue = consumer.queue;
    queue.consumers = queue.consumers.filter((c) => c !== consumer);
    // Like a closed AMQP channel: what the consumer held goes back to the head of the
    // queue in delivery order, flagged as redelivered; its later ack/nack are no-ops.
    const returned = [...consumer.unacked].map((d) => ({ ...d.stored, redelivered: true }));
    consumer.unacked.clear();
    queue.ready.unshift(...returned);
    if (queue.spec.autoDelete && queue.consumers.length === 0) this.deleteQueue(queue);
    else this.scheduleDispatch(queue);
  }

  private scheduleDispatch(queue: MemoryQueue): void {
    if (this.dispatchScheduled.has(queue)) return;
    this.dispatchScheduled.add(queue);
    setImmediate(() => {
      this.dispatchScheduled.delete(queue);
      this.dispatch(queue);
    });
  }

  private dispatch(queue: MemoryQueue): void {
    if (this.state !== 'connected') return;
    while (queue.ready.length > 0) {
      const consumer = this.nextConsumer(queue);
      if (!consumer) return;
      this.deliver(consumer, queue.ready.shift()!);
    }
  }

  private nextConsumer(queue: MemoryQueue): MemoryConsumer | undefined {
    const n = queue.consumers.length;
    for (let i = 0; i < n; i++) {
      const index = (queue.next + i) % n;
      const consumer = queue.consumers[index];
      if (!consumer.paused && consumer.unacked.size < consumer.prefetch) {
        queue.next = (index + 1) % n;
        return consumer;
      }
    }
    return undefined;
  }

  private deliver(consumer: MemoryConsumer, stored: StoredMessage): void {
    const delivery: Delivery = { stored };
    consumer.unacked.add(delivery);
    const settle = (as: 'ack' | 'nack', requeue: boolean) => {
      if (delivery.settledAs) throw new MessageAlreadySettledError(stored.routingKey, delivery.settledAs);
      delivery.settledAs = as;
      // Not held any more: the consumer was cancelled and the message already returned.
      if (!consumer.unacked.delete(delivery)) return;
      if (as === 'nack' && requeue) consumer.queue.ready.unshift({ ...stored, redelivered: true });
      this.scheduleDispatch(consumer.queue);
    };
    const message: BrokerMessage<unknown> = {
      body: JSON.parse(stored.json),
      routingKey: stored.routingKey,
      redelivered: stored.redelivered,
      resent: stored.resent === true,
      ack: () => settle('ack', false),
      nack: (requeue: boolean) => settle('nack', requeue),
    };
    Promise.resolve()
      .then(() => consumer.handler(message))
      .catch((err: unknown) => {
        if (delivery.settledAs) {
          this.logger.error(`handler for ${consumer.queue.spec.name} failed after settling: ${describeError(err)}`);
          return;
        }
        // Requeue once so a transient failure gets another try; a second failure drops
        // it rather than spinning on a poison message.
        this.logger.error(
          `handler for ${consumer.queue.spec.name} failed on "${stored.routingKey}", ` +
            `${stored.redelivered ? 'dropping it' : 'requeueing it'}: ${describeError(err)}`,
        );
        settle('nack', !stored.redelivered);
      });
  }

  private emitStatus(status: 'connected' | 'disconnected', detail?: string): void {
    for (const listener of this.listeners) listener(status, detail);
  }
}

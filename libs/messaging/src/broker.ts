/** Exchanges of the topology (DESIGN.md, data flow). All are durable topic exchanges. */
export const EXCHANGES = {
  /** Task messages, routing key = queue name (`default`, `gpu`, …). */
  tasks: 'swarmflow.tasks',
  /** Worker events: `task.started`, `task.container_started`, `task.finished`, `worker.heartbeat`. */
  events: 'swarmflow.events',
  /** Log batches, routing key `log.<tiId>`. */
  logs: 'swarmflow.logs',
  /** Commands to workers, routing key `worker.<name>` or `worker.all`. */
  control: 'swarmflow.control',
} as const;

export type ExchangeName = (typeof EXCHANGES)[keyof typeof EXCHANGES];

/** A queue and what it is bound to. Declaring it is idempotent. */
export interface QueueSpec {
  name: string;
  exchange: ExchangeName;
  bindings: string[];
  /** Survives a broker restart (with persistent messages). Default true. */
  durable?: boolean;
  /** Deleted when its consumer goes (per-worker control queues). Default false. */
  exclusive?: boolean;
  autoDelete?: boolean;
}

/** Durable queue of one task topic; the scheduler declares it before its first publish so no message is dropped. */
export function taskQueue(queue: string): QueueSpec {
  return { name: `swarmflow.tasks.${queue}`, exchange: EXCHANGES.tasks, bindings: [queue], durable: true };
}

/** The scheduler's events queue; several schedulers (HA) compete on it. */
export const EVENTS_QUEUE: QueueSpec = {
  name: 'swarmflow.events.scheduler', exchange: EXCHANGES.events, bindings: ['#'], durable: true,
};

/** The log sink's queue. */
export const LOGS_QUEUE: QueueSpec = {
  name: 'swarmflow.logs.sink', exchange: EXCHANGES.logs, bindings: ['#'], durable: true,
};

/** A worker's own control queue: commands for it and for all workers. */
export function controlQueue(worker: string): QueueSpec {
  return {
    name: `swarmflow.control.${worker}`, exchange: EXCHANGES.control,
    bindings: [`worker.${worker}`, 'worker.all'], durable: false, exclusive: true, autoDelete: true,
  };
}

export interface BrokerMessage<T = unknown> {
  body: T;
  routingKey: string;
  /** True when the broker delivered it before (a consumer died before acking). */
  redelivered: boolean;
  /**
   * Published again by a recovery that cannot know whether the first copy was delivered
   * (the outbox sweep of a scheduler that died between publishing and forgetting it): to
   * be treated like a redelivery. Absent = false.
   */
  resent?: boolean;
  ack(): void;
  /** requeue=false drops it (or dead-letters it where a DLX is set). */
  nack(requeue: boolean): void;
}

export interface PublishOptions {
  /** Mark the message {@link BrokerMessage.resent}. Not for exchanges that coalesce publishes. */
  resent?: boolean;
}

export type MessageHandler<T = unknown> = (msg: BrokerMessage<T>) => Promise<void> | void;

export interface ConsumeOptions {
  /** Unacked messages this consumer may hold. */
  prefetch: number;
}

export interface ConsumerHandle {
  /** Stop deliveries (messages already delivered stay with the handler); idempotent. */
  pause(): Promise<void>;
  /** Start deliveries again; idempotent. */
  resume(): Promise<void>;
  /** Stop for good. */
  cancel(): Promise<void>;
}

export interface QueueStats {
  /** Ready messages (not delivered to a consumer). */
  messages: number;
  consumers: number;
}

/**
 * One broker interface, two implementations (RabbitMQ and in-memory) held to one
 * contract suite. Messages are JSON objects.
 */
export interface Broker {
  /** Connect and declare the exchanges. */
  start(): Promise<void>;
  /** Stop consumers, wait for pending confirms, disconnect. */
  close(): Promise<void>;
  /** Declare a queue and its bindings (idempotent). */
  assertQueue(queue: QueueSpec): Promise<void>;
  /**
   * Publish one persistent message; resolves once the broker confirmed it (RabbitMQ
   * publisher confirms). Rejects if the broker nacks it or the connection is lost
   * before the confirm; waits for a reconnect rather than failing at once.
   */
  publish(exchange: ExchangeName, routingKey: string, body: object, options?: PublishOptions): Promise<void>;
  /** Declare the queue and consume it with manual acks; re-established after a reconnect. */
  consume<T = unknown>(queue: QueueSpec, handler: MessageHandler<T>, options: ConsumeOptions): Promise<ConsumerHandle>;
  queueStats(queueName: string): Promise<QueueStats>;
  /** Called on connection loss / recovery, for logs and health. */
  onStatus(listener: (status: 'connected' | 'disconnected', detail?: string) => void): void;
}

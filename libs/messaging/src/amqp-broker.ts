import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type {
  Broker, BrokerMessage, ConsumeOptions, ConsumerHandle, ExchangeName, MessageHandler, PublishOptions, QueueSpec, QueueStats,
} from './broker';
import { EXCHANGES } from './broker';
import {
  BrokerState, BrokerStateError, BrokerUnavailableError, MessageAlreadySettledError, PublishNackedError, QueueNotFoundError,
} from './errors';
import { assertPrefetch, BrokerLogger, consoleLogger, describeError } from './logger';

/** Options of {@link AmqpBroker}. */
export interface AmqpBrokerOptions {
  /** `amqp://user:pass@host:5672/vhost`; query parameters (heartbeat, frameMax…) as amqplib takes them. */
  url: string;
  /**
   * Prepended to every exchange and queue name, so several deployments (or test files)
   * can share one RabbitMQ vhost. Default ''.
   */
  prefix?: string;
  /** Default: console. */
  logger?: BrokerLogger;
  /**
   * First reconnect delay; doubles per failed attempt up to {@link MAX_RECONNECT_DELAY_MS}
   * (2 s), each delay jittered down to half ({@link reconnectDelay}). Default 500 ms.
   */
  reconnectDelayMs?: number;
  /** Shown by `rabbitmqctl list_connections` and the management UI. Default `swarmflow <prefix>`. */
  connectionName?: string;
  /**
   * Exchanges whose publishes may share one AMQP message (a worker's events and logs):
   * while one message of the exchange awaits its confirm, later publishes gather and go
   * out together when it is confirmed. A lone publish goes out at once, so latency is
   * unchanged when idle; under load RabbitMQ, the consumer and the socket handle one
   * message per batch. Consumers see each publish as its own {@link BrokerMessage}.
   * Only for exchanges whose every routing key reaches the same queues: the batch is
   * routed by its first key. Default none.
   */
  coalesce?: ExchangeName[];
}

/** Header of a message carrying several publishes: their count. Its body is `[{ "k": routingKey, "b": body }, …]`. */
export const BATCH_HEADER = 'x-swarmflow-batch';
/** Header of a message published with `resent` (see BrokerMessage.resent). */
export const RESENT_HEADER = 'x-swarmflow-resent';
const MAX_BATCH_ITEMS = 500;
const MAX_BATCH_BYTES = 512 * 1024;

/** Publishes of a coalescing exchange waiting for the message in flight to be confirmed. */
interface Lane {
  inFlight: number;
  bytes: number;
  pending: { routingKey: string; json: string; resolve(): void; reject(err: Error): void }[];
}

/**
 * Reconnect delays stop growing here: a process comes back at most this long (plus one
 * connection's set-up) after RabbitMQ answers again. Attempts against a broker that is down
 * are cheap (a refused TCP connection), so a short cap costs little.
 */
export const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * The wait before reconnect attempt `attempt` (0-based): `firstMs` doubled per attempt up to
 * {@link MAX_RECONNECT_DELAY_MS}, times a random factor in [0.5, 1) so that the workers and
 * schedulers a broker restart disconnected together do not all come back in the same instant.
 */
export function reconnectDelay(attempt: number, firstMs: number, random: () => number = Math.random): number {
  const base = Math.min(firstMs * 2 ** Math.min(attempt, 30), MAX_RECONNECT_DELAY_MS);
  return base * (0.5 + random() * 0.5);
}
/** A message whose publish channel died this many times while the connection stayed up is rejected, not resent. */
const MAX_CHANNEL_FAILURES = 3;
const PUBLISH_OPTIONS = { persistent: true, contentType: 'application/json' } as const;

/**
 * Channels amqplib has closed. Marked by a listener prepended to 'close', so the mark is
 * set before amqplib fails the channel's pending confirm callbacks in its own listener.
 */
const closedChannels = new WeakSet<Channel>();

function track<C extends Channel>(ch: C, onError: (err: Error) => void): C {
  ch.prependListener('close', () => closedChannels.add(ch));
  // Without an 'error' listener a channel error would be thrown as an uncaught exception.
  ch.on('error', onError);
  return ch;
}

/**
 * amqplib's multiplexer writes each channel's frames to the socket separately, and with
 * `noDelay` each write is a packet: a scheduler acking events on one channel while
 * publishing tasks on another paid two sends per turn. Corked, one turn's frames leave
 * in one writev. It reaches into amqplib's internals, so it steps aside when they differ.
 */
function corkWrites(conn: ChannelModel): void {
  const mux = (conn as unknown as { connection?: { muxer?: { out?: unknown; _readIncoming?: unknown } } }).connection?.muxer;
  const out = mux?.out as { cork?: () => void; uncork?: () => void } | undefined;
  if (!mux || typeof mux._readIncoming !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') return;
  const readIncoming = (mux._readIncoming as () => void).bind(mux);
  mux._readIncoming = () => {
    out.cork!();
    try {
      readIncoming();
    } finally {
      out.uncork!();
    }
  };
}

interface PendingPublish {
  exchange: ExchangeName;
  routingKey: string;
  content: Buffer;
  /** Set on a batch: {@link BATCH_HEADER}. */
  headers?: Record<string, number>;
  resolve(): void;
  reject(err: Error): void;
  channelFailures: number;
}

/**
 * The RabbitMQ {@link Broker}: durable topic exchanges, publisher confirms, one channel
 * per consumer with manual acks, and recovery from connection loss.
 *
 * - `publish()` resolves when RabbitMQ confirms the message (persistent, JSON) and
 *   rejects with {@link PublishNackedError} when it nacks it. Any number may be in
 *   flight on the one confirm channel; when the socket buffer is full further messages
 *   wait for its 'drain'. While the connection is down publishes wait and go out after
 *   the reconnect; a message whose confirm was lost with the connection is sent again,
 *   so delivery is at-least-once (consumers de-duplicate).
 * - On connection loss it reconnects with backoff, re-declares exchanges, queues and
 *   bindings, and re-creates every consumer in its paused/active state. ack()/nack() of
 *   a message delivered on the dead channel are no-ops: RabbitMQ redelivers it.
 * - A delivery that is not valid JSON is logged and dropped (nack without requeue).
 *   A handler that throws without settling gets its message requeued once, then dropped.
 * - `ConsumerHandle.cancel()` closes the consumer's channel, so its unacked messages go
 *   back to the queue. `pause()` is basic.cancel: RabbitMQ deletes an autoDelete queue
 *   whose last consumer goes, so `resume()` re-declares such a queue first.
 * - `start()` fails (and may be called again) when the first connection fails; only an
 *   established broker reconnects on its own.
 */
export class AmqpBroker implements Broker {
  private readonly url: string;
  private readonly prefix: string;
  private readonly logger: BrokerLogger;
  private readonly reconnectDelayMs: number;
  private readonly connectionName: string;
  private readonly lanes = new Map<ExchangeName, Lane>();

  private state: BrokerState = 'idle';
  private conn?: ChannelModel;
  private pubCh?: ConfirmChannel;
  private waitingForDrain = false;
  private adminCh?: Promise<Channel>;
  private statsCh?: Promise<Channel>;

  /** Not sent yet, in publish order. */
  private readonly backlog: PendingPublish[] = [];
  /** Sent on a channel that died before confirming; go out before the backlog. */
  private readonly resend: PendingPublish[] = [];
  /** Sent, confirm outstanding. */
  private readonly inflight = new Set<PendingPublish>();
  private idleWaiters: Array<() => void> = [];

  /** Declared queues by unprefixed name, re-declared after a reconnect. */
  private readonly queues = new Map<string, QueueSpec>();
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly statusListeners: Array<(status: 'connected' | 'disconnected', detail?: string) => void> = [];
  private connectedWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private reconnecting = false;
  private wakeReconnect?: () => void;
  private closing?: Promise<void>;

  constructor(options: AmqpBrokerOptions) {
    this.url = options.url;
    this.prefix = options.prefix ?? '';
    this.logger = options.logger ?? consoleLogger('AmqpBroker');
    this.reconnectDelayMs = options.reconnectDelayMs ?? 500;
    this.connectionName = options.connectionName ?? `swarmflow${this.prefix ? ` ${this.prefix}` : ''}`;
    for (const exchange of options.coalesce ?? []) {
      if (!EXCHANGE_NAMES.has(exchange)) throw new TypeError(`coalesce: unknown exchange "${exchange}"`);
      this.lanes.set(exchange, { inFlight: 0, bytes: 0, pending: [] });
    }
  }

  /**
   * Connects and declares the exchanges. Throws {@link BrokerStateError} unless idle, and
   * the connection error (state back to idle) when RabbitMQ cannot be reached.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new BrokerStateError('start', this.state);
    this.state = 'starting';
    try {
      await this.connect();
    } catch (err) {
      const state = this.currentState(); // close() or a connection loss may have changed it meanwhile
      if (state !== 'closing' && state !== 'closed') {
        this.state = 'idle';
        this.failUnsent(new BrokerStateError('publish', 'idle'));
      }
      throw new Error(`cannot connect to RabbitMQ at ${redact(this.url)}: ${describeError(err)}`, { cause: err });
    }
  }

  /**
   * Cancels the consumers (their unacked messages return to the queues), waits for the
   * confirms of every publish made before the call, then disconnects. Publishes still
   * waiting for a reconnect are rejected with {@link BrokerUnavailableError}. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /** Declares the queue and its bindings (idempotent); waits for a reconnect if the connection is down. */
  async assertQueue(spec: QueueSpec): Promise<void> {
    this.requireOpen('assertQueue');
    this.validate(spec);
    await this.whenConnected();
    const ch = await this.adminChannel();
    await this.declare(ch, spec);
    this.queues.set(spec.name, spec);
  }

  /**
   * Publishes one persistent JSON message and resolves on the broker's confirm. Throws
   * {@link BrokerStateError} before start() or after close(), TypeError for a body that
   * is not JSON, and rejects with {@link PublishNackedError} when RabbitMQ nacks it.
   */
  publish(exchange: ExchangeName, routingKey: string, body: object, options?: PublishOptions): Promise<void> {
    try {
      this.requireOpen('publish');
      if (!EXCHANGE_NAMES.has(exchange)) throw new TypeError(`publish: unknown exchange "${exchange}"`);
      const json = JSON.stringify(body);
      if (json === undefined) throw new TypeError(`publish to ${exchange}: body is not JSON-serialisable`);
      const lane = options?.resent ? undefined : this.lanes.get(exchange);
      if (options?.resent) return this.enqueue(exchange, routingKey, Buffer.from(json), { [RESENT_HEADER]: 1 });
      if (lane) {
        return new Promise<void>((resolve, reject) => {
          lane.pending.push({ routingKey, json, resolve, reject });
          lane.bytes += json.length;
          if (lane.inFlight === 0 || lane.pending.length >= MAX_BATCH_ITEMS || lane.bytes >= MAX_BATCH_BYTES) this.flushLane(exchange, lane);
        });
      }
      return this.enqueue(exchange, routingKey, Buffer.from(json));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends what a coalescing exchange gathered: one message, a batch when more than one. */
  private flushLane(exchange: ExchangeName, lane: Lane): void {
    const items = lane.pending.splice(0);
    lane.bytes = 0;
    if (items.length === 0) return;
    lane.inFlight++;
    const sent = items.length === 1
      ? this.enqueue(exchange, items[0].routingKey, Buffer.from(items[0].json))
      : this.enqueue(exchange, items[0].routingKey,
        Buffer.from(`[${items.map((i) => `{"k":${JSON.stringify(i.routingKey)},"b":${i.json}}`).join(',')}]`),
        { [BATCH_HEADER]: items.length });
    sent.then(
      () => items.forEach((i) => i.resolve()),
      (err: Error) => items.forEach((i) => i.reject(err)),
    ).finally(() => {
      lane.inFlight--;
      if (lane.pending.length > 0 && lane.inFlight === 0) this.flushLane(exchange, lane);
    });
  }

  private enqueue(exchange: ExchangeName, routingKey: string, content: Buffer, headers?: Record<string, number>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A lane flushing after start() failed or close() ended: nothing will send it.
      if (this.state === 'idle' || this.state === 'closed') return reject(new BrokerStateError('publish', this.state));
      const pending: PendingPublish = { exchange, routingKey, content, headers, resolve, reject, channelFailures: 0 };
      if (this.state === 'connected' && this.pubCh && !this.waitingForDrain && this.backlog.length === 0 && this.resend.length === 0) {
        this.send(this.pubCh, pending);
      } else {
        this.backlog.push(pending);
      }
    });
  }

  /**
   * Declares the queue and consumes it on a channel of its own with `prefetch` and manual
   * acks. The consumer survives reconnects. Throws RangeError for a bad prefetch.
   */
  async consume<T = unknown>(spec: QueueSpec, handler: MessageHandler<T>, options: ConsumeOptions): Promise<ConsumerHandle> {
    this.requireOpen('consume');
    assertPrefetch(options.prefetch);
    await this.assertQueue(spec);
    const consumer = new AmqpConsumer(this.consumerContext, spec, handler as MessageHandler<unknown>, options.prefetch);
    this.consumers.add(consumer);
    const conn = this.conn;
    if (this.state === 'connected' && conn) await consumer.attach(conn);
    return consumer;
  }

  /**
   * Ready messages and consumers of a queue, by unprefixed name (RabbitMQ's
   * queue.declare-ok counts: unacked messages and paused consumers are not included).
   * Throws {@link QueueNotFoundError}, or {@link BrokerUnavailableError} while reconnecting.
   */
  async queueStats(queueName: string): Promise<QueueStats> {
    this.requireOpen('queueStats');
    if (this.state !== 'connected' || !this.conn) throw new BrokerUnavailableError('queueStats');
    const conn = this.conn;
    // Quiet: a passive declare of a missing (404) or another connection's exclusive (405)
    // queue closes the channel, an answer the caller gets as an error, not a fault to log.
    const opened = (this.statsCh ??= this.openChannel(conn, () => {
      if (this.statsCh === opened) this.statsCh = undefined;
    }, true));
    const ch = await opened;
    try {
      const reply = await ch.checkQueue(this.prefix + queueName);
      return { messages: reply.messageCount, consumers: reply.consumerCount };
    } catch (err) {
      // A failed passive declare closes the channel (404); the next call opens another.
      if (this.statsCh === opened) this.statsCh = undefined;
      if ((err as { code?: number }).code === 404) throw new QueueNotFoundError(queueName);
      throw err;
    }
  }

  /** `connected` after start() and every recovery, `disconnected` (with the reason) on each loss. */
  onStatus(listener: (status: 'connected' | 'disconnected', detail?: string) => void): void {
    this.statusListeners.push(listener);
  }

  /** What consumers need from the broker, without widening its public API. */
  private readonly consumerContext: ConsumerContext = {
    logger: () => this.logger,
    queueName: (spec) => this.prefix + spec.name,
    declare: (ch, spec) => this.declare(ch, spec),
    isCurrent: (conn) => conn === this.conn && this.state !== 'closed',
    forget: (consumer) => {
      this.consumers.delete(consumer);
      const spec = consumer.spec;
      // RabbitMQ deletes an autoDelete queue with its last consumer; do not bring it back on reconnect.
      if (spec.autoDelete && ![...this.consumers].some((c) => c.spec.name === spec.name)) this.queues.delete(spec.name);
    },
  };

  /** Reads the state past TypeScript's narrowing, for checks after an await. */
  private currentState(): BrokerState {
    return this.state;
  }

  private requireOpen(operation: string): void {
    if (this.state === 'idle' || this.state === 'closing' || this.state === 'closed') {
      throw new BrokerStateError(operation, this.state);
    }
  }

  private validate(spec: QueueSpec): void {
    if (!EXCHANGE_NAMES.has(spec.exchange)) throw new TypeError(`queue ${spec.name}: unknown exchange "${spec.exchange}"`);
  }

  private async declare(ch: Channel, spec: QueueSpec): Promise<void> {
    const name = this.prefix + spec.name;
    await ch.assertQueue(name, {
      durable: spec.durable ?? true,
      exclusive: spec.exclusive ?? false,
      autoDelete: spec.autoDelete ?? false,
    });
    await Promise.all(spec.bindings.map((key) => ch.bindQueue(name, this.prefix + spec.exchange, key)));
  }

  private openChannel(conn: ChannelModel, onClose: () => void, quiet = false): Promise<Channel> {
    const opened = conn.createChannel().then((ch) => {
      track(ch, (err) => {
        if (!quiet) this.logger.warn(`channel error: ${describeError(err)}`);
      });
      ch.on('close', onClose);
      return ch;
    });
    opened.catch(onClose);
    return opened;
  }

  private async adminChannel(): Promise<Channel> {
    const conn = this.conn;
    if (!conn) throw new BrokerUnavailableError('declare');
    const opened = (this.adminCh ??= this.openChannel(conn, () => {
      if (this.adminCh === opened) this.adminCh = undefined;
    }));
    const ch = await opened;
    // A failed declaration closes the channel; its 'close' may not have reached us yet.
    if (closedChannels.has(ch)) {
      if (this.adminCh === opened) this.adminCh = undefined;
      return this.adminChannel();
    }
    return ch;
  }

  /** One connection attempt with the whole topology; throws if the connection dies midway. */
  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url, { noDelay: true, clientProperties: { connection_name: this.connectionName } });
    corkWrites(conn);
    this.conn = conn;
    conn.on('error', (err: Error) => this.logger.warn(`connection error: ${describeError(err)}`));
    conn.on('close', (err?: Error) => this.onConnectionLost(conn, err));
    conn.on('blocked', (reason: string) => this.logger.warn(`RabbitMQ blocked publishing: ${reason}`));
    conn.on('unblocked', () => this.logger.log('RabbitMQ unblocked publishing'));
    const lost = () => {
      if (this.state === 'closing' || this.state === 'closed') throw new BrokerStateError('connect', this.state);
      if (this.conn !== conn) throw new Error('connection lost while setting up');
    };
    try {
      const admin = await this.adminChannel();
      await Promise.all(Object.values(EXCHANGES).map((ex) => admin.assertExchange(this.prefix + ex, 'topic', { durable: true })));
      // Queues before the backlog goes out, so nothing published meanwhile is dropped unrouted.
      await Promise.all([...this.queues.values()].map((spec) => this.declare(admin, spec)));
      const pubCh = track(await conn.createConfirmChannel(), (err) => this.logger.warn(`publish channel error: ${describeError(err)}`));
      pubCh.on('close', () => this.onPublishChannelClosed(conn, pubCh));
      lost();
      this.pubCh = pubCh;
      this.waitingForDrain = false;
      this.state = 'connected';
      if (this.resend.length) this.logger.warn(`re-sending ${this.resend.length} publish(es) whose confirm was lost with the connection`);
      this.flush();
      await Promise.all([...this.consumers].map((c) => c.attach(conn)));
      lost();
    } catch (err) {
      if (this.conn === conn) {
        this.conn = undefined;
        this.pubCh = undefined;
        this.adminCh = undefined;
        this.statsCh = undefined;
      }
      await conn.close().catch(() => undefined);
      throw err;
    }
    const waiters = this.connectedWaiters.splice(0);
    for (const w of waiters) w.resolve();
    this.emitStatus('connected');
  }

  private whenConnected(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
  }

  private onConnectionLost(conn: ChannelModel, err?: Error): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.pubCh = undefined;
    this.adminCh = undefined;
    this.statsCh = undefined;
    const detail = err ? describeError(err) : 'connection closed';
    if (this.state === 'closing') {
      this.failUnsent(new BrokerUnavailableError('publish (connection lost while closing)'));
      return;
    }
    if (this.state !== 'connected') return; // starting or reconnecting: that attempt fails and is retried
    this.state = 'reconnecting';
    this.logger.warn(`RabbitMQ connection lost (${detail}); reconnecting`);
    this.emitStatus('disconnected', detail);
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let attempt = 0; this.state === 'reconnecting'; attempt++) {
        const delay = reconnectDelay(attempt, this.reconnectDelayMs);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakeReconnect = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeReconnect = undefined;
        if (this.state !== 'reconnecting') return;
        try {
          await this.connect();
          this.logger.log(`RabbitMQ connection recovered after ${attempt + 1} attempt(s)`);
        } catch (err) {
          const state = this.currentState(); // connect() sets it before its last steps, which may fail
          if (state === 'connected') this.state = 'reconnecting';
          this.logger.warn(`reconnect attempt ${attempt + 1} failed: ${describeError(err)}`);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private send(ch: ConfirmChannel, pending: PendingPublish): boolean {
    this.inflight.add(pending);
    let writable: boolean;
    try {
      const options = pending.headers ? { ...PUBLISH_OPTIONS, headers: pending.headers } : PUBLISH_OPTIONS;
      writable = ch.publish(this.prefix + pending.exchange, pending.routingKey, pending.content, options, (err: unknown) =>
        this.onConfirm(ch, pending, err),
      );
    } catch (err) {
      // amqplib throws synchronously (no callback registered) when the channel is closed.
      this.inflight.delete(pending);
      if (closedChannels.has(ch)) this.resend.unshift(pending);
      else pending.reject(err instanceof Error ? err : new Error(String(err)));
      this.notifyIfIdle();
      return false;
    }
    if (!writable) {
      this.waitingForDrain = true;
      ch.once('drain', () => {
        if (ch !== this.pubCh) return;
        this.waitingForDrain = false;
        this.flush();
      });
    }
    return writable;
  }

  private onConfirm(ch: ConfirmChannel, pending: PendingPublish, err: unknown): void {
    if (!this.inflight.delete(pending)) return;
    if (!err) pending.resolve();
    else if (!closedChannels.has(ch)) pending.reject(new PublishNackedError(pending.exchange, pending.routingKey));
    else if (this.state === 'closing' || this.state === 'closed') {
      pending.reject(new BrokerUnavailableError('publish (connection lost while closing)'));
    } else {
      // The confirm was lost with the channel: RabbitMQ may or may not have the message,
      // so send it again (at-least-once). onPublishChannelClosed decides when.
      this.resend.push(pending);
    }
    this.notifyIfIdle();
  }

  private onPublishChannelClosed(conn: ChannelModel, ch: ConfirmChannel): void {
    if (ch !== this.pubCh) return;
    // The connection's own 'close' comes right after its channels'; let it run first so a
    // connection loss is not mistaken for a channel error.
    setImmediate(() => {
      if (ch !== this.pubCh || conn !== this.conn || this.state !== 'connected') return;
      this.pubCh = undefined;
      this.logger.error('publish channel closed by RabbitMQ while connected; opening a new one');
      for (const pending of this.resend.splice(0)) {
        if (++pending.channelFailures >= MAX_CHANNEL_FAILURES) {
          pending.reject(new PublishNackedError(pending.exchange, pending.routingKey, 'the publish channel was closed by the broker repeatedly'));
        } else {
          this.resend.push(pending);
        }
      }
      this.notifyIfIdle();
      conn
        .createConfirmChannel()
        .then((next) => {
          track(next, (err) => this.logger.warn(`publish channel error: ${describeError(err)}`));
          next.on('close', () => this.onPublishChannelClosed(conn, next));
          if (conn !== this.conn) return void next.close().catch(() => undefined);
          this.pubCh = next;
          this.waitingForDrain = false;
          this.flush();
        })
        .catch((err: unknown) => {
          this.logger.error(`cannot reopen the publish channel, closing the connection to recover: ${describeError(err)}`);
          void conn.close().catch(() => undefined);
        });
    });
  }

  private flush(): void {
    const ch = this.pubCh;
    if (!ch || (this.state !== 'connected' && this.state !== 'closing')) return;
    while (!this.waitingForDrain && !closedChannels.has(ch)) {
      const pending = this.resend.shift() ?? this.backlog.shift();
      if (!pending) break;
      if (!this.send(ch, pending)) break;
    }
  }

  private failUnsent(err: Error): void {
    for (const pending of [...this.resend.splice(0), ...this.backlog.splice(0)]) pending.reject(err);
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.inflight.size || this.resend.length || this.backlog.length) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async doClose(): Promise<void> {
    if (this.state === 'idle' || this.state === 'closed') {
      this.state = 'closed';
      return;
    }
    const wasConnected = this.state === 'connected';
    this.state = 'closing';
    this.wakeReconnect?.();
    for (const w of this.connectedWaiters.splice(0)) w.reject(new BrokerStateError('wait for the connection', 'closed'));
    await Promise.all([...this.consumers].map((c) => c.cancel()));
    // What coalescing exchanges gathered goes out (or fails) with the rest, not after.
    for (const [exchange, lane] of this.lanes) this.flushLane(exchange, lane);
    if (wasConnected && this.conn) {
      this.flush();
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.notifyIfIdle();
      await idle;
    } else {
      this.failUnsent(new BrokerUnavailableError('publish (broker closed while disconnected)'));
    }
    this.state = 'closed';
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close().catch(() => undefined);
  }

  private emitStatus(status: 'connected' | 'disconnected', detail?: string): void {
    for (const listener of this.statusListeners) {
      try {
        listener(status, detail);
      } catch (err) {
        this.logger.error(`onStatus listener failed: ${describeError(err)}`);
      }
    }
  }
}

const EXCHANGE_NAMES = new Set<string>(Object.values(EXCHANGES));

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

interface ConsumerContext {
  logger(): BrokerLogger;
  queueName(spec: QueueSpec): string;
  declare(ch: Channel, spec: QueueSpec): Promise<void>;
  /** The connection is the broker's live one (not replaced, broker not closed). */
  isCurrent(conn: ChannelModel): boolean;
  forget(consumer: AmqpConsumer): void;
}

/**
 * One consumer on its own channel. Operations (attach after a reconnect, pause, resume,
 * cancel) run one at a time in call order, so a resume racing a reconnect cannot open
 * two basic.consume on one channel.
 */
class AmqpConsumer implements ConsumerHandle {
  private paused = false;
  private cancelled = false;
  private ch?: Channel;
  /** Connection `ch` belongs to; attach() to the same live connection is a no-op. */
  private conn?: ChannelModel;
  private consumerTag?: string;
  private ops: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: ConsumerContext,
    readonly spec: QueueSpec,
    private readonly handler: MessageHandler<unknown>,
    private readonly prefetch: number,
  ) {}

  pause(): Promise<void> {
    return this.serial(async () => {
      this.paused = true;
      const ch = this.ch;
      const tag = this.consumerTag;
      this.consumerTag = undefined;
      if (ch && tag && !closedChannels.has(ch)) await ch.cancel(tag);
    });
  }

  resume(): Promise<void> {
    return this.serial(async () => {
      if (this.cancelled) return;
      this.paused = false;
      const ch = this.ch;
      if (!ch || this.consumerTag || closedChannels.has(ch)) return; // attach() starts it after a reconnect
      if (this.spec.autoDelete) await this.ctx.declare(ch, this.spec);
      await this.startConsuming(ch);
    });
  }

  cancel(): Promise<void> {
    return this.serial(async () => {
      if (this.cancelled) return;
      this.cancelled = true;
      this.ctx.forget(this);
      const ch = this.ch;
      this.ch = undefined;
      this.consumerTag = undefined;
      // Closing the channel (not just basic.cancel) hands the unacked messages back.
      if (ch && !closedChannels.has(ch)) await ch.close().catch(() => undefined);
    });
  }

  /** Opens this consumer's channel on a (new) connection and consumes unless paused. */
  attach(conn: ChannelModel): Promise<void> {
    return this.serial(async () => {
      if (this.cancelled || (this.conn === conn && this.ch && !closedChannels.has(this.ch))) return;
      const logger = this.ctx.logger();
      const ch = track(await conn.createChannel(), (err) =>
        logger.warn(`consumer channel of ${this.spec.name} failed: ${describeError(err)}`),
      );
      ch.on('close', () => this.onChannelClosed(conn, ch));
      this.ch = ch;
      this.conn = conn;
      this.consumerTag = undefined;
      await ch.prefetch(this.prefetch);
      if (!this.paused) await this.startConsuming(ch);
    });
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const run = this.ops.then(op);
    this.ops = run.catch(() => undefined);
    return run;
  }

  private async startConsuming(ch: Channel): Promise<void> {
    const reply = await ch.consume(this.ctx.queueName(this.spec), (msg) => this.onDelivery(ch, msg), { noAck: false });
    if (this.ch === ch) this.consumerTag = reply.consumerTag;
  }

  private onChannelClosed(conn: ChannelModel, ch: Channel): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    this.consumerTag = undefined;
    // Let a connection loss (whose 'close' follows its channels') reach the broker first;
    // a channel closed while its connection lives was a channel error: open another.
    setImmediate(() => {
      if (this.cancelled || this.ch || !this.ctx.isCurrent(conn)) return;
      this.ctx.logger().warn(`consumer channel of ${this.spec.name} closed by RabbitMQ; re-creating the consumer`);
      this.attach(conn).catch((err: unknown) =>
        this.ctx.logger().error(`cannot re-create the consumer of ${this.spec.name}: ${describeError(err)}`),
      );
    });
  }

  private onDelivery(ch: Channel, msg: ConsumeMessage | null): void {
    const logger = this.ctx.logger();
    if (msg === null) {
      // basic.cancel from the server: the queue was deleted under us.
      logger.warn(`RabbitMQ cancelled the consumer of ${this.spec.name} (queue deleted?); re-declaring it`);
      void this.serial(async () => {
        if (this.ch !== ch) return;
        this.consumerTag = undefined;
        if (this.paused || this.cancelled || closedChannels.has(ch)) return;
        await this.ctx.declare(ch, this.spec);
        await this.startConsuming(ch);
      }).catch((err: unknown) => logger.error(`cannot re-consume ${this.spec.name}: ${describeError(err)}`));
      return;
    }
    const routingKey = msg.fields.routingKey;
    let body: unknown;
    try {
      body = JSON.parse(msg.content.toString('utf8'));
    } catch (err) {
      logger.warn(`dropping a message on ${this.spec.name} with key "${routingKey}" that is not JSON: ${describeError(err)}`);
      settleOn(ch, msg, 'nack', false);
      return;
    }
    if (msg.properties.headers?.[BATCH_HEADER] !== undefined) {
      const parts = batchParts(body);
      if (parts === null) {
        logger.warn(`dropping a malformed batch on ${this.spec.name} with key "${routingKey}"`);
        settleOn(ch, msg, 'nack', false);
        return;
      }
      // The message is settled once every part is: requeued if any part asks for it (its
      // acked siblings come again: at-least-once, as after any redelivery), else acked.
      let open = parts.length;
      let requeue = false;
      let dropped = 0;
      for (const part of parts) {
        this.handle(part.b, part.k, msg.fields.redelivered, (as, rq) => {
          if (as === 'nack') {
            if (rq) requeue = true;
            else dropped++;
          }
          if (--open > 0) return;
          if (requeue) settleOn(ch, msg, 'nack', true);
          else settleOn(ch, msg, dropped === parts.length ? 'nack' : 'ack', false);
        });
      }
      return;
    }
    this.handle(body, routingKey, msg.fields.redelivered, (as, requeue) => settleOn(ch, msg, as, requeue), msg.properties.headers?.[RESENT_HEADER] !== undefined);
  }

  /** Hands one message (or one part of a batch) to the handler; `settle` is called once. */
  private handle(
    body: unknown, routingKey: string, redelivered: boolean, settleWith: (as: 'ack' | 'nack', requeue: boolean) => void, resent = false,
  ): void {
    const logger = this.ctx.logger();
    let settledAs: 'ack' | 'nack' | undefined;
    const settle = (as: 'ack' | 'nack', requeue: boolean) => {
      if (settledAs) throw new MessageAlreadySettledError(routingKey, settledAs);
      settledAs = as;
      settleWith(as, requeue);
    };
    const message: BrokerMessage<unknown> = {
      body,
      routingKey,
      redelivered,
      resent,
      ack: () => settle('ack', false),
      nack: (requeue: boolean) => settle('nack', requeue),
    };
    Promise.resolve()
      .then(() => this.handler(message))
      .catch((err: unknown) => {
        if (settledAs) {
          logger.error(`handler for ${this.spec.name} failed after settling: ${describeError(err)}`);
          return;
        }
        // Requeue once so a transient failure gets another try; a second failure drops
        // it rather than spinning on a poison message.
        logger.error(
          `handler for ${this.spec.name} failed on "${routingKey}", ` +
            `${message.redelivered ? 'dropping it' : 'requeueing it'}: ${describeError(err)}`,
        );
        settle('nack', !message.redelivered);
      });
  }
}

/** The parts of a batch message, or null when its body is not one. */
function batchParts(body: unknown): { k: string; b: unknown }[] | null {
  if (!Array.isArray(body) || body.length === 0) return null;
  return body.every((p) => typeof p === 'object' && p !== null && typeof p.k === 'string' && 'b' in p) ? body : null;
}

/** ack/nack on the delivering channel; a no-op once it is closed, since RabbitMQ redelivers. */
function settleOn(ch: Channel, msg: ConsumeMessage, as: 'ack' | 'nack', requeue: boolean): void {
  if (closedChannels.has(ch)) return;
  try {
    if (as === 'ack') ch.ack(msg);
    else ch.nack(msg, false, requeue);
  } catch (err) {
    // The channel may close between the check and the call (IllegalOperationError).
    if (!closedChannels.has(ch)) throw err;
  }
}

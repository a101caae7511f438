import type { ControlMessage, TaskClaimRequest, WorkerEvent } from '@swarmflow/core';
import { ControlSender, EVENTS_QUEUE, EXCHANGES, taskQueue, type Broker, type BrokerMessage, type ConsumerHandle, type ExchangeName } from '@swarmflow/messaging';
import { SchedulerRegistry, type OutboxMessage, type Repositories } from '@swarmflow/persistence';
import { ControlSigner, type ClusterKey } from '@swarmflow/secrets';
import { LogCompletionGate } from '../handlers/log-completion.gate';
import { parseWorkerEvent } from '../handlers/worker-event.schema';
import { ConcurrentUpdateError } from './pending-writes';
import { WorkerPresence } from './worker-presence';
import { ClaimDesk, parseClaim } from './claim-desk';
import { processMetrics } from '@swarmflow/observability';
import { recordTransitions } from './scheduler-metrics';
import { SchedulingService, type IterationResult, type SchedulingOptions, type TryCancel, DEFAULT_SCHEDULING_OPTIONS } from './scheduling.service';

export interface SchedulerLogger {
  log(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** An ack on a channel that died is moot: the broker redelivers, and applying an event twice changes nothing. */
function settle(action: () => void): void {
  try {
    action();
  } catch {
    // see above
  }
}

const MAX_EVENTS_PER_ITERATION = 2000;
/** How often the outbox sweep looks for rows an interrupted scheduler left (those older than `outboxSweepAgeMs`). */
const SWEEP_EVERY_MS = 1000;
/** Rows older than this are swept when no other scheduler is alive (see SchedulerRegistry). */
const SOLO_SWEEP_AGE_MS = 500;
/** After a broker outage every scheduler has a backlog to publish: the sweep leaves theirs to them this long. */
const SWEEP_PAUSE_AFTER_RECONNECT_MS = 3000;
/** Retries of a failing iteration back off up to this. */
const OUTAGE_RETRY_MAX_MS = 2000;
/** See SchedulingOptions.workerGoneMs. */
export const DEFAULT_WORKER_GONE_MS = 2000;

/** The error says the database cannot be reached (connection refused or lost, shutting down), not that a statement failed. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03'].includes(code)) return true;
  if (code.startsWith('08')) return true; // connection exceptions
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(e?.message ?? '');
}

/**
 * The scheduler's loop. Event-driven: a worker event wakes it at once, so a finished
 * task's downstream tasks are dispatched in the same iteration; a tick every `tickMs`
 * handles time (cron, retry delays, heartbeat expiry). One iteration runs at a time.
 */
export class SchedulerRunner {
  private readonly scheduling: SchedulingService;
  private readonly logGate: LogCompletionGate;
  private readonly buffer: { event: WorkerEvent; msg: BrokerMessage }[] = [];
  private consumer: ConsumerHandle | null = null;
  private wake: (() => void) | null = null;
  private running = false;
  /** Someone changed runs outside the loop (trigger, clear): iterate, and start queued runs, now. */
  private nudged = false;
  /**
   * Since when events have been flowing: workers are expired only a heartbeat timeout later.
   * Reset when the broker connection comes back and when the database does (events waited
   * meanwhile); while disconnected from either, nobody is expired for silence ({@link listening}).
   */
  private listeningSince = 0;
  /** Connected to the broker, so consuming events (heartbeats among them). */
  private brokerUp = true;
  /** Finds workers whose broker connection closed, in seconds (see WorkerPresence). */
  readonly presence: WorkerPresence;
  /** The database outage the loop is in: when it began and how many iterations failed since; null when none. */
  private outage: { since: number; failures: number } | null = null;
  /** Workers' claims of redelivered task messages, answered after iterations. */
  private readonly claims: ClaimDesk;
  /** A claim arrived since the last iteration began: iterate now, to time it. */
  private claimArrived = false;
  /** Tells whether other schedulers are alive (for the outbox sweep); null without a database URL (tests' fakes). */
  private readonly registry: SchedulerRegistry | null;
  /** Buffered events other than `task.started`: the ones worth an iteration now. */
  private actionable = 0;
  /** The last iteration stopped dispatching at its slice: the next one comes at once and dispatches. */
  private moreToDispatch = false;
  private loopDone: Promise<void> = Promise.resolve();
  private lastTick = 0;
  private lastSweep = 0;
  /** The outbox sweep under way, if one is. */
  private sweeping: Promise<void> | null = null;
  private readonly assertedQueues = new Set<string>();
  /** Outbox rows published since the last iteration; it deletes them. */
  private published: number[] = [];
  /** Publishes of committed iterations still waiting for their confirms. */
  private readonly publishing = new Set<Promise<void>>();
  /** Their outbox ids: the sweep leaves them alone (a broker outage holds them past its age). */
  private readonly inFlight = new Set<number>();
  /** Task messages this scheduler published whose `task.finished` it has not seen: events still to come. */
  private unfinished = 0;
  /** When the latest `task.finished` arrived, and how long after the one before it. */
  private lastFinishAt = -Infinity;
  private finishGapMs = Infinity;
  /** The loop waits for more events before an iteration ({@link holdForEvents}). */
  private holding = false;
  /** An iteration is deciding or writing (its events are out of the buffer, not yet acked). */
  private iterating = false;
  private readonly metrics = processMetrics();
  /** Iterations completed; tests and the benchmark wait on it. */
  iterations = 0;
  /** Iterations that first waited for more events; tests and the benchmark read it. */
  held = 0;

  /** Reported ends held until their log batches are stored (see LogCompletionGate). */
  get endsHeldForLogs(): number {
    return this.logGate.waiting;
  }

  /** Iterations decided from memory in one round trip, and by reading the database; from-memory writes refused as stale. */
  get decisions(): { fromMemory: number; fromDatabase: number; memoryStale: number } {
    return { ...this.scheduling.stats };
  }

  /** Signed commands to workers: cancels of second copies, claim answers. */
  private readonly control: ControlSender;

  constructor(
    private readonly repos: Repositories,
    private readonly broker: Broker,
    private readonly logger: SchedulerLogger,
    private readonly options: SchedulingOptions = DEFAULT_SCHEDULING_OPTIONS,
    private readonly clock: () => Date = () => new Date(),
    clusterKey: ClusterKey | null = null,
  ) {
    this.scheduling = new SchedulingService(repos, options, (m) => logger.log(m), clusterKey);
    const url = (repos.db as { config?: { url?: string } } | undefined)?.config?.url;
    this.registry = url ? new SchedulerRegistry(url) : null;
    this.control = new ControlSender(broker, clusterKey && new ControlSigner(clusterKey));
    this.claims = new ClaimDesk(repos, this.control, (m) => logger.error(m), (m) => logger.log(m), (tiId, tryNumber) => this.logGate.holdsEnd(tiId, tryNumber));
    this.presence = new WorkerPresence(broker, repos, options.workerGoneMs ?? DEFAULT_WORKER_GONE_MS);
    this.logGate = new LogCompletionGate(repos.logs, (event, msg) => this.accept(event, msg), (m) => logger.warn(m));
    this.scheduling.onCommitted = (transitions) => recordTransitions(this.metrics, transitions);
    this.scheduling.heldEnd = (tiId, tryNumber) => this.logGate.holdsEnd(tiId, tryNumber);
  }

  async start(): Promise<void> {
    this.running = true;
    // Registered before the first iteration, so no other scheduler's sweep takes this one's rows for orphans.
    await this.registry?.others();
    this.listeningSince = this.clock().getTime();
    // After an outage no heartbeat came for a while: give them a full timeout to come back.
    this.broker.onStatus((status) => {
      this.brokerUp = status === 'connected';
      if (status === 'connected') {
        this.listeningSince = this.clock().getTime();
        // Outbox rows other schedulers wrote during the outage are theirs to publish now.
        this.lastSweep = this.listeningSince + SWEEP_PAUSE_AFTER_RECONNECT_MS;
      }
    });
    this.consumer = await this.broker.consume<unknown>(EVENTS_QUEUE, (msg) => this.onEvent(msg), {
      prefetch: MAX_EVENTS_PER_ITERATION,
    });
    this.loopDone = this.loop();
    this.presence.start();
  }

  /** Ask for an iteration now (after a trigger or a clear through the API in the same process). */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** From now on iterations apply events but queue no task (see SchedulingService.dispatchHeld). */
  holdDispatch(): void {
    this.scheduling.dispatchHeld = true;
  }

  /**
   * Stops the loop. With `finishEvents` (standalone, whose in-memory broker dies with the
   * process) it first applies every event already sent to it, dispatch held: the events
   * queue empty, the buffer applied, no iteration in flight; at most `finishEventsMs`.
   * Without it, events not yet applied go back to the queue for the next scheduler.
   */
  async stop(options: { finishEvents?: boolean; finishEventsMs?: number } = {}): Promise<void> {
    if (options.finishEvents && this.running) await this.finishEvents(options.finishEventsMs ?? 10_000);
    this.running = false;
    await this.presence.stop();
    await this.sweeping;
    await this.consumer?.cancel();
    this.wake?.();
    await this.loopDone;
    await Promise.all([...this.publishing]);
    this.logGate.stop();
    // Rows not deleted here are published again by a sweep: duplicates, never losses.
    await this.repos.outbox.markPublished(this.published.splice(0)).catch(() => undefined);
    // Unprocessed events go back to the queue for the next scheduler.
    for (const { msg } of this.buffer.splice(0)) msg.nack(true);
    await this.registry?.close();
  }

  private async finishEvents(timeoutMs: number): Promise<void> {
    this.holdDispatch();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = (await this.broker.queueStats(EVENTS_QUEUE.name)).messages;
      // Ends the log gate holds are not in the buffer yet: they must be applied too.
      if (ready === 0 && this.buffer.length === 0 && !this.iterating && this.logGate.waiting === 0) return;
      if (Date.now() >= deadline) {
        this.logger.warn(`stopping with ${ready + this.buffer.length + this.logGate.waiting} worker event(s) not applied after ${timeoutMs} ms`);
        return;
      }
      // An iteration now, even for a batch of only task.started events (those otherwise wait for the tick).
      if (this.buffer.length > 0 && !this.iterating) this.nudge();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private onEvent(msg: BrokerMessage<unknown>): void {
    let claim: TaskClaimRequest | null;
    try {
      claim = parseClaim(msg.body);
    } catch (err) {
      this.logger.warn(`dropping a worker event (${msg.routingKey}): ${(err as Error).message}`);
      msg.ack();
      return;
    }
    if (claim) {
      // Answered from memory after an iteration; lost with this scheduler, the worker asks again.
      this.claims.add(claim);
      this.claimArrived = true;
      msg.ack();
      this.wake?.();
      return;
    }
    const parsed = parseWorkerEvent(msg.body);
    if (!parsed.ok) {
      this.logger.warn(`dropping a malformed worker event (${msg.routingKey}): ${parsed.error}`);
      msg.ack();
      return;
    }
    this.logGate.admit(parsed.event, msg);
  }

  /** An event that may be applied now (a try's end once its log is stored: {@link LogCompletionGate}). */
  private accept(event: WorkerEvent, msg: BrokerMessage<unknown>): void {
    this.buffer.push({ event, msg });
    if (event.type === 'worker.heartbeat') this.claims.heartbeat(event.worker, event.held, this.clock().getTime());
    if (event.type === 'task.finished') {
      if (this.unfinished > 0) this.unfinished--;
      const at = performance.now();
      this.finishGapMs = at - this.lastFinishAt;
      this.lastFinishAt = at;
    }
    if (event.type !== 'task.started') {
      this.actionable++;
      if (!this.holding || this.unfinished === 0) this.wake?.();
    }
  }

  /**
   * Whether an iteration for events should first wait for more: only while tasks' ends
   * stream in (the latest came within `eventCoalesceMs` of the one before, and of now),
   * more are due, and the buffer has room for them. A chain's hop has nothing else due,
   * and a long task's end comes alone: neither waits.
   */
  private worthHolding(): boolean {
    const ms = this.options.eventCoalesceMs;
    return ms > 0 && this.unfinished > 0 && this.buffer.length < MAX_EVENTS_PER_ITERATION &&
      this.finishGapMs < ms && performance.now() - this.lastFinishAt < ms;
  }

  /** Waits `eventCoalesceMs`, or less if every due event arrives first (or on stop and nudge). */
  private async holdForEvents(): Promise<void> {
    this.holding = true;
    this.held++;
    try {
      await this.sleep(this.options.eventCoalesceMs);
    } finally {
      this.holding = false;
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let races = 0;
    while (this.running) {
      let now = this.clock();
      const tick = this.nudged || now.getTime() - this.lastTick >= this.options.tickMs;
      this.nudged = false;
      // A batch of only `task.started` events changes nothing that could dispatch work: it
      // waits (unacked) for the next event that can, or for the tick, and is applied then.
      if (!tick && this.actionable === 0 && !this.moreToDispatch && !this.claimArrived) {
        await this.sleep(this.options.tickMs - (now.getTime() - this.lastTick));
        continue;
      }
      if (!tick && !this.moreToDispatch && this.worthHolding()) {
        await this.holdForEvents();
        if (!this.running) break;
        now = this.clock();
      }
      if (tick) this.lastTick = now.getTime();
      this.claimArrived = false;
      this.claims.stamp(now);
      const batch = this.buffer.splice(0, MAX_EVENTS_PER_ITERATION);
      this.actionable = this.buffer.filter((b) => b.event.type !== 'task.started').length;
      const published = this.published;
      this.published = [];
      let result: IterationResult;
      this.iterating = true;
      const startedAt = performance.now();
      try {
        // Silence counts only while this scheduler could hear: connected to the broker and
        // storing heartbeats in the database for a whole heartbeat timeout. Not while its
        // iterations fail (the heartbeats it takes in are not stored), nor in the first one
        // that succeeds again: it may hold no heartbeat, while many wait in the broker.
        const expireWorkers = this.brokerUp && failures === 0 && now.getTime() - this.listeningSince >= this.options.heartbeatTimeoutMs;
        const gone = tick && this.brokerUp ? this.presence.gone() : [];
        result = await this.scheduling.iterate(batch.map((b) => b.event), now, tick, published, expireWorkers, this.moreToDispatch, gone);
      } catch (err) {
        this.iterating = false;
        // Rolled back: nothing was applied, so the same events can simply be applied again.
        this.published.push(...published);
        this.buffer.unshift(...batch);
        this.actionable = this.buffer.filter((b) => b.event.type !== 'task.started').length;
        if (err instanceof ConcurrentUpdateError && ++races <= 3) {
          // Someone changed a row this iteration read (a user's clear): decide again on fresh rows.
          this.logger.log(`scheduling iteration retried: ${err.message}`);
          continue;
        }
        failures++;
        if (isUnavailable(err)) {
          // One line per outage (and one when it ends), not one per attempt.
          if (!this.outage) {
            this.outage = { since: Date.now(), failures: 0 };
            this.logger.error(`database unavailable, scheduling paused; retrying every ${OUTAGE_RETRY_MAX_MS / 1000}s at most: ${(err as Error).message}`);
          }
          this.outage.failures++;
        } else {
          this.logger.error(`scheduling iteration failed (${failures} in a row), retrying: ${(err as Error).stack ?? err}`);
        }
        await this.sleep(Math.min(OUTAGE_RETRY_MAX_MS, 125 * 2 ** Math.min(failures, 7)));
        continue;
      }
      this.iterating = false;
      if (this.outage) {
        this.logger.log(`database available again after ${((Date.now() - this.outage.since) / 1000).toFixed(1)}s ` +
          `(${this.outage.failures} iteration(s) failed); scheduling resumed`);
        this.outage = null;
      }
      // After any failed iteration (an outage or not), heartbeats waited in the queue
      // meanwhile: a full timeout of listening before anyone is lost for silence.
      if (failures > 0) this.listeningSince = this.clock().getTime();
      failures = 0;
      races = 0;
      this.iterations++;
      this.metrics.schedulerIteration.observe((performance.now() - startedAt) / 1000);
      this.metrics.eventsApplied.inc(result.eventsApplied);
      this.metrics.tasksQueued.inc(result.dispatched);
      this.moreToDispatch = result.moreToDispatch;
      for (const { msg } of batch) settle(() => msg.ack());
      for (const c of result.cancels) this.cancelDuplicate(c);
      // Not awaited: the next iteration need not wait for RabbitMQ's confirms (a hop of a
      // chain did, ~1 ms). Confirmed ids are deleted by a later iteration.
      this.trackPublish(result.outbox);
      if (this.claims.size > 0) {
        await this.claims.decide().catch((err: unknown) => this.logger.error(`answering claims failed, retrying: ${(err as Error).message}`));
      }
      if (this.brokerUp && !this.sweeping && now.getTime() - this.lastSweep >= SWEEP_EVERY_MS) {
        this.lastSweep = now.getTime();
        // Beside the loop, not in it: iterations do not wait for it.
        this.sweeping = this.sweep().finally(() => (this.sweeping = null));
      }
    }
  }

  /** Publishes what an interrupted scheduler left in the outbox (see OutboxRepository.relay). */
  private async sweep(): Promise<void> {
    try {
      // Alone, every row not its own was left by a scheduler that died; with others alive, a
      // young row may be one of theirs about to be published, so only old ones are swept.
      const others = this.registry ? await this.registry.others() : null;
      const sweepAge = others === 0 ? Math.min(SOLO_SWEEP_AGE_MS, this.options.outboxSweepAgeMs) : this.options.outboxSweepAgeMs;
      // Its own rows are left alone: those being published and those published but not yet deleted.
      // Resent: the scheduler that wrote them may have published them before it died, and
      // a worker may have run them already; a worker claims a resent try before running it.
      const swept = await this.repos.outbox.relay((m) => this.send(m, true), sweepAge, 1000, [...this.inFlight, ...this.published]);
      if (swept.published > 0) this.logger.warn(`published ${swept.published} outbox message(s) left by an interrupted scheduler`);
      if (swept.dropped > 0) {
        this.logger.log(`dropped ${swept.dropped} outbox task message(s) left by an interrupted scheduler: their tries had started or ended, so they had been delivered`);
      }
    } catch (err) {
      if (!this.outage) this.logger.error(`the outbox sweep failed; it runs again in ${SWEEP_EVERY_MS} ms: ${(err as Error).message}`);
    }
  }

  /** Tells a worker to stop a second copy of a try (see TryCancel); lost, the copy just runs to its end. */
  private cancelDuplicate(c: TryCancel): void {
    this.logger.warn(`worker ${c.worker} started task instance ${c.tiId} try ${c.tryNumber}, which runs elsewhere or has ended: cancelling that copy`);
    const command: ControlMessage = { type: 'task.cancel', tiId: c.tiId, tryNumber: c.tryNumber };
    this.control.send(`worker.${c.worker}`, command).catch((err: unknown) =>
      this.logger.error(`could not cancel the copy of task instance ${c.tiId} try ${c.tryNumber} on ${c.worker}: ${(err as Error).message}`));
  }

  private trackPublish(outbox: { id: number; message: OutboxMessage }[]): void {
    if (outbox.length === 0) return;
    for (const { message } of outbox) if (message.exchange === EXCHANGES.tasks) this.unfinished++;
    for (const { id } of outbox) this.inFlight.add(id);
    const done = this.publish(outbox).catch((err: unknown) => {
      // Committed but not (all) published: the rows stay in the outbox and the sweep sends them.
      this.logger.error(`publishing task messages failed; the outbox sweep will retry them: ${(err as Error).message}`);
    }).finally(() => {
      this.publishing.delete(done);
      for (const { id } of outbox) this.inFlight.delete(id);
    });
    this.publishing.add(done);
  }

  /**
   * Publishes what an iteration committed; the next iteration deletes the rows. A crash
   * in between leaves them for the sweep (at-least-once).
   */
  private async publish(outbox: { id: number; message: OutboxMessage }[]): Promise<void> {
    if (outbox.length === 0) return;
    await Promise.all(outbox.map(({ message }) => this.send(message)));
    this.published.push(...outbox.map((o) => o.id));
  }

  private async send(m: OutboxMessage, resent = false): Promise<void> {
    const exchange = m.exchange as ExchangeName;
    if (exchange === 'swarmflow.tasks' && !this.assertedQueues.has(m.routingKey)) {
      // Declared before the first publish so a message for a queue no worker serves yet is kept, not dropped.
      await this.broker.assertQueue(taskQueue(m.routingKey));
      this.assertedQueues.add(m.routingKey);
    }
    await this.broker.publish(exchange, m.routingKey, m.payload, resent && exchange === EXCHANGES.tasks ? { resent: true } : undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}

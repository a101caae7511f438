import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  compareSeq, eventKey, type DagEvent, type EventsQuery, type FilterableEventType, type LiveEvent, type RunEvent, type TiEvent, type WorkerEvent,
} from '@swarmflow/contracts';
import { InvalidChangeCursorError, type ChangeBatch, type Repositories } from '@swarmflow/persistence';
import { LIVE_EVENTS_OPTIONS, REPOSITORIES } from '../tokens';

/** How the live feed polls and keeps its connections. */
export interface LiveEventsOptions {
  /** Between two reads of the change feed while someone listens (default 250 ms). */
  pollMs: number;
  /** Between two keep-alive comments on an idle stream (default 15 s). */
  keepAliveMs: number;
  /** Changed rows per table a read or a catch-up takes; more sends `resync` (default 2000). */
  maxBatch: number;
}

export const DEFAULT_LIVE_EVENTS_OPTIONS: LiveEventsOptions = { pollMs: 250, keepAliveMs: 15_000, maxBatch: 2000 };

/** One listener's filter (the stream's query). */
export interface EventFilter {
  dagId?: string;
  runId?: string;
  types: ReadonlySet<FilterableEventType>;
}

export function toEventFilter(q: EventsQuery): EventFilter {
  const types = (q.types ?? 'ti,run,worker,dag').split(',') as FilterableEventType[];
  return { dagId: q.dag, runId: q.run, types: new Set(types) };
}

export function matches(filter: EventFilter, e: LiveEvent): boolean {
  if (e.type === 'hello' || e.type === 'resync') return true;
  if (!filter.types.has(e.type)) return false;
  if (e.type === 'worker') return true;
  // A DAG's own changes go to its streams (a run's too); the import errors' only to unnarrowed ones.
  if (e.type === 'dag') return !filter.dagId || e.dagId === filter.dagId;
  return (!filter.dagId || e.dagId === filter.dagId) && (!filter.runId || e.runId === filter.runId);
}

/** Receives the events of one connection; `id` is the resume point to send with it. */
export type EventSink = (event: LiveEvent, id: string) => void;

interface Listener {
  filter: EventFilter;
  sink: EventSink;
  /** Events held while the listener's catch-up runs. */
  held: { event: LiveEvent; id: string }[] | null;
  /** Ends the connection (at shutdown). */
  end: () => void;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The feed's events of one batch of changes, oldest first by transaction. */
export function eventsOf(batch: ChangeBatch): (TiEvent | RunEvent | WorkerEvent | DagEvent)[] {
  const events: (TiEvent | RunEvent | WorkerEvent | DagEvent)[] = [
    ...batch.runs.map((r): RunEvent => ({
      type: 'run', seq: r.xid, dagId: r.dagId, runId: r.runId, state: r.state, runType: r.runType,
      logicalDate: r.logicalDate.toISOString(), startedAt: iso(r.startedAt), endedAt: iso(r.endedAt),
    })),
    ...batch.tis.map((t): TiEvent => ({
      type: 'ti', seq: t.xid, dagId: t.dagId, runId: t.runId, taskId: t.taskId, state: t.state, tryNumber: t.tryNumber,
      maxTries: t.maxTries, queue: t.queue, worker: t.worker, exitCode: t.exitCode, startedAt: iso(t.startedAt), endedAt: iso(t.endedAt),
    })),
    ...batch.workers.map((w): WorkerEvent => ({
      type: 'worker', seq: w.xid, name: w.name, hostname: w.hostname, state: w.state, queues: w.queues, slots: w.concurrency,
      running: w.running, gpus: w.gpus, processed: w.processed, failed: w.failed, lastHeartbeatAt: w.lastHeartbeatAt.toISOString(),
    })),
    ...batch.dags.map((d): DagEvent => ({
      type: 'dag', seq: d.xid, dagId: d.dagId, isPaused: d.isPaused, isActive: d.isActive, latestVersion: d.latestVersion,
    })),
    ...(batch.importErrors === null ? [] : [{ type: 'dag', seq: batch.importErrors, dagId: null, isPaused: null, isActive: null, latestVersion: null } satisfies DagEvent]),
  ];
  return events.sort((a, b) => compareSeq(a.seq, b.seq));
}

/**
 * The live feed of one webserver process: one poller over the database's change feed
 * (whoever wrote the change: a scheduler in another process, this server, the CLI), fanned
 * out to every connected stream. It polls only while someone listens.
 *
 * A poll reads the rows changed by transactions at or after its cursor and moves the cursor
 * to the oldest transaction still running. Rows of a transaction above the new cursor are
 * read again next time; the last transaction sent per row keeps them from being sent twice.
 * Every event of one poll carries that poll's starting cursor as its SSE id: a client that
 * reconnects with it as `Last-Event-ID` is sent what changed since (current states).
 */
@Injectable()
export class LiveEventsService implements OnModuleDestroy {
  private readonly logger = new Logger('LiveEvents');
  private readonly listeners = new Set<Listener>();
  private cursor: string | null = null;
  /** Row key → the transaction last sent for it, for rows the next poll reads again. */
  private readonly sent = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private closed = false;

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(LIVE_EVENTS_OPTIONS) readonly options: LiveEventsOptions,
  ) {}

  /** Connected streams. */
  get size(): number {
    return this.listeners.size;
  }

  /**
   * Adds a listener. With `lastEventId` (a reconnecting client), first sends what changed
   * since, or `resync` when that cannot be told; then `hello`; then live events.
   * @returns a function that removes the listener.
   */
  async subscribe(filter: EventFilter, sink: EventSink, lastEventId: string | null, end: () => void = () => undefined): Promise<() => void> {
    const listener: Listener = { filter, sink, held: [], end };
    this.listeners.add(listener);
    const remove = () => {
      this.listeners.delete(listener);
    };
    try {
      const cursor = await this.ensurePolling();
      let resumed = false;
      if (lastEventId !== null) resumed = await this.catchUp(listener, lastEventId, cursor);
      sink({ type: 'hello', seq: cursor, resumed }, cursor);
      for (const h of listener.held ?? []) if (matches(filter, h.event)) sink(h.event, h.id);
      listener.held = null;
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  private async catchUp(listener: Listener, lastEventId: string, cursor: string): Promise<boolean> {
    let batch: ChangeBatch;
    try {
      batch = await this.repos.changes.read(lastEventId, this.options.maxBatch);
    } catch (err) {
      if (!(err instanceof InvalidChangeCursorError)) throw err;
      listener.sink({ type: 'resync', seq: cursor, reason: 'unknown_last_event_id' }, cursor);
      return false;
    }
    if (batch.truncated) {
      listener.sink({ type: 'resync', seq: cursor, reason: 'too_many_changes' }, cursor);
      return false;
    }
    for (const e of eventsOf(batch)) if (matches(listener.filter, e)) listener.sink(e, lastEventId);
    return true;
  }

  /** Starts the poller if it is not running; resolves to the current cursor. */
  private async ensurePolling(): Promise<string> {
    if (this.cursor === null) {
      this.cursor = await this.repos.changes.start();
      this.sent.clear();
    }
    if (!this.timer && !this.polling && !this.closed) this.schedule();
    return this.cursor;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        if (this.closed) return;
        if (this.listeners.size > 0) this.schedule();
        else this.cursor = null; // nobody listens: start afresh on the next subscriber
      });
    }, this.options.pollMs);
    this.timer.unref();
  }

  /** One read of the change feed, sent to every listener. */
  async poll(): Promise<void> {
    const from = this.cursor;
    if (from === null) return;
    let batch: ChangeBatch;
    try {
      batch = await this.repos.changes.read(from, this.options.maxBatch);
    } catch (err) {
      this.logger.warn(`reading the change feed failed (retrying): ${(err as Error).message}`);
      return;
    }
    this.cursor = batch.horizon;
    if (batch.truncated) {
      this.sent.clear();
      this.broadcast({ type: 'resync', seq: batch.horizon, reason: 'too_many_changes' }, batch.horizon);
      return;
    }
    for (const e of eventsOf(batch)) {
      const key = eventKey(e);
      if (this.sent.get(key) === e.seq) continue;
      this.sent.set(key, e.seq);
      this.broadcast(e, from);
    }
    for (const [key, seq] of this.sent) if (compareSeq(seq, batch.horizon) < 0) this.sent.delete(key);
  }

  private broadcast(event: LiveEvent, id: string): void {
    for (const l of this.listeners) {
      if (l.held) l.held.push({ event, id });
      else if (matches(l.filter, event)) l.sink(event, id);
    }
  }

  onModuleDestroy(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Open streams would keep the HTTP server from closing.
    for (const l of this.listeners) l.end();
    this.listeners.clear();
  }
}

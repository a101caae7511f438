import {
  afterFailure, awaitsAdoption, cacheEntryFresh, cacheHitNeedsWorker, notAdoptedReason, pendingHandOver, dueLogicalDates, parseArtifactsUrl, pausedReason, planRun, resolveParams,
  retryDelayMs, runOutcome, TI_ENDED, transition, type ArtifactsLocation, type PendingHandOver, type SerializedDag, type TaskFinishedEvent, type TaskMessage,
  type TaskSpec, type TaskStates, type TiState, type WorkerEvent,
} from '@swarmflow/core';
import { EXCHANGES } from '@swarmflow/messaging';
import {
  DuplicateLogicalDateError, DuplicateRunError, SCHEDULING_LOCK, TransitionsNotAppliedError, tryFacts, type DispatchView, type LockedRun, type LogBatchRow,
  type OutboxMessage, type Queryable, type Repositories, type TaskContainerRow, type TaskInstance, type TaskResult, type TaskResultRow, type TiTransition, type WorkerRecord,
} from '@swarmflow/persistence';
import { TaskSigner, type ClusterKey } from '@swarmflow/secrets';
import { ConcurrentUpdateError, PendingWrites } from './pending-writes';
import {
  ARTIFACTS_S3_VARIABLES, buildTaskMessage, checkGpuCapacity, DispatchError, NO_RESULTS, renderDefinition, signTaskMessage, taskCacheKey, variableKeysOf,
} from './task-message.builder';
import { RunCache, type RunFacts } from './run-cache';
import { needsRunResults, RunResults } from './run-results';
import { KnownWork } from './known-work';
import { byTask, RunStateCache, type RunStates } from './run-state-cache';
import type { GoneWorker } from './worker-presence';
import { endHoldCutoff } from '../handlers/log-completion.gate';

export interface SchedulingOptions {
  /** How often time-driven work runs: cron, retry delays, heartbeat expiry. */
  tickMs: number;
  /** A worker silent for this long is lost; its running tasks fail (and retry if they can). */
  heartbeatTimeoutMs: number;
  /** Scheduled task instances considered per dispatch. */
  dispatchBatch: number;
  /**
   * Task instances queued per iteration at most. The rest wait for the next iteration,
   * which follows at once: the first messages of a wide run go out (and its tasks start)
   * while the scheduler still queues the others, instead of after all of them are written.
   */
  dispatchSlice: number;
  /**
   * Outbox rows older than this are published by the recovery sweep (what a crash between
   * commit and publish left); younger ones belong to a scheduler about to publish them.
   */
  outboxSweepAgeMs: number;
  /**
   * While events stream in and more are due (tasks this scheduler queued have not all
   * reported their end), an iteration waits up to this long for them: one iteration then
   * applies many events instead of one each, which halves the database round trips and the
   * scheduler's CPU per task under load. A lone event (a chain's hop, a long task ending)
   * never waits. 0 turns it off.
   */
  eventCoalesceMs: number;
  /**
   * A worker whose broker connection closed (its exclusive control queue vanished) and
   * stayed closed this long is lost, long before its heartbeat timeout (see WorkerPresence).
   * 0 turns it off. Default 2 s.
   */
  workerGoneMs?: number;
  /** `SWARMFLOW_ARTIFACTS_URL`: each try gets a prefix under it; null/absent = no artefacts store. */
  artifactsUrl?: string | null;
}

export const DEFAULT_SCHEDULING_OPTIONS: SchedulingOptions = {
  tickMs: 1000,
  heartbeatTimeoutMs: 30_000,
  dispatchBatch: 2048,
  dispatchSlice: 256,
  outboxSweepAgeMs: 10_000,
  eventCoalesceMs: 5,
};

const NOTHING_QUEUED = { queued: 0, more: false } as const;

/** A try started less than this before a heartbeat that does not list it may simply be newer than the heartbeat. */
const HEARTBEAT_GRACE_MS = 2000;


/** What an iteration found to do as it went. */
interface Work {
  /** Runs to evaluate. */
  touched: Set<number>;
  /** Something may be dispatchable: a slot freed, a task became scheduled, or a tick. */
  dispatch: boolean;
  /** The task-instance changes decided so far, written at the end in one statement. */
  writes: PendingWrites;
  /** Log lines that came with `task.finished` events, stored with the same statement. */
  logs: LogBatchRow[];
  /** Tries a worker runs that it should not (see {@link TryCancel}); told to stop after the commit. */
  cancels: TryCancel[];
  /** Tries' results (outputs, image digests, cache keys, cached tasks' sources), stored with the same statement. */
  results: TaskResultRow[];
  /** The stored results of the runs that need them (cacheable tasks, outputs, containers), read on demand. */
  runResults: RunResults;
  /** Containers that started (`task.container_started`), stored just before the write (after the runs' locks). */
  containers: TaskContainerRow[];
}

/**
 * A try a worker reported starting although the database has it running on another
 * worker, ended, or superseded by a later try: a second copy of its task message reached
 * a worker (a redelivery to a worker whose connection had died, a duplicate publish).
 * The first copy to start keeps the try; this one is cancelled.
 */
export interface TryCancel {
  worker: string;
  tiId: number;
  tryNumber: number;
}

/** A locked run with its task states (read or cached), as run evaluation takes it. */
interface EvaluatedRun {
  run: LockedRun['run'];
  needsEval: boolean;
  /** The run's `ti_seq` these states are at. */
  tiSeq: number;
  states: RunStates;
  /** The states come from the cache: the run was left at its fixed point by this scheduler's last evaluation of it. */
  fromCache: boolean;
  /** Evaluation ended the run. */
  ended: boolean;
}

/** What a committed iteration tells what the scheduler remembers. */
interface Committed {
  transitions: TiTransition[];
  bumped: RunBump[];
  ended: number[];
  /** The dispatch view read in the iteration (before its decisions), if one was. */
  viewRead: DispatchView | null;
  /** scheduler_epoch before and after the write; null when nothing was written. */
  epoch: { was: number; now: number } | null;
}

/** A run whose `ti_seq` the write raises: from `seq` (null: whatever it is), asking for its evaluation too. */
interface RunBump {
  id: number;
  seq: number | null;
  needsEval: boolean;
}

/** An iteration deciding from memory met something it would have to read: it reads everything instead. */
class NeedsDatabase extends Error {
  constructor() {
    super('this iteration needs to read the database');
    this.name = 'NeedsDatabase';
  }
}

/** Iterations that read everything after one that found its memory stale (another scheduler is active, probably). */
const FROM_MEMORY_PAUSE = 50;

function copyView(view: DispatchView): DispatchView {
  return { candidates: [...view.candidates], poolSlots: new Map(view.poolSlots), perDag: new Map(view.perDag), paused: new Set(view.paused) };
}

export interface IterationResult {
  /** Messages committed to the outbox in this iteration; the caller publishes them. */
  outbox: { id: number; message: OutboxMessage }[];
  eventsApplied: number;
  dispatched: number;
  /** Dispatch stopped at `dispatchSlice`: more may be ready, and the next iteration should come now. */
  moreToDispatch: boolean;
  /** Duplicate tries to cancel (`task.cancel` to their worker); the caller publishes them. */
  cancels: TryCancel[];
}

/**
 * One scheduling iteration in one transaction: apply worker events, do time-driven work
 * when a tick is due, evaluate the runs that changed, dispatch ready task instances.
 * The scheduler decides; workers only report. Every state change is a compare-and-set
 * through the core's state machine.
 */
export class SchedulingService {
  private readonly runs: RunCache;
  /** Task states of running runs, so a wide run is not read again for every finished task. */
  private readonly runStates = new RunStateCache();
  /** Queued/running rows and dispatch counts as of this scheduler's last write; null when unknown. */
  private known: KnownWork | null = null;
  /** Iterations still to read everything after one from memory found its memory stale. */
  private fromMemoryPausedFor = 0;
  /** Iterations decided from memory (one round trip) and from the database; from-memory writes refused as stale. */
  readonly stats = { fromMemory: 0, fromDatabase: 0, memoryStale: 0 };
  /**
   * Set while a standalone server stops: events are still applied, but nothing is queued.
   * Its worker is draining and its in-memory broker is about to close: a task message
   * published now would be lost with it, leaving its try `queued` with no message.
   */
  dispatchHeld = false;
  /** Pool sizes, re-read every tick (a changed pool applies within one tick). */
  private pools: Map<string, number> | null = null;
  /** Active workers (queues, GPUs), re-read every tick, for the GPU capacity check. */
  private liveWorkers: WorkerRecord[] | null = null;
  /** Told of every committed iteration's transitions (metrics); must not throw or block. */
  onCommitted: ((transitions: readonly TiTransition[]) => void) | null = null;
  /**
   * True when this scheduler holds the try's reported end until its log is stored
   * (LogCompletionGate): a lost worker's try that ended is not failed or retried for it.
   */
  heldEnd: ((tiId: number, tryNumber: number) => boolean) | null = null;

  constructor(
    private readonly repos: Repositories,
    private readonly options: SchedulingOptions = DEFAULT_SCHEDULING_OPTIONS,
    private readonly log: (msg: string) => void = () => {},
    /** Signs task messages and seals the variables they mount; null = no task can be dispatched (each try fails saying so). */
    private readonly clusterKey: ClusterKey | null = null,
  ) {
    this.runs = new RunCache(repos);
    this.signer = clusterKey && new TaskSigner(clusterKey);
    this.artifacts = options.artifactsUrl ? parseArtifactsUrl(options.artifactsUrl) : null;
  }

  /** Where tries keep their artefacts; null = nowhere. */
  private readonly artifacts: ArtifactsLocation | null;

  private readonly signer: TaskSigner | null;

  /**
   * @param published outbox ids the caller has since published: deleted in this transaction
   *   (saves a statement per publish; the sweep ignores rows younger than 10 s anyway).
   * @param expireWorkers false until the caller has heard events for a whole heartbeat
   *   timeout: after a scheduler restart or a broker outage every heartbeat looks old.
   * @param dispatchDue dispatch even if nothing freed a slot or scheduled a task (the last
   *   iteration stopped at its slice)
   * @param goneWorkers workers whose broker connection closed (see WorkerPresence): lost at
   *   the next tick, without waiting for the heartbeat timeout
   */
  async iterate(
    events: WorkerEvent[], now: Date, tick: boolean, published: number[] = [], expireWorkers = true, dispatchDue = false,
    goneWorkers: GoneWorker[] = [],
  ): Promise<IterationResult> {
    if (!tick && this.canDecideFromMemory(events, dispatchDue)) {
      try {
        const result = await this.iterateFromMemory(events, now, published, dispatchDue);
        if (result) return result;
      } catch (err) {
        // NeedsDatabase: given up before sending anything, and nothing remembered was changed.
        if (!(err instanceof NeedsDatabase)) {
          this.forgetAll();
          if (!(err instanceof ConcurrentUpdateError)) throw err;
          // Another scheduler or a user changed something this scheduler had in memory: read it all again.
          this.fromMemoryPausedFor = FROM_MEMORY_PAUSE;
          this.stats.memoryStale++;
        }
      }
    }
    return this.iterateFromDatabase(events, now, tick, published, expireWorkers, dispatchDue, goneWorkers);
  }

  /**
   * Whether an iteration may decide on what this scheduler remembers, without reading:
   * only task events of instances it wrote last, with its view of dispatch still whole.
   */
  private canDecideFromMemory(events: WorkerEvent[], dispatchDue: boolean): boolean {
    if (this.fromMemoryPausedFor > 0) {
      this.fromMemoryPausedFor--;
      return false;
    }
    const known = this.known;
    // Pools and workers (re-read every tick) are needed only if something is dispatched: dispatch asks for them then.
    // A container's start is written by a statement of its own (TaskContainerRepository.record): the database path.
    return known !== null && known.complete && (events.length > 0 || dispatchDue) &&
      events.every((e) => e.type !== 'worker.heartbeat' && e.type !== 'task.container_started' && known.row(e.tiId) !== undefined);
  }

  /**
   * An iteration in one round trip: decides on the rows, run states and dispatch counts
   * this scheduler remembers, then sends BEGIN, the scheduling lock, the runs' locks, the
   * write and COMMIT together. The write checks every assumption (each row's state and
   * try, each run's `ti_seq`, the scheduler epoch) and fails whole if one does not hold;
   * the caller then reads everything again ({@link iterateFromDatabase}). Anything that
   * would need a read (a run not cached, a variable, a run that ends) gives up the same
   * way ({@link NeedsDatabase}), before anything is sent. Null when nothing is to be written.
   */
  private async iterateFromMemory(events: WorkerEvent[], now: Date, published: number[], dispatchDue: boolean): Promise<IterationResult | null> {
    const known = this.known!;
    const noReads: Queryable = {
      query: () => Promise.reject(new NeedsDatabase()),
      queryMany: () => Promise.reject(new NeedsDatabase()),
    };
    const work: Work = { touched: new Set(), dispatch: dispatchDue, writes: new PendingWrites(), logs: [], cancels: [], results: [], runResults: new RunResults(this.repos), containers: [] };
    const tis = [...new Set(events.map((e) => (e as { tiId: number }).tiId))].map((id) => known.row(id)!);
    const eventsApplied = await this.applyEvents(events, tis, now, noReads, work);
    const evaluated: EvaluatedRun[] = [];
    for (const pk of work.touched) {
      const seq = this.runStates.seqs([pk]).get(pk);
      const states = seq === undefined ? undefined : this.runStates.get(pk, seq);
      const facts = (await this.runs.get([pk], noReads)).get(pk);
      if (seq === undefined || !states || !facts || facts.run.state !== 'running') throw new NeedsDatabase();
      evaluated.push({ run: facts.run, needsEval: false, tiSeq: seq, states, fromCache: true, ended: false });
    }
    if (await this.evaluateRuns(evaluated, now, noReads, work)) work.dispatch = true;
    const { queued: dispatched, more: moreToDispatch } = work.dispatch ? await this.dispatch(now, noReads, work, known.view()) : NOTHING_QUEUED;
    if (work.writes.size === 0) return null;
    const bumped = this.runsToBump(evaluated, work.writes);
    // The runs it evaluated, locked first as the database path does (a clear locks the run, then its task instances).
    const evaluatedPks = bumped.filter((b) => b.seq !== null).map((b) => b.id).sort((a, b) => a - b);
    const runLocks = evaluatedPks.length > 0 ? [`SELECT id FROM dag_run WHERE id IN (${evaluatedPks.join(',')}) ORDER BY id FOR UPDATE`] : [];
    const oneTrip: Queryable = {
      ...noReads,
      queryAndCommit: (sql, params, name) => this.repos.db.transactOnce([...this.lockAndDelete(published), ...runLocks], sql, params, name),
    };
    const written = await this.write(work.writes, now, oneTrip, { bumped, logs: work.logs, results: work.results, epoch: known.epoch });
    this.afterCommit({ transitions: work.writes.transitions(), bumped, ended: [], viewRead: null, epoch: written.epoch });
    this.stats.fromMemory++;
    return { outbox: written.outbox, eventsApplied, dispatched, moreToDispatch, cancels: work.cancels };
  }

  /** The scheduling lock (one iteration at a time across HA schedulers) and the deletion of published outbox rows. */
  private lockAndDelete(published: number[]): string[] {
    const statements = [`SELECT pg_advisory_xact_lock(${SCHEDULING_LOCK})`];
    if (published.length > 0) statements.push(`DELETE FROM outbox WHERE id IN (${published.map((id) => Math.trunc(id)).join(',')})`);
    return statements;
  }

  /**
   * Evaluated runs this iteration changes: their counter is raised from the value it was
   * read or cached at. Runs a try failed at dispatch in are marked for evaluation, and
   * their counter raised whatever it is (they need not be locked: dispatch does not read them).
   */
  private runsToBump(evaluated: EvaluatedRun[], writes: PendingWrites): RunBump[] {
    const changed = new Set(writes.transitions().map((t) => t.after.runPk));
    const bumps = evaluated.filter((l) => changed.has(l.run.pk))
      .map((l): RunBump => ({ id: l.run.pk, seq: l.tiSeq, needsEval: writes.reEvaluate.has(l.run.pk) }));
    for (const pk of writes.reEvaluate) if (!bumps.some((b) => b.id === pk)) bumps.push({ id: pk, seq: null, needsEval: true });
    return bumps;
  }

  /** Reads what it needs in the transaction, decides, writes and commits. */
  private async iterateFromDatabase(
    events: WorkerEvent[], now: Date, tick: boolean, published: number[], expireWorkers: boolean, dispatchDue: boolean,
    goneWorkers: GoneWorker[] = [],
  ): Promise<IterationResult> {
    // One scheduling iteration at a time across HA schedulers (the lock, taken with BEGIN):
    // dispatch counts pool slots and concurrency, which needs a single writer; it also keeps
    // two schedulers from evaluating one run at once. Published outbox rows go in the same trip.
    // The events' task instances are read in the same trip. Outside ticks, when the events
    // name their runs (workers echo runPk), so are the runs to evaluate (locked, then their
    // task states) and the dispatch view: the whole iteration then reads in one trip.
    const prelude = this.lockAndDelete(published);
    const tiEvents = events.filter((e): e is Exclude<WorkerEvent, { type: 'worker.heartbeat' }> => e.type !== 'worker.heartbeat');
    const eventTis = [...new Set(tiEvents.map((e) => e.tiId))];
    const tisAt = eventTis.length > 0 ? prelude.push(this.repos.tis.byIdsSql(eventTis)) - 1 : -1;
    const ending = tiEvents.filter((e) => e.type === 'task.finished');
    const readAhead = !tick && ending.length > 0 && ending.every((e) => e.runPk !== undefined)
      ? [...new Set(ending.map((e) => e.runPk!))] : null;
    const aheadSeqs = this.runStates.seqs(readAhead ?? []);
    const lockAt = readAhead ? prelude.push(this.repos.runs.lockWithTaskStatesSql(readAhead, aheadSeqs)) - 1 : -1; // two statements
    if (readAhead) prelude.push(this.repos.tis.dispatchViewSql(this.options.dispatchBatch));
    let committed: Committed | null = null;
    const result = await this.repos.db.transaction(async (tx, results) => {
      const work: Work = {
        touched: new Set(), dispatch: tick || dispatchDue, writes: new PendingWrites(), logs: [], cancels: [], results: [], runResults: new RunResults(this.repos),
        containers: [],
      };
      if (tick) {
        this.pools = null;
        this.liveWorkers = null;
      }
      const eventsApplied = await this.applyEvents(events, tisAt >= 0 ? this.repos.tis.fromRows(results[tisAt]) : [], now, tx, work);
      if (tick) {
        await this.createScheduledRuns(now, tx);
        if (expireWorkers || goneWorkers.length > 0) await this.expireLostWorkers(now, tx, work, expireWorkers, goneWorkers);
        await this.promoteDueRetries(now, tx, work);
        await this.startQueuedRuns(now, tx, work.touched);
        for (const pk of await this.repos.runs.needingEvaluation(500, tx)) work.touched.add(pk);
      }
      // The runs to evaluate (locked) and the dispatch view come in one round trip, unless
      // read ahead with BEGIN (and then every run the events touched was among them).
      let locked: LockedRun[] = [];
      let view: DispatchView | null = null;
      if (lockAt >= 0 && [...work.touched].every((pk) => readAhead!.includes(pk))) {
        locked = this.repos.runs.lockedRuns(results[lockAt], results[lockAt + 1], aheadSeqs).filter((l) => work.touched.has(l.run.pk));
        view = this.repos.tis.parseDispatchView(results[lockAt + 2]);
      } else if (work.touched.size > 0) {
        const seqs = this.runStates.seqs(work.touched);
        const [runRows, tiRows, viewRows] = await tx.queryMany(
          `${this.repos.runs.lockWithTaskStatesSql([...work.touched], seqs)}; ${this.repos.tis.dispatchViewSql(this.options.dispatchBatch)}`,
        );
        locked = this.repos.runs.lockedRuns(runRows, tiRows, seqs);
        view = this.repos.tis.parseDispatchView(viewRows);
      }
      const evaluated = this.withTaskStates(locked);
      if (await this.evaluateRuns(evaluated, now, tx, work)) work.dispatch = true;
      if (work.dispatch && !view) view = await this.repos.tis.dispatchView(this.options.dispatchBatch, tx);
      // What was read, before dispatch counts its decisions into the view.
      const viewRead = view && copyView(view);
      const { queued: dispatched, more: moreToDispatch } = work.dispatch ? await this.dispatch(now, tx, work, view!) : NOTHING_QUEUED;
      // Every evaluated run this iteration changes gets its counter raised: other schedulers' caches of it go stale.
      const bumped = this.runsToBump(evaluated, work.writes);
      // Its task instances' rows are locked (their change_xid): after the runs', as every writer does.
      await this.repos.containers.record(work.containers, tx);
      const written = await this.write(work.writes, now, tx, { bumped, logs: work.logs, results: work.results, epoch: null });
      committed = {
        transitions: work.writes.transitions(), bumped, ended: evaluated.filter((l) => l.ended).map((l) => l.run.pk),
        viewRead, epoch: written.epoch,
      };
      return { outbox: written.outbox, eventsApplied, dispatched, moreToDispatch, cancels: work.cancels };
    }, prelude.join('; ')).catch((err: unknown) => {
      this.forgetAll();
      throw err;
    });
    if (committed) this.afterCommit(committed);
    this.stats.fromDatabase++;
    return result;
  }

  /** The locked runs with their task states: read with the lock, or from the cache when its counter matched. */
  private withTaskStates(locked: LockedRun[]): EvaluatedRun[] {
    // Cached states first: putting the runs read afresh may evict the cached ones (a bounded cache).
    const cached = new Map(locked.filter((l) => l.tis === null).map((l) => [l.run.pk, this.runStates.get(l.run.pk, l.tiSeq)]));
    return locked.map((l) => {
      if (l.tis === null) {
        const states = cached.get(l.run.pk);
        // The lock query left them out because the cache had this counter, and nothing else touches the cache.
        if (!states) throw new Error(`task states of run ${l.run.pk} are neither read nor cached at ti_seq ${l.tiSeq}`);
        return { run: l.run, needsEval: l.needsEval, tiSeq: l.tiSeq, states, fromCache: true, ended: false };
      }
      const states = l.run.state === 'running' ? this.runStates.put(l.run.pk, l.tiSeq, l.tis) : { tis: l.tis, byTask: byTask(l.tis), outcomeCursor: { index: 0 } };
      return { run: l.run, needsEval: l.needsEval, tiSeq: l.tiSeq, states, fromCache: false, ended: false };
    });
  }

  /** Brings what this scheduler remembers up to a committed iteration. */
  private afterCommit(c: Committed): void {
    this.onCommitted?.(c.transitions);
    this.runStates.committed(c.transitions, c.bumped.map((b) => b.id));
    for (const pk of c.ended) this.runStates.forget(pk);
    // Flagged for evaluation (a try failed at dispatch): the next iteration touching it must
    // plan it whole, which only the database path does (it reads needs_eval).
    for (const b of c.bumped) if (b.needsEval) this.runStates.forget(b.id);
    if (!c.epoch) return; // nothing written: nothing changed
    const known = this.known;
    const continues = known !== null && known.epoch === c.epoch.was; // nobody else wrote since this scheduler last did
    if (c.viewRead) {
      // A view read under the lock in this iteration, plus this iteration's writes: exact.
      this.known = KnownWork.fromView(c.viewRead, this.options.dispatchBatch, c.epoch.now, continues ? known.knownRows() : new Map());
      this.known.apply(c.transitions);
    } else if (continues) {
      known.apply(c.transitions);
      known.epoch = c.epoch.now;
    } else {
      this.known = null;
    }
  }

  /** After a failed iteration: no assumption about what the database holds. */
  private forgetAll(): void {
    this.runStates.clear();
    this.known = null;
  }

  /**
   * Writes the iteration's decisions in one statement. Every decision assumed the rows it
   * read; if one changed meanwhile (a user's clear, another scheduler), the whole iteration
   * is rolled back and the caller retries it on fresh rows.
   */
  private async write(
    writes: PendingWrites, now: Date, tx: Queryable,
    also: { bumped: RunBump[]; logs: LogBatchRow[]; results: TaskResultRow[]; epoch: number | null },
  ): Promise<{ outbox: IterationResult['outbox']; epoch: { was: number; now: number } | null }> {
    const transitions = writes.transitions();
    // The write commits the iteration in the same round trip; a compare-and-set that did not apply fails it.
    const { applied, outboxIds, epoch } = await this.repos.tis.applyWithMessages(transitions, writes.outbox(), now, tx, {
      bumpRuns: also.bumped, logs: also.logs, results: also.results, epoch: { expect: also.epoch }, commit: true,
    }).catch((err: unknown) => {
      throw err instanceof TransitionsNotAppliedError ? new ConcurrentUpdateError(err.tiIds, err.message) : err;
    });
    if (applied.size !== transitions.length) {
      throw new ConcurrentUpdateError(transitions.filter((t) => !applied.has(t.before.id)).map((t) => t.before.id));
    }
    return { outbox: [...writes.outbox()].map(([tiId, message]) => ({ id: outboxIds.get(tiId)!, message })), epoch };
  }

  // --- worker events ------------------------------------------------------------------

  /** @param tis the rows of the events' task instances, read with BEGIN */
  private async applyEvents(events: WorkerEvent[], tis: TaskInstance[], now: Date, tx: Queryable, work: Work): Promise<number> {
    const beats = new Map<string, WorkerEvent & { type: 'worker.heartbeat' }>();
    const byTi = new Map<number, WorkerEvent[]>();
    // Cache hits workers confirmed (TaskMessage.cacheCheck): the tries whose outputs they take are read below.
    let confirmed: TaskFinishedEvent[] | null = null;
    for (const e of events) {
      if (e.type === 'worker.heartbeat') beats.set(e.worker, e);
      else {
        if (e.type === 'task.finished' && e.cachedFrom !== undefined) (confirmed ??= []).push(e);
        const list = byTi.get(e.tiId);
        if (list) list.push(e);
        else byTi.set(e.tiId, [e]);
      }
    }
    await this.repos.workers.recordHeartbeats([...beats.values()].map((b) => ({
      name: b.worker, hostname: b.hostname, queues: b.queues, concurrency: b.concurrency, gpus: b.gpus ?? 0, state: b.state,
      running: b.running, processed: b.processed, failed: b.failed, version: b.version, unacked: b.unacked,
      startedAt: b.uptimeMs === undefined ? null : new Date(now.getTime() - b.uptimeMs),
      handOver: pendingHandOver(b, now),
    })), now, tx);

    const facts = await this.runs.get(tis.map((t) => t.runPk), tx);
    const sources: CacheSources = confirmed === null ? NO_SOURCES : await this.repos.results.cacheEntries(confirmed.map((e) => e.cachedFrom!), tx);
    let applied = 0;
    // Containers that started: stored as they come (a fact about the try, whatever its state now), for the try's page.
    for (const ti of tis) {
      for (const e of byTi.get(ti.id)!) {
        if (e.type !== 'task.container_started') continue;
        work.containers.push({
          tiId: ti.id, tryNumber: e.tryNumber, containerId: e.container.id, worker: e.worker, image: e.image?.ref ?? null,
          imageDigest: e.image?.digest ?? null, gpuDevices: e.container.gpus, runtime: e.container.runtime, startedAt: new Date(e.at),
        });
      }
    }
    for (const ti of tis) {
      // The last log lines of a try come with its end; a redelivered end does not store them twice.
      for (const e of byTi.get(ti.id)!) {
        if (e.type === 'task.finished' && e.logs && !(e.tryNumber === ti.tryNumber && TI_ENDED.has(ti.state))) {
          work.logs.push({ tiId: ti.id, tryNumber: e.tryNumber, seq: e.logs.seq, lines: e.logs.lines });
        }
      }
      const f = facts.get(ti.runPk);
      const t = f ? this.foldEvents(ti, byTi.get(ti.id)!, taskOf(f.dag, ti.taskId), now, work.cancels, sources) : null;
      if (!t) continue;
      work.writes.add(t);
      applied++;
      if (TI_ENDED.has(t.after.state)) this.keepResult(ti, t.after, byTi.get(ti.id)!, now, work, sources);
      // Only an ended try can unblock downstream tasks or end the run, and only it frees a
      // pool slot; a `started` alone needs no evaluation and no dispatch.
      if (t.after.state !== 'running') {
        work.touched.add(ti.runPk);
        work.dispatch = true;
      }
    }
    await this.reconcileHeartbeats(beats, now, tx, work);
    return applied + beats.size;
  }

  /** What the try's `task.finished` brought besides its end (outputs, image digest, cache key, container): stored with the end. */
  private keepResult(ti: TaskInstance, after: TaskInstance, events: WorkerEvent[], now: Date, work: Work, sources: CacheSources): void {
    const e = events.find((x): x is TaskFinishedEvent => x.type === 'task.finished' && x.tryNumber === after.tryNumber);
    if (!e || (e.outputs === undefined && e.image === undefined && e.cacheKey === undefined && e.container === undefined)) return;
    const source = after.state === 'cached' && e.cachedFrom ? sources.get(`${e.cachedFrom.tiId}:${e.cachedFrom.tryNumber}`) : undefined;
    if (source) {
      // A hit a worker confirmed: the try ran nothing and takes its source's outputs, as a scheduler-found hit does.
      const cached: TaskResultRow = {
        tiId: ti.id, tryNumber: after.tryNumber, succeeded: true, outputs: source.outputs, image: e.image?.ref ?? source.image,
        imageDigest: e.image?.digest ?? source.imageDigest, cacheKey: e.cacheKey ?? source.cacheKey, cachedFromTi: source.tiId,
        cachedFromTry: source.tryNumber, containerId: null, gpuDevices: null, runtime: null,
      };
      work.results.push(cached);
      work.runResults.put(ti.runPk, {
        ...cached, taskId: ti.taskId, imagePinned: true, createdAt: now, cachedFromRef: { dagId: source.dagId, runId: source.runId, taskId: source.taskId },
      });
      return;
    }
    const row: TaskResultRow = {
      tiId: ti.id, tryNumber: after.tryNumber, succeeded: after.state === 'success', outputs: e.outputs ?? null,
      image: e.image?.ref ?? null, imageDigest: e.image?.digest ?? null, cacheKey: e.cacheKey ?? null, cachedFromTi: null, cachedFromTry: null,
      containerId: e.container?.id ?? null, gpuDevices: e.container?.gpus ?? null, runtime: e.container?.runtime ?? null,
    };
    work.results.push(row);
    work.runResults.put(ti.runPk, { ...row, taskId: ti.taskId, imagePinned: true, createdAt: now });
  }

  /**
   * A heartbeat lists the tries its worker runs. A try the database has running on that
   * worker, started well before the heartbeat and not listed, is gone: the worker restarted
   * under the same name, stopped, or lost the try's report. It fails, and retries if it can
   * — unless the worker's predecessor of that name handed its container over and the
   * hand-over's window is still open (the successor came up on another node, or has not
   * adopted it: it runs on, unfollowed, until the window ends).
   */
  private async reconcileHeartbeats(beats: Map<string, WorkerEvent & { type: 'worker.heartbeat' }>, now: Date, tx: Queryable, work: Work): Promise<void> {
    if (beats.size === 0) return;
    const onThem = await this.repos.tis.onWorkers([...beats.keys()], tx);
    if (onThem.length === 0) return;
    const unlisted = onThem.filter((ti) => {
      const beat = beats.get(ti.worker!)!;
      if ((work.writes.current(ti.id) ?? ti).state !== 'running') return false; // its end came in this batch
      if (beat.running.some((r) => r.tiId === ti.id && r.tryNumber === ti.tryNumber)) return false;
      // Its end was reported, and is on its way (held by another scheduler, or requeued by one that died).
      if (beat.ended?.some((r) => r.tiId === ti.id && r.tryNumber === ti.tryNumber)) return false;
      // Both times are the worker's clock; the grace covers a heartbeat sent just before the try's start.
      return !!ti.startedAt && ti.startedAt.getTime() <= new Date(beat.at).getTime() - HEARTBEAT_GRACE_MS;
    });
    if (unlisted.length === 0) return;
    // Read only then: most heartbeats list every try their worker has running.
    const handOvers = await this.repos.workers.handOvers([...new Set(unlisted.map((ti) => ti.worker!))], tx);
    const missing = unlisted.filter((ti) => !awaitsAdoption({ tiId: ti.id, tryNumber: ti.tryNumber }, handOvers.get(ti.worker!), now));
    if (missing.length === 0) return;
    // Ended longer ago than the worker remembers, their ends held (here or by another scheduler) until their logs are stored.
    const held = await this.repos.logs.heldEnds(missing.map((t) => ({ tiId: t.id, tryNumber: t.tryNumber })), endHoldCutoff(now), tx);
    const facts = await this.runs.get(missing.map((t) => t.runPk), tx);
    for (const ti of missing) {
      if (this.heldEnd?.(ti.id, ti.tryNumber) || held.has(`${ti.id}:${ti.tryNumber}`)) continue;
      const { to, nextRetryAt } = failurePolicy(ti, taskOf(facts.get(ti.runPk)!.dag, ti.taskId), now);
      const reason = wasHandedOver(ti, handOvers.get(ti.worker!))
        ? notAdoptedReason(ti.worker!, ti.tryNumber)
        : `worker ${ti.worker} no longer runs try ${ti.tryNumber} (it restarted, stopped, or lost the try's report)`;
      const gone = transition(ti, to, undefined, reason);
      if (gone.verdict !== 'apply') continue;
      work.writes.add({ before: ti, after: { ...ti, state: to, reason, endedAt: now, nextRetryAt }, steps: [gone.step] });
      work.touched.add(ti.runPk);
      work.dispatch = true;
    }
  }

  /**
   * Applies one task instance's events in order on a copy; null when nothing changes
   * (duplicate, stale). A second copy of a try is not the try: its start is added to
   * `cancels` (see {@link TryCancel}), and its end, while the try runs elsewhere, is ignored.
   */
  private foldEvents(
    ti: TaskInstance, events: WorkerEvent[], task: TaskSpec | undefined, now: Date, cancels: TryCancel[], sources: CacheSources,
  ): TiTransition | null {
    let cur = ti;
    const steps: TiTransition['steps'] = [];
    for (const e of events) {
      if (e.type === 'worker.heartbeat') continue;
      const elsewhere = cur.state === 'running' && e.tryNumber === cur.tryNumber && cur.worker !== null && cur.worker !== e.worker;
      if (e.type === 'task.started') {
        const superseded = e.tryNumber < cur.tryNumber || (e.tryNumber === cur.tryNumber && TI_ENDED.has(cur.state));
        if (elsewhere || superseded) {
          // The redelivered `task.started` of the one execution (same worker, same try, which
          // itself reported the end) is no second copy: nothing runs to cancel.
          const sameExecution = !elsewhere && e.tryNumber === cur.tryNumber && e.worker === cur.worker && !endedForLostWorker(cur);
          if (!sameExecution) cancels.push({ worker: e.worker, tiId: cur.id, tryNumber: e.tryNumber });
          continue;
        }
        const started = transition(cur, 'running', e.tryNumber, `on ${e.worker}`);
        if (started.verdict !== 'apply') continue;
        cur = { ...cur, state: 'running', worker: e.worker, hostname: e.hostname, pid: e.pid, startedAt: new Date(e.at) };
        steps.push({ ...started.step, ran: tryFacts(cur) });
      } else if (e.type === 'task.finished') {
        if (elsewhere) continue;
        if (cur.state === 'queued' && e.startedAt && e.tryNumber === cur.tryNumber) {
          // A short try reports only its end (the worker skips task.started): record the
          // start it carries, so the history reads queued → running → end as for any try.
          const started = transition(cur, 'running', e.tryNumber, `on ${e.worker}`);
          if (started.verdict === 'apply') {
            cur = { ...cur, state: 'running', worker: e.worker, hostname: e.hostname ?? cur.hostname, startedAt: new Date(e.startedAt) };
            steps.push({ ...started.step, ran: tryFacts(cur) });
          }
        }
        const hit = e.cachedFrom && e.outcome === 'success' ? confirmedHit(e, sources) : null;
        // A confirmed hit whose source stopped being a cache entry meanwhile (invalidated): nothing ran, the try failed.
        const lostHit = e.cachedFrom !== undefined && hit !== null && hit.source === null;
        // retryable=false: a user's cancel, a task no worker can run: the try fails for good.
        const retry = e.outcome !== 'failed' && !lostHit ? null : e.retryable === false ? { to: 'failed' as const, nextRetryAt: null } : failurePolicy(cur, task, now);
        const to: TiState = retry ? retry.to : hit ? 'cached' : e.outcome;
        // The exit code has its own column; the reason is for what it does not say (timeout, cancel, signal).
        const reason = hit ? hit.reason : e.reason ?? (e.exitCode === null && e.signal ? `killed by ${e.signal}` : null);
        const ended = transition(cur, to, e.tryNumber, reason);
        if (ended.verdict !== 'apply') continue;
        cur = {
          ...cur, state: to, exitCode: e.exitCode, reason, endedAt: new Date(e.at),
          worker: cur.worker ?? e.worker, startedAt: cur.startedAt ?? new Date(e.at),
          nextRetryAt: retry?.nextRetryAt ?? null,
        };
        steps.push({ ...ended.step, ran: tryFacts(cur) });
      }
    }
    return steps.length > 0 ? { before: ti, after: cur, steps } : null;
  }

  // --- time-driven work ---------------------------------------------------------------

  private async createScheduledRuns(now: Date, tx: Queryable): Promise<void> {
    for (const dag of await this.repos.dags.scheduled(tx)) {
      const spec = await this.repos.dags.version(dag.dagId, dag.latestVersion, tx);
      const dates = dueLogicalDates({
        schedule: spec.schedule, startDate: spec.startDate ? new Date(spec.startDate) : null, catchup: spec.catchup,
        lastLogicalDate: dag.lastScheduledDate, firstSeen: dag.firstSeenAt, now,
      });
      if (dates.length === 0) continue;
      const params = resolveParams(spec.params, {});
      let created = 0;
      for (const logicalDate of dates) {
        const runId = `scheduled__${logicalDate.toISOString()}`;
        try {
          await this.repos.runs.create({
            dagId: dag.dagId, runId, versionHash: dag.latestVersion, runType: 'scheduled', logicalDate, conf: {}, params,
          }, tx);
          created++;
        } catch (err) {
          // The date already has its run (a manual trigger got there first, as Airflow's
          // scheduler also finds): that run is the date's; the schedule moves past it.
          if (err instanceof DuplicateLogicalDateError) this.log(`no scheduled run of ${dag.dagId} at ${logicalDate.toISOString()}: run "${err.existingRunId}" (${err.existingState}) has that logical date`);
          else if (err instanceof DuplicateRunError) this.log(`no scheduled run of ${dag.dagId} at ${logicalDate.toISOString()}: its run id "${runId}" is taken by another run`);
          else throw err;
        }
      }
      await this.repos.dags.setLastScheduledDate(dag.dagId, dates[dates.length - 1], tx);
      this.log(`created ${created} scheduled run(s) of ${dag.dagId}`);
    }
  }

  /** Tasks on workers that stopped heartbeating fail; the retry policy decides what comes next. */
  private async expireLostWorkers(now: Date, tx: Queryable, work: Work, silent: boolean, goneWorkers: GoneWorker[]): Promise<void> {
    const cutoff = new Date(now.getTime() - this.options.heartbeatTimeoutMs);
    // A worker whose hand-over is pending is neither: its tries wait for adoption until the deadline.
    const gone = new Set(await this.repos.workers.markGone(goneWorkers, now, tx));
    const lost = silent ? await this.repos.workers.markLost(cutoff, now, tx) : [];
    const orphans = [
      ...(await this.repos.tis.onWorkers([...gone, ...lost], tx)),
      ...(silent ? await this.repos.tis.runningOnUnknownWorkers(cutoff, tx) : []),
    ];
    if (gone.size) this.log(`workers lost (their broker connection closed): ${[...gone].join(', ')}`);
    if (lost.length) this.log(`workers lost (no heartbeat for ${this.options.heartbeatTimeoutMs / 1000}s): ${lost.join(', ')}`);
    if (orphans.length === 0) return;
    const facts = await this.runs.get(orphans.map((t) => t.runPk), tx);
    // Ended, their ends held (by any scheduler) until their logs are stored: applied then.
    const held = await this.repos.logs.heldEnds(orphans.map((t) => ({ tiId: t.id, tryNumber: t.tryNumber })), endHoldCutoff(now), tx);
    const handOvers = await this.repos.workers.handOvers([...gone, ...lost], tx);
    for (const current of orphans) {
      const ti = work.writes.current(current.id) ?? current;
      if (ti.state !== 'running') continue; // its finished event came in this very iteration
      if (this.heldEnd?.(ti.id, ti.tryNumber) || held.has(`${ti.id}:${ti.tryNumber}`)) continue;
      const { to, nextRetryAt } = failurePolicy(ti, taskOf(facts.get(ti.runPk)!.dag, ti.taskId), now);
      const reason = wasHandedOver(ti, handOvers.get(ti.worker!)) ? notAdoptedReason(ti.worker!, ti.tryNumber)
        : gone.has(ti.worker!) ? `worker ${ti.worker} lost: its broker connection closed`
        : `worker ${ti.worker} lost: no heartbeat for ${this.options.heartbeatTimeoutMs / 1000}s`;
      const lostTry = transition(ti, to, undefined, reason);
      if (lostTry.verdict !== 'apply') continue;
      work.writes.add({ before: ti, after: { ...ti, state: to, reason, endedAt: now, nextRetryAt }, steps: [lostTry.step] });
      work.touched.add(ti.runPk);
    }
  }

  private async promoteDueRetries(now: Date, tx: Queryable, work: Work): Promise<void> {
    for (const ti of await this.repos.tis.retryDue(now, 5000, tx)) {
      if (work.writes.current(ti.id)) continue;
      const due = transition(ti, 'scheduled', undefined, 'retry delay passed');
      if (due.verdict !== 'apply') continue;
      work.writes.add({ before: ti, after: { ...ti, state: 'scheduled', nextRetryAt: null }, steps: [due.step] });
    }
  }

  /**
   * Starts queued runs while their DAG's max_active_runs allows (a backfill's runs: while
   * the backfill's own max_active_runs allows too), creating their task instances.
   */
  private async startQueuedRuns(now: Date, tx: Queryable, touched: Set<number>): Promise<void> {
    const queued = await this.repos.runs.queued(500, tx);
    if (queued.length === 0) return;
    const running = await this.repos.runs.runningCounts([...new Set(queued.map((r) => r.dagId))], tx);
    const backfills = await this.repos.backfills.limitsOf(queued.map((r) => r.pk), tx);
    const backfillRunning = new Map([...backfills.values()].map((b) => [b.backfillId, b.running]));
    for (const run of queued) {
      const dag = await this.repos.dags.version(run.dagId, run.versionHash, tx);
      const active = running.get(run.dagId) ?? 0;
      const backfill = backfills.get(run.pk);
      const mine = backfill ? backfillRunning.get(backfill.backfillId)! : 0;
      // A backfill's run waits for both limits: its backfill's and its DAG's (which counts every run of the DAG).
      if (active >= dag.maxActiveRuns || (backfill !== undefined && mine >= backfill.maxActiveRuns)) continue;
      // Read without a lock: a user may have cancelled it since.
      if (!(await this.repos.runs.startQueued(run.pk, now, tx))) continue;
      if (backfill) backfillRunning.set(backfill.backfillId, mine + 1);
      running.set(run.dagId, active + 1);
      await this.repos.tis.createForRun(run.pk, dag, tx);
      touched.add(run.pk);
    }
  }

  // --- run evaluation -----------------------------------------------------------------

  /**
   * Decides what can run next in each locked run (trigger rules, cascading skips) from its
   * (task, state) pairs, and finishes runs. Returns whether it scheduled anything.
   */
  private async evaluateRuns(locked: EvaluatedRun[], now: Date, tx: Queryable, work: Work): Promise<boolean> {
    if (locked.length === 0) return false;
    const { writes } = work;
    let scheduled = false;
    // Task ids each run's instances changed state in, so far in this iteration.
    const changedByRun = new Map<number, string[]>();
    for (const t of writes.transitions()) {
      if (t.before.state === t.after.state) continue;
      const list = changedByRun.get(t.after.runPk);
      if (list) list.push(t.after.taskId);
      else changedByRun.set(t.after.runPk, [t.after.taskId]);
    }
    for (const evaluated of locked) {
      const { run, states: { byTask, outcomeCursor } } = evaluated;
      this.runs.refresh(run);
      if (run.state !== 'running') continue;
      const dag = await this.repos.dags.version(run.dagId, run.versionHash, tx);
      // The states as this iteration leaves them: the database's, plus what it decided so far.
      const planned = new Map<string, TiState>();
      const states: TaskStates = {
        get: (taskId) => {
          const t = byTask.get(taskId);
          return planned.get(taskId) ?? (t && (writes.current(t.id)?.state ?? t.state));
        },
      };
      // Cached states were left at their fixed point by this scheduler's last evaluation of
      // the run: only tasks downstream of what changed since can be decided now. States read
      // afresh, or a run flagged for evaluation (a clear, a trigger), are planned whole.
      const changed = evaluated.fromCache && !evaluated.needsEval ? changedByRun.get(run.pk) ?? [] : undefined;
      let plan = planRun(dag, states, changed);
      while (plan.length > 0) {
        // Tasks found cached: their downstream tasks are planned in the same iteration (a chain of cached tasks ends at once).
        const cachedNow: string[] = [];
        for (const p of plan) {
          const t = byTask.get(p.taskId)!;
          const task = taskOf(dag, p.taskId)!;
          // A task instance in `none` holds nothing but its try count (creation and clearing
          // leave every other column empty), so the row is known without reading it.
          const before: TaskInstance = {
            id: t.id, runPk: run.pk, dagId: run.dagId, taskId: t.taskId, state: 'none', tryNumber: t.tryNumber,
            maxTries: t.maxTries, queue: task.queue, pool: task.pool, poolSlots: task.poolSlots, priority: task.priority,
            worker: null, hostname: null, pid: null, exitCode: null, reason: null, queuedAt: null, startedAt: null,
            endedAt: null, nextRetryAt: null,
          };
          const hit = p.to === 'scheduled' && task.cache ? await this.cacheHit(before, task, { run, dag }, now, tx, work) : null;
          if (hit) {
            const cached = transition(before, 'cached', undefined, hit.reason);
            if (cached.verdict !== 'apply') continue;
            writes.add({ before, after: { ...before, state: 'cached', reason: hit.reason, endedAt: now }, steps: [cached.step] });
            work.results.push(hit.row);
            work.runResults.put(run.pk, { ...hit.row, taskId: t.taskId, imagePinned: true, createdAt: now, cachedFromRef: hit.source });
            planned.set(p.taskId, 'cached');
            cachedNow.push(p.taskId);
            continue;
          }
          const ended = p.to !== 'scheduled';
          const decided = transition(before, p.to, undefined, ended ? 'trigger rule' : null);
          if (decided.verdict !== 'apply') continue;
          writes.add({ before, after: { ...before, state: p.to, endedAt: ended ? now : null }, steps: [decided.step] });
          planned.set(p.taskId, p.to);
          scheduled ||= !ended;
        }
        plan = cachedNow.length > 0 ? planRun(dag, states, cachedNow) : [];
      }
      const outcome = runOutcome(dag, states, outcomeCursor);
      if (outcome !== 'running') {
        await this.repos.runs.setState(run.pk, outcome, now, tx);
        evaluated.ended = true;
      }
    }
    await this.repos.runs.markEvaluated(locked.filter((l) => l.needsEval).map((l) => l.run.pk), tx);
    return scheduled;
  }

  /**
   * A cacheable task about to be scheduled: the newest successful try with its cache key
   * (any run, any DAG of its namespace, within its cache_ttl), unless the run forces it or
   * the task instance ran (or was cached) before: a cleared task always runs again. Null = run it.
   */
  private async cacheHit(
    ti: TaskInstance, task: TaskSpec, f: RunFacts, now: Date, tx: Queryable, work: Work,
  ): Promise<{ reason: string; row: TaskResultRow; source: { dagId: string; runId: string; taskId: string } } | null> {
    if (ti.tryNumber > 0 || this.runs.cacheForced(f, ti.taskId)) return null;
    await work.runResults.load([ti.runPk], tx);
    if (work.runResults.of(ti.runPk, ti.taskId)) return null;
    let key: string;
    try {
      const results = work.runResults.view(ti.runPk);
      const rendered = renderDefinition(task, f, ti.taskId, ti.tryNumber + 1, results);
      // Its image tag may name new content: a worker confirms the hit (TaskMessage.cacheCheck, added at dispatch).
      if (cacheHitNeedsWorker(task, rendered.imageRef)) return null;
      key = taskCacheKey(task, f, rendered, results, this.artifacts);
    } catch {
      return null; // a template that does not render: dispatch fails the try with the reason
    }
    const source = (await this.repos.results.findCached([key], tx)).get(key);
    if (!source || !cacheEntryFresh(task, source.createdAt, now)) return null;
    return {
      reason: `cached: took the outputs of ${source.dagId}.${source.taskId} try ${source.tryNumber} in run ${source.runId} (cache key ${key.slice(0, 12)})`,
      row: {
        tiId: ti.id, tryNumber: ti.tryNumber, succeeded: true, outputs: source.outputs, image: source.image, imageDigest: source.imageDigest,
        cacheKey: key, cachedFromTi: source.tiId, cachedFromTry: source.tryNumber, containerId: null, gpuDevices: null, runtime: null,
      },
      source: { dagId: source.dagId, runId: source.runId, taskId: source.taskId },
    };
  }

  /**
   * The first try of a cacheable container task whose image is not pinned by digest: when a
   * cache entry with its key exists, the worker is asked to confirm it (the image still has
   * the digest that try ran) before the task ends `cached` (see TaskMessage.cacheCheck).
   * An entry with no recorded digest cannot be confirmed: the task runs.
   */
  private async addCacheCheck(message: TaskMessage, queued: TaskInstance, task: TaskSpec, f: RunFacts, now: Date, tx: Queryable): Promise<void> {
    if (queued.tryNumber !== 1 || !cacheHitNeedsWorker(task, message.imageRef ?? message.docker!.image)) return;
    if (this.runs.cacheForced(f, queued.taskId)) return;
    const source = (await this.repos.results.findCached([message.cacheKey!], tx)).get(message.cacheKey!);
    if (!source || source.imageDigest === null || !cacheEntryFresh(task, source.createdAt, now)) return;
    message.cacheCheck = { tiId: source.tiId, tryNumber: source.tryNumber, digest: source.imageDigest };
  }

  // --- dispatch -----------------------------------------------------------------------

  /**
   * Moves scheduled task instances to queued by priority, within pool slots and each
   * DAG's max_active_tasks, with their task messages for the outbox. Sees this
   * iteration's decisions: instances it scheduled, slots it freed. Returns how many it
   * queued, and whether it stopped at `dispatchSlice` with candidates left.
   */
  private async dispatch(now: Date, tx: Queryable, work: Work, view: DispatchView): Promise<{ queued: number; more: boolean }> {
    if (this.dispatchHeld) return NOTHING_QUEUED;
    const { writes } = work;
    const fresh = writes.inState('scheduled');
    const candidates = [...view.candidates.filter((c) => !writes.current(c.id)), ...fresh]
      .sort((a, b) => b.priority - a.priority || a.id - b.id);
    if (candidates.length === 0) return NOTHING_QUEUED;
    const { poolSlots, perDag } = view;
    for (const ti of writes.freed()) {
      poolSlots.set(ti.pool, (poolSlots.get(ti.pool) ?? 0) - ti.poolSlots);
      perDag.set(ti.dagId, (perDag.get(ti.dagId) ?? 0) - 1);
    }
    const pools = (this.pools ??= new Map((await this.repos.pools.list(tx)).map((p) => [p.name, p.slots])));
    const workers = (this.liveWorkers ??= (await this.repos.workers.list(tx)).filter((w) => w.state === 'active'));
    const facts = await this.runs.get(candidates.map((c) => c.runPk), tx);
    const keys = variableKeysOf(candidates.map((c) => facts.get(c.runPk) && taskOf(facts.get(c.runPk)!.dag, c.taskId)).filter((t): t is TaskSpec => !!t));
    if (this.artifacts?.kind === 's3') keys.push(...ARTIFACTS_S3_VARIABLES);
    const variables = new Map(keys.length ? (await this.repos.variables.many(keys, tx)).map((v) => [v.key, v]) : []);
    const withResults = candidates.slice(0, this.options.dispatchSlice).filter((c) => {
      const f = facts.get(c.runPk);
      const task = f && taskOf(f.dag, c.taskId);
      return f !== undefined && task !== undefined && needsRunResults(task, f.dag, this.artifacts !== null);
    });
    if (withResults.length > 0) await work.runResults.load(withResults.map((c) => c.runPk), tx);
    let queuedCount = 0;
    for (const ti of candidates) {
      if (queuedCount >= this.options.dispatchSlice) return { queued: queuedCount, more: true };
      const f = facts.get(ti.runPk);
      const task = f && taskOf(f.dag, ti.taskId);
      if (!f || !task) {
        // A task its cached version lacks: the run moved to another version (`runs upgrade`); read it again.
        if (f) this.runs.forget(ti.runPk);
        continue;
      }
      if (view.paused.has(ti.dagId)) {
        // Held until the DAG is unpaused (as Airflow holds a paused DAG's runs); running tries go on.
        const reason = pausedReason(ti.dagId);
        if (ti.reason !== reason) writes.add({ before: ti, after: { ...ti, reason }, steps: [] });
        continue;
      }
      const capacity = pools.get(ti.pool);
      if (capacity === undefined || ti.poolSlots > capacity) {
        // It waits until its pool exists or is large enough; its reason tells the user, once.
        const reason = capacity === undefined
          ? `waiting for pool "${ti.pool}", which does not exist: create it with \`swarmflow pools set ${ti.pool} <slots>\``
          : `waiting: needs ${ti.poolSlots} slots of pool "${ti.pool}", which has ${capacity}: resize it with \`swarmflow pools set ${ti.pool} ${ti.poolSlots}\``;
        if (ti.reason !== reason) writes.add({ before: ti, after: { ...ti, reason }, steps: [] });
        continue;
      }
      const used = poolSlots.get(ti.pool) ?? 0;
      if (used + ti.poolSlots > capacity) continue;
      const active = perDag.get(ti.dagId) ?? 0;
      if (active >= f.dag.maxActiveTasks) continue;
      const enqueue = transition(ti, 'queued');
      if (enqueue.verdict !== 'apply') continue;
      const tryNumber = enqueue.step.tryNumber;
      const queued: TaskInstance = {
        ...ti, state: 'queued', tryNumber, queuedAt: now, worker: null, hostname: null, pid: null,
        exitCode: null, reason: null, startedAt: null, endedAt: null, nextRetryAt: null,
      };
      let results = NO_RESULTS;
      if (needsRunResults(task, f.dag, this.artifacts !== null)) {
        // Read with the batch above, unless this candidate lies past it (others before it waited
        // for slots). Outside the try below: a read the from-memory path refuses is no task's failure.
        await work.runResults.load([ti.runPk], tx);
        results = work.runResults.view(ti.runPk);
      }
      let message: TaskMessage;
      try {
        if (!this.signer) throw new DispatchError(NO_SIGNING_KEY);
        checkGpuCapacity(task, workers);
        message = buildTaskMessage(queued, task, f, variables, this.clusterKey, this.artifacts, results);
      } catch (err) {
        // A template that cannot render, a missing variable, GPUs no worker has: the try
        // fails with the reason, as retrying would not help.
        const reason = err instanceof DispatchError ? err.message : `template error: ${(err as Error).message}`;
        const failed = transition(queued, 'failed', undefined, reason);
        if (failed.verdict !== 'apply') continue;
        writes.add({ before: ti, after: { ...queued, state: 'failed', reason, endedAt: now }, steps: [enqueue.step, failed.step] });
        writes.reEvaluate.add(ti.runPk);
        continue;
      }
      if (message.cacheKey !== undefined && message.docker) await this.addCacheCheck(message, queued, task, f, now, tx);
      const signed = signTaskMessage(message, this.signer!, now.getTime());
      writes.add(
        { before: ti, after: queued, steps: [enqueue.step] },
        { exchange: EXCHANGES.tasks, routingKey: task.queue, payload: signed },
      );
      // Counted only now: a try failed at dispatch holds no slot.
      poolSlots.set(ti.pool, used + ti.poolSlots);
      perDag.set(ti.dagId, active + 1);
      queuedCount++;
    }
    return { queued: queuedCount, more: false };
  }
}

/** Cache entries by `<tiId>:<tryNumber>` (see TaskResultRepository.cacheEntries). */
type CacheSources = ReadonlyMap<string, TaskResult>;
const NO_SOURCES: CacheSources = new Map();

/** A `task.finished` of a cache hit its worker confirmed: its source (null when no longer a cache entry) and the try's reason. */
function confirmedHit(e: TaskFinishedEvent, sources: CacheSources): { source: TaskResult | null; reason: string } {
  const from = e.cachedFrom!;
  const source = sources.get(`${from.tiId}:${from.tryNumber}`) ?? null;
  const image = e.image ? `; ${e.worker} found image ${e.image.ref} still at ${e.image.digest}` : '';
  if (!source) {
    return { source, reason: `the cached try ${from.tryNumber} of task instance ${from.tiId} was invalidated before its hit was confirmed: nothing ran` };
  }
  return {
    source,
    reason: `cached: took the outputs of ${source.dagId}.${source.taskId} try ${source.tryNumber} in run ${source.runId} (cache key ${(source.cacheKey ?? '').slice(0, 12)}${image})`,
  };
}

const NO_SIGNING_KEY = 'the scheduler has no cluster key to sign the task message with (workers run only signed ones). ' +
  'Fix: set SWARMFLOW_CLUSTER_KEY (or SWARMFLOW_CLUSTER_KEY_FILE) on the scheduler, the same key as the workers\'';

/**
 * What a failed try leads to. A cleared task instance gets its retries again: its
 * max_tries was raised at the clear, so tries count from the first try after it.
 */
function failurePolicy(ti: TaskInstance, task: TaskSpec | undefined, now: Date): { to: 'up_for_retry' | 'failed'; nextRetryAt: Date | null } {
  if (!task) return { to: 'failed', nextRetryAt: null };
  const attempt = ti.tryNumber - (ti.maxTries - (task.retries + 1));
  const to = afterFailure(task, attempt);
  return { to, nextRetryAt: to === 'up_for_retry' ? new Date(now.getTime() + retryDelayMs(task, attempt)) : null };
}


/** The try is among those its worker's hand-over listed (expired by now, or it would not be failed). */
function wasHandedOver(ti: TaskInstance, handOver: PendingHandOver | undefined): boolean {
  return handOver?.tries.some((t) => t.tiId === ti.id && t.tryNumber === ti.tryNumber) ?? false;
}

/** The scheduler ended the try because its worker was lost or no longer listed it: that worker may still run a copy. */
function endedForLostWorker(ti: TaskInstance): boolean {
  return ti.worker !== null && ti.reason !== null &&
    (ti.reason.startsWith(`worker ${ti.worker} lost`) || ti.reason.startsWith(`worker ${ti.worker} no longer runs`) ||
      ti.reason === notAdoptedReason(ti.worker, ti.tryNumber));
}

const taskIndex = new WeakMap<SerializedDag, Map<string, TaskSpec>>();

function taskOf(dag: SerializedDag, taskId: string): TaskSpec | undefined {
  let index = taskIndex.get(dag);
  if (!index) taskIndex.set(dag, (index = new Map(dag.tasks.map((t) => [t.id, t]))));
  return index.get(taskId);
}

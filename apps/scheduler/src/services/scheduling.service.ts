import {
  afterFailure, decideTransition, dueLogicalDates, planRun, renderCommand, resolveParams, retryDelayMs, runOutcome,
  templateContext, type SerializedDag, type TaskMessage, type TaskSpec, type TiState, type WorkerEvent,
} from '@swarmflow/core';
import { EXCHANGES } from '@swarmflow/messaging';
import type { OutboxMessage, Queryable, Repositories, TaskInstance, TiTransition } from '@swarmflow/persistence';
import { RunCache, type RunFacts } from './run-cache';

export interface SchedulingOptions {
  /** How often time-driven work runs: cron, retry delays, heartbeat expiry. */
  tickMs: number;
  /** A worker silent for this long is lost; its running tasks fail (and retry if they can). */
  heartbeatTimeoutMs: number;
  /** Scheduled task instances considered per dispatch. */
  dispatchBatch: number;
}

export const DEFAULT_SCHEDULING_OPTIONS: SchedulingOptions = {
  tickMs: 1000,
  heartbeatTimeoutMs: 30_000,
  dispatchBatch: 2048,
};

/** Serialises scheduling iterations between schedulers (HA). */
const SCHEDULING_LOCK = 72_810_001;

/** What an iteration found to do as it went. */
interface Work {
  /** Runs to evaluate. */
  touched: Set<number>;
  /** Something may be dispatchable: a slot freed, a task became scheduled, or a tick. */
  dispatch: boolean;
}

export interface IterationResult {
  /** Messages committed to the outbox in this iteration; the caller publishes them. */
  outbox: { id: number; message: OutboxMessage }[];
  eventsApplied: number;
  dispatched: number;
}

/**
 * One scheduling iteration in one transaction: apply worker events, do time-driven work
 * when a tick is due, evaluate the runs that changed, dispatch ready task instances.
 * The scheduler decides; workers only report. Every state change is a compare-and-set
 * through the core's state machine.
 */
export class SchedulingService {
  private readonly runs: RunCache;
  /** Pool sizes, re-read every tick (a changed pool applies within one tick). */
  private pools: Map<string, number> | null = null;

  constructor(
    private readonly repos: Repositories,
    private readonly options: SchedulingOptions = DEFAULT_SCHEDULING_OPTIONS,
    private readonly log: (msg: string) => void = () => {},
  ) {
    this.runs = new RunCache(repos);
  }

  /**
   * @param published outbox ids the caller has since published: deleted in this transaction
   *   (saves a statement per publish; the sweep ignores rows younger than 10 s anyway).
   */
  async iterate(events: WorkerEvent[], now: Date, tick: boolean, published: number[] = []): Promise<IterationResult> {
    // One scheduling iteration at a time across HA schedulers (the lock, taken with BEGIN):
    // dispatch counts pool slots and concurrency, which needs a single writer; it also keeps
    // two schedulers from evaluating one run at once. Published outbox rows go in the same trip.
    const prelude = [`SELECT pg_advisory_xact_lock(${SCHEDULING_LOCK})`];
    if (published.length > 0) prelude.push(`DELETE FROM outbox WHERE id IN (${published.map((id) => Math.trunc(id)).join(',')})`);
    return this.repos.db.transaction(async (tx) => {
      const work: Work = { touched: new Set(), dispatch: tick };
      if (tick) this.pools = null;
      const eventsApplied = await this.applyEvents(events, now, tx, work);
      if (tick) {
        await this.createScheduledRuns(now, tx);
        await this.expireLostWorkers(now, tx, work.touched);
        await this.promoteDueRetries(now, tx);
        await this.startQueuedRuns(now, tx, work.touched);
        for (const pk of await this.repos.runs.needingEvaluation(500, tx)) work.touched.add(pk);
      }
      if (await this.evaluateRuns([...work.touched], now, tx)) work.dispatch = true;
      const outbox = work.dispatch ? await this.dispatch(now, tx) : [];
      return { outbox, eventsApplied, dispatched: outbox.length };
    }, prelude.join('; '));
  }

  // --- worker events ------------------------------------------------------------------

  private async applyEvents(events: WorkerEvent[], now: Date, tx: Queryable, work: Work): Promise<number> {
    const beats = new Map<string, WorkerEvent & { type: 'worker.heartbeat' }>();
    const byTi = new Map<number, WorkerEvent[]>();
    for (const e of events) {
      if (e.type === 'worker.heartbeat') beats.set(e.worker, e);
      else {
        const list = byTi.get(e.tiId);
        if (list) list.push(e);
        else byTi.set(e.tiId, [e]);
      }
    }
    await this.repos.workers.recordHeartbeats([...beats.values()].map((b) => ({
      name: b.worker, hostname: b.hostname, queues: b.queues, concurrency: b.concurrency, state: b.state, running: b.running,
    })), now, tx);

    let applied = 0;
    let pending = [...byTi.keys()];
    // A compare-and-set that lost a race (another scheduler, a user's clear) is re-decided on fresh rows.
    for (let attempt = 0; attempt < 3 && pending.length > 0; attempt++) {
      const tis = await this.repos.tis.byIds(pending, tx);
      const facts = await this.runs.get(tis.map((t) => t.runPk), tx);
      const transitions: TiTransition[] = [];
      for (const ti of tis) {
        const f = facts.get(ti.runPk);
        if (!f) continue;
        const t = this.foldEvents(ti, byTi.get(ti.id)!, taskOf(f.dag, ti.taskId), now);
        if (t) transitions.push(t);
      }
      const ok = await this.repos.tis.applyTransitions(transitions, now, tx);
      for (const t of transitions) {
        if (!ok.has(t.before.id)) continue;
        applied++;
        // Only an ended try can unblock downstream tasks or end the run, and only it frees
        // a pool slot; a `started` alone needs no evaluation and no dispatch.
        if (t.after.state !== 'running') {
          work.touched.add(t.before.runPk);
          work.dispatch = true;
        }
      }
      pending = transitions.filter((t) => !ok.has(t.before.id)).map((t) => t.before.id);
    }
    return applied + beats.size;
  }

  /** Applies one task instance's events in order on a copy; null when nothing changes (duplicate, stale). */
  private foldEvents(ti: TaskInstance, events: WorkerEvent[], task: TaskSpec | undefined, now: Date): TiTransition | null {
    let cur = ti;
    const steps: TiTransition['steps'] = [];
    for (const e of events) {
      if (e.type === 'task.started') {
        if (decideTransition(cur, 'running', e.tryNumber) !== 'apply') continue;
        steps.push({ from: cur.state, to: 'running', tryNumber: cur.tryNumber, reason: `on ${e.worker}` });
        cur = { ...cur, state: 'running', worker: e.worker, hostname: e.hostname, pid: e.pid, startedAt: new Date(e.at) };
      } else if (e.type === 'task.finished') {
        const retry = e.outcome === 'failed' ? failurePolicy(cur, task, now) : null;
        const to: TiState = retry ? retry.to : e.outcome;
        if (decideTransition(cur, to, e.tryNumber) !== 'apply') continue;
        // The exit code has its own column; the reason is for what it does not say (timeout, cancel, signal).
        const reason = e.reason ?? (e.exitCode === null && e.signal ? `killed by ${e.signal}` : null);
        steps.push({ from: cur.state, to, tryNumber: cur.tryNumber, reason });
        cur = {
          ...cur, state: to, exitCode: e.exitCode, reason, endedAt: new Date(e.at),
          worker: cur.worker ?? e.worker, startedAt: cur.startedAt ?? new Date(e.at),
          nextRetryAt: retry?.nextRetryAt ?? null,
        };
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
      for (const logicalDate of dates) {
        const runId = `scheduled__${logicalDate.toISOString()}`;
        await tx.query(
          `INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date, conf, params, needs_eval)
           VALUES ($1, $2, $3, 'scheduled', 'queued', $4, '{}', $5, true) ON CONFLICT (dag_id, run_id) DO NOTHING`,
          [dag.dagId, runId, dag.latestVersion, logicalDate, JSON.stringify(params)],
        );
      }
      await this.repos.dags.setLastScheduledDate(dag.dagId, dates[dates.length - 1], tx);
      this.log(`created ${dates.length} scheduled run(s) of ${dag.dagId}`);
    }
  }

  /** Tasks on workers that stopped heartbeating fail; the retry policy decides what comes next. */
  private async expireLostWorkers(now: Date, tx: Queryable, touched: Set<number>): Promise<void> {
    const cutoff = new Date(now.getTime() - this.options.heartbeatTimeoutMs);
    const lost = await this.repos.workers.markLost(cutoff, tx);
    const orphans = [
      ...(await this.repos.tis.onWorkers(lost, tx)),
      ...(await this.repos.tis.runningOnUnknownWorkers(cutoff, tx)),
    ];
    if (lost.length) this.log(`workers lost (no heartbeat for ${this.options.heartbeatTimeoutMs / 1000}s): ${lost.join(', ')}`);
    if (orphans.length === 0) return;
    const facts = await this.runs.get(orphans.map((t) => t.runPk), tx);
    const transitions: TiTransition[] = [];
    for (const ti of orphans) {
      const { to, nextRetryAt } = failurePolicy(ti, taskOf(facts.get(ti.runPk)!.dag, ti.taskId), now);
      const reason = `worker ${ti.worker} lost: no heartbeat for ${this.options.heartbeatTimeoutMs / 1000}s`;
      transitions.push({
        before: ti,
        after: { ...ti, state: to, reason, endedAt: now, nextRetryAt },
        steps: [{ from: ti.state, to, tryNumber: ti.tryNumber, reason }],
      });
    }
    const ok = await this.repos.tis.applyTransitions(transitions, now, tx);
    for (const t of transitions) if (ok.has(t.before.id)) touched.add(t.before.runPk);
  }

  private async promoteDueRetries(now: Date, tx: Queryable): Promise<void> {
    const due = await this.repos.tis.retryDue(now, 5000, tx);
    const transitions = due.map((ti): TiTransition => ({
      before: ti,
      after: { ...ti, state: 'scheduled', nextRetryAt: null },
      steps: [{ from: 'up_for_retry', to: 'scheduled', tryNumber: ti.tryNumber, reason: 'retry delay passed' }],
    }));
    await this.repos.tis.applyTransitions(transitions, now, tx);
  }

  /** Starts queued runs while their DAG's max_active_runs allows, creating their task instances. */
  private async startQueuedRuns(now: Date, tx: Queryable, touched: Set<number>): Promise<void> {
    const queued = await this.repos.runs.queued(500, tx);
    if (queued.length === 0) return;
    const running = await this.repos.runs.runningCounts([...new Set(queued.map((r) => r.dagId))], tx);
    for (const run of queued) {
      const dag = await this.repos.dags.version(run.dagId, run.versionHash, tx);
      const active = running.get(run.dagId) ?? 0;
      if (active >= dag.maxActiveRuns) continue;
      running.set(run.dagId, active + 1);
      await this.repos.runs.setState(run.pk, 'running', now, tx);
      await this.repos.tis.createForRun(run.pk, dag, tx);
      touched.add(run.pk);
    }
  }

  // --- run evaluation -----------------------------------------------------------------

  /**
   * Decides what can run next in each run (trigger rules, cascading skips) and finishes
   * runs. Reads only (task, state) pairs; full rows only for the instances it moves.
   * Returns whether it scheduled anything.
   */
  private async evaluateRuns(pks: number[], now: Date, tx: Queryable): Promise<boolean> {
    if (pks.length === 0) return false;
    const locked = await this.repos.runs.lockWithTaskStates(pks, tx);
    const transitions: TiTransition[] = [];
    const finals: { pk: number; dag: SerializedDag; states: Map<string, TiState> }[] = [];
    for (const { run, tis } of locked) {
      if (run.state !== 'running') continue;
      const dag = await this.repos.dags.version(run.dagId, run.versionHash, tx);
      const byTask = new Map(tis.map((t) => [t.taskId, t]));
      const states = new Map(tis.map((t) => [t.taskId, t.state]));
      for (const p of planRun(dag, states)) {
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
        const ended = p.to !== 'scheduled';
        transitions.push({
          before,
          after: { ...before, state: p.to, endedAt: ended ? now : null },
          steps: [{ from: 'none', to: p.to, tryNumber: t.tryNumber, reason: ended ? 'trigger rule' : null }],
        });
        states.set(p.taskId, p.to);
      }
      finals.push({ pk: run.pk, dag, states });
    }
    const ok = await this.repos.tis.applyTransitions(transitions, now, tx);
    const racedRuns = new Set(transitions.filter((t) => !ok.has(t.before.id)).map((t) => t.before.runPk));
    for (const { pk, dag, states } of finals) {
      if (racedRuns.has(pk)) {
        await this.repos.runs.markNeedsEval(pk, tx); // raced with another writer: look again next tick
        continue;
      }
      const outcome = runOutcome(dag, states);
      if (outcome !== 'running') await this.repos.runs.setState(pk, outcome, now, tx);
    }
    const evaluated = locked.filter((l) => l.needsEval && !racedRuns.has(l.run.pk)).map((l) => l.run.pk);
    await this.repos.runs.markEvaluated(evaluated, tx);
    return transitions.some((t) => ok.has(t.before.id) && t.after.state === 'scheduled');
  }

  // --- dispatch -----------------------------------------------------------------------

  /**
   * Moves scheduled task instances to queued by priority, within pool slots and each
   * DAG's max_active_tasks, and writes their task messages to the outbox in the same
   * transaction.
   */
  private async dispatch(now: Date, tx: Queryable): Promise<IterationResult['outbox']> {
    const { candidates, poolSlots, perDag } = await this.repos.tis.dispatchView(this.options.dispatchBatch, tx);
    if (candidates.length === 0) return [];
    const pools = (this.pools ??= new Map((await this.repos.pools.list(tx)).map((p) => [p.name, p.slots])));
    const facts = await this.runs.get(candidates.map((c) => c.runPk), tx);
    const transitions: TiTransition[] = [];
    const messages = new Map<number, OutboxMessage>();
    for (const ti of candidates) {
      const f = facts.get(ti.runPk);
      const task = f && taskOf(f.dag, ti.taskId);
      if (!f || !task) continue;
      const capacity = pools.get(ti.pool);
      const used = poolSlots.get(ti.pool) ?? 0;
      if (capacity === undefined || used + ti.poolSlots > capacity) continue;
      const active = perDag.get(ti.dagId) ?? 0;
      if (active >= f.dag.maxActiveTasks) continue;
      poolSlots.set(ti.pool, used + ti.poolSlots);
      perDag.set(ti.dagId, active + 1);
      const tryNumber = ti.tryNumber + 1;
      const queued: TaskInstance = {
        ...ti, state: 'queued', tryNumber, queuedAt: now, worker: null, hostname: null, pid: null,
        exitCode: null, reason: null, startedAt: null, endedAt: null, nextRetryAt: null,
      };
      let rendered: TaskMessage;
      try {
        rendered = taskMessage(queued, task, f);
      } catch (err) {
        // A template that cannot render fails this try with the reason; retrying would not help.
        const reason = `template error: ${(err as Error).message}`;
        transitions.push({
          before: ti, after: { ...queued, state: 'failed', reason, endedAt: now },
          steps: [{ from: 'scheduled', to: 'queued', tryNumber, reason: null }, { from: 'queued', to: 'failed', tryNumber, reason }],
        });
        continue;
      }
      transitions.push({ before: ti, after: queued, steps: [{ from: 'scheduled', to: 'queued', tryNumber, reason: null }] });
      messages.set(ti.id, { exchange: EXCHANGES.tasks, routingKey: task.queue, payload: rendered });
    }
    const { applied, outboxIds } = await this.repos.tis.applyWithMessages(transitions, messages, now, tx);
    const failedRuns = transitions.filter((t) => applied.has(t.before.id) && t.after.state === 'failed').map((t) => t.before.runPk);
    for (const pk of new Set(failedRuns)) await this.repos.runs.markNeedsEval(pk, tx);
    return [...messages].filter(([tiId]) => outboxIds.has(tiId)).map(([tiId, message]) => ({ id: outboxIds.get(tiId)!, message }));
  }
}

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

const taskIndex = new WeakMap<SerializedDag, Map<string, TaskSpec>>();

function taskOf(dag: SerializedDag, taskId: string): TaskSpec | undefined {
  let index = taskIndex.get(dag);
  if (!index) taskIndex.set(dag, (index = new Map(dag.tasks.map((t) => [t.id, t]))));
  return index.get(taskId);
}

/** The task message of one try: templates rendered against the run's params, conf and dates. */
function taskMessage(ti: TaskInstance, task: TaskSpec, f: RunFacts): TaskMessage {
  const ctx = templateContext({
    dagId: ti.dagId, runId: f.run.runId, taskId: ti.taskId, tryNumber: ti.tryNumber,
    logicalDate: f.run.logicalDate, params: f.run.params, conf: f.run.conf,
  });
  return {
    tiId: ti.id, dagId: ti.dagId, runId: f.run.runId, taskId: ti.taskId, tryNumber: ti.tryNumber, queue: task.queue,
    command: renderCommand(task.command, ctx), env: task.env, cwd: task.cwd, timeoutMs: task.timeoutMs,
    skipExitCode: task.skipExitCode, priority: task.priority,
  };
}

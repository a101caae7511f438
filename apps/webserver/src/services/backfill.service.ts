import { Inject, Injectable } from '@nestjs/common';
import {
  BackfillRequestError, backfillDates, backfillState, planBackfill, resolveParams, selectBackfillTasks, TI_BUSY, TI_CLEARABLE,
  type BackfillDatePlan, type BackfillSelection, type DagRunState, type ExistingBackfillRun, type SerializedDag,
} from '@swarmflow/core';
import { Repositories, type BackfillRecord, type DagRun, type Queryable } from '@swarmflow/persistence';
import type { BackfillDto } from '@swarmflow/contracts/backfill.types';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError, NotFoundError } from './api-errors';
import { clearTransition } from './clear.service';
import { requireDag } from './lookups';

export interface BackfillRequest {
  from: Date;
  to: Date;
  /** Regular expression of task ids; null = every task. */
  tasks: string | null;
  ignoreDependencies: boolean;
  rerunFailed: boolean;
  /** Runs of this backfill running at once; default the DAG's max_active_runs. */
  maxActiveRuns?: number;
  dryRun: boolean;
}

const RUN_STATES: DagRunState[] = ['queued', 'running', 'success', 'failed'];

/**
 * Backfills: one run per schedule interval of a date range, created or reused, running the
 * selected tasks (the core decides dates, selection and what to do at each date). The
 * scheduler starts a backfill's queued runs under its max_active_runs, and holds them
 * while it is paused.
 */
@Injectable()
export class BackfillService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Creates a backfill, or resumes the unfinished one of the DAG with the same arguments
   * (unpausing it; dates still without a run get one). With `dryRun`, only answers the plan.
   * @throws NotFoundError, ConflictError (`dag_inactive`; `backfill_running`: another
   *   backfill of the DAG is running), BackfillRequestError (bad range or pattern)
   */
  async create(dagId: string, request: BackfillRequest): Promise<BackfillDto> {
    const now = this.clock();
    const dag = await requireDag(this.repos, dagId);
    if (!dag.isActive) {
      throw new ConflictError('dag_inactive', `DAG "${dagId}" is no longer defined by any DAG file (last seen in ${dag.fileloc}), so it cannot be backfilled. Restore its definition, or check \`swarmflow dags errors\`.`);
    }
    const version = await this.repos.dags.version(dagId, dag.latestVersion);
    const dates = backfillDates(version, request.from, request.to, now);
    const selection = selectBackfillTasks(version, request.tasks, request.ignoreDependencies);
    const maxActiveRuns = request.maxActiveRuns ?? version.maxActiveRuns;
    const result = await this.repos.db.transaction(async (tx) => {
      const unfinished = await this.repos.backfills.unfinishedLocked(dagId, tx);
      const same = unfinished.find((b) => sameRequest(b, request, maxActiveRuns));
      const existing = await this.existingRuns(dagId, dates, tx);
      const plan = planBackfill(dates, existing, selection, request.rerunFailed);
      if (request.dryRun) return { backfill: null, plan, resumed: same !== undefined };
      const other = unfinished.find((b) => b !== same && !b.paused);
      if (other) {
        throw new ConflictError('backfill_running', `DAG "${dagId}" has a running backfill #${other.id} (${other.from.toISOString()} to ${other.to.toISOString()}${other.taskPattern ? `, tasks ${other.taskPattern}` : ''}). ` +
          `Fix: wait for it to end, or interrupt it (Ctrl-C on its \`swarmflow dags backfill\`, or POST /api/v1/dags/${dagId}/backfills/${other.id}/pause), then backfill again.`);
      }
      const backfill = same ?? await this.repos.backfills.create({
        dagId, from: request.from, to: request.to, taskPattern: request.tasks, ignoreDependencies: request.ignoreDependencies,
        rerunFailed: request.rerunFailed, maxActiveRuns, runCount: dates.length,
      }, tx);
      if (same?.paused) await this.repos.backfills.setPaused(same.id, false, tx);
      await this.carryOut(backfill, plan, version, dag.latestVersion, selection, now, tx);
      return { backfill: { ...backfill, paused: false }, plan, resumed: same !== undefined };
    });
    if (!request.dryRun) this.onChange();
    if (!result.backfill) return this.dryRunView(dagId, request, maxActiveRuns, selection, result.plan, result.resumed);
    return this.view(result.backfill, result.resumed);
  }

  async get(dagId: string, id: number): Promise<BackfillDto> {
    const backfill = await this.require(dagId, id);
    return this.view(backfill, false);
  }

  async list(dagId: string): Promise<BackfillDto[]> {
    await requireDag(this.repos, dagId);
    const list = await this.repos.backfills.list(dagId);
    return Promise.all(list.map((b) => this.view(b, false)));
  }

  /** Interrupts a backfill: its queued runs wait until it is resumed; running ones go on. */
  async pause(dagId: string, id: number): Promise<BackfillDto> {
    const backfill = await this.require(dagId, id);
    await this.repos.backfills.setPaused(id, true);
    return this.view({ ...backfill, paused: true }, false);
  }

  private async require(dagId: string, id: number): Promise<BackfillRecord> {
    const backfill = await this.repos.backfills.get(dagId, id);
    if (backfill) return backfill;
    await requireDag(this.repos, dagId);
    throw new NotFoundError('backfill_not_found', `DAG "${dagId}" has no backfill #${id}. List them with GET /api/v1/dags/${dagId}/backfills.`);
  }

  private async existingRuns(dagId: string, dates: Date[], tx: Queryable): Promise<Map<number, ExistingBackfillRun & { pk: number }>> {
    const found = await this.repos.backfills.runsAt(dagId, dates, tx);
    return new Map(found.map(({ run, tasks }) => [run.logicalDate.getTime(), { pk: run.pk, runId: run.runId, state: run.state, tasks }]));
  }

  /** Creates the missing runs, clears the failed tasks to rerun, and makes every run of the plan the backfill's. */
  private async carryOut(
    backfill: BackfillRecord, plan: BackfillDatePlan[], version: SerializedDag, versionHash: string, selection: BackfillSelection, now: Date, tx: Queryable,
  ): Promise<void> {
    const params = resolveParams(version.params, {});
    const reason = `not selected by backfill #${backfill.id} (--tasks ${backfill.taskPattern}${backfill.ignoreDependencies ? ', --ignore-dependencies' : ''})`;
    const adopted: number[] = [];
    for (const p of plan) {
      if (p.action === 'create') {
        const run = await this.repos.runs.create({
          dagId: backfill.dagId, runId: p.runId, versionHash, runType: 'backfill', logicalDate: p.logicalDate, conf: {}, params, backfillId: backfill.id,
        }, tx);
        await this.repos.tis.createRemoved(run.pk, version, selection.removed, reason, now, tx);
        continue;
      }
      const run = (await this.repos.runs.get(backfill.dagId, p.runId, tx))!;
      adopted.push(run.pk);
      if (p.action === 'rerun') await this.rerun(run, p.rerun, now, tx);
    }
    await this.repos.backfills.adopt(backfill.id, adopted, tx);
  }

  /** As `tasks clear` of each failed task (not its downstream, which the plan lists when it failed upstream). */
  private async rerun(found: DagRun, taskIds: string[], now: Date, tx: Queryable): Promise<void> {
    const [run] = await this.repos.runs.lock([found.pk], tx);
    const dag = await this.repos.dags.version(run.dagId, run.versionHash, tx);
    const retries = new Map(dag.tasks.map((t) => [t.id, t.retries]));
    const tis = (await this.repos.tis.forRuns([run.pk], tx)).filter((ti) => taskIds.includes(ti.taskId) && TI_CLEARABLE.has(ti.state) && !TI_BUSY.has(ti.state));
    const transitions = tis.map((ti) => clearTransition(ti, retries.get(ti.taskId) ?? 0));
    if (transitions.length === 0) return;
    const applied = await this.repos.tis.applyTransitions(transitions, now, tx);
    if (applied.size !== transitions.length) {
      throw new ConflictError('concurrent_change', `a task instance of run "${run.runId}" changed while the backfill cleared it. Try again.`);
    }
    if (run.state === 'success' || run.state === 'failed') await this.repos.runs.setState(run.pk, 'running', now, tx);
    await this.repos.runs.markNeedsEval(run.pk, tx);
  }

  private async view(backfill: BackfillRecord, resumed: boolean): Promise<BackfillDto> {
    const version = await this.latestVersion(backfill.dagId);
    const runs = await this.repos.backfills.runs(backfill.id);
    const byDate = new Map(runs.map((r) => [r.logicalDate.getTime(), r]));
    // From the DAG as it is now; when its schedule or tasks changed so that they no longer
    // apply, the backfill's runs are what it has.
    let selection: BackfillSelection = { run: [], removed: [] };
    let dates = runs.map((r) => r.logicalDate);
    try {
      if (version) {
        selection = selectBackfillTasks(version, backfill.taskPattern, backfill.ignoreDependencies);
        dates = backfillDates(version, backfill.from, backfill.to, new Date(Math.max(backfill.to.getTime(), backfill.createdAt.getTime())));
      }
    } catch (err) {
      if (!(err instanceof BackfillRequestError)) throw err;
    }
    return {
      id: backfill.id, dagId: backfill.dagId, from: backfill.from.toISOString(), to: backfill.to.toISOString(), tasks: backfill.taskPattern,
      ignoreDependencies: backfill.ignoreDependencies, rerunFailed: backfill.rerunFailed, maxActiveRuns: backfill.maxActiveRuns,
      state: backfillState(backfill.paused, runs.map((r) => r.state)), dryRun: false, resumed,
      selectedTasks: selection.run, removedTasks: selection.removed, counts: countStates(runs.map((r) => r.state)),
      createdAt: backfill.createdAt.toISOString(),
      dates: dates.map((d) => {
        const run = byDate.get(d.getTime());
        return { logicalDate: d.toISOString(), action: run?.runType === 'backfill' ? 'create' : 'reuse', runId: run?.runId ?? '', rerun: [], state: run?.state ?? null };
      }),
    };
  }

  private dryRunView(
    dagId: string, request: BackfillRequest, maxActiveRuns: number, selection: BackfillSelection, plan: BackfillDatePlan[], resumed: boolean,
  ): BackfillDto {
    return {
      id: null, dagId, from: request.from.toISOString(), to: request.to.toISOString(), tasks: request.tasks,
      ignoreDependencies: request.ignoreDependencies, rerunFailed: request.rerunFailed, maxActiveRuns, state: 'running', dryRun: true, resumed,
      selectedTasks: selection.run, removedTasks: selection.removed, counts: countStates([]), createdAt: null,
      dates: plan.map((p) => ({ logicalDate: p.logicalDate.toISOString(), action: p.action, runId: p.runId, rerun: p.rerun, state: null })),
    };
  }

  private async latestVersion(dagId: string): Promise<SerializedDag | null> {
    const dag = await this.repos.dags.get(dagId);
    return dag ? this.repos.dags.version(dagId, dag.latestVersion) : null;
  }
}

function sameRequest(b: BackfillRecord, r: BackfillRequest, maxActiveRuns: number): boolean {
  return b.from.getTime() === r.from.getTime() && b.to.getTime() === r.to.getTime() && b.taskPattern === r.tasks &&
    b.ignoreDependencies === r.ignoreDependencies && b.rerunFailed === r.rerunFailed && b.maxActiveRuns === maxActiveRuns;
}

function countStates(states: DagRunState[]): Record<DagRunState, number> {
  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<DagRunState, number>;
  for (const s of states) counts[s]++;
  return counts;
}

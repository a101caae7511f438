import { Inject, Injectable } from '@nestjs/common';
import { planMark, type MarkState, type TiState } from '@swarmflow/core';
import type { ControlSender } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import { CONTROL, CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError, NoBrokerError } from './api-errors';
import { requireRun, requireTaskInstance } from './lookups';
import { applyUserChanges, stopTries, type StoppedTry } from './user-changes';

export interface MarkOptions {
  downstream: boolean;
  upstream: boolean;
  dryRun: boolean;
  /** Who asks: named in each instance's reason (`marked success by alice`). */
  actor: string;
}

export interface MarkChange {
  taskId: string;
  from: TiState;
  to: MarkState;
  tryNumber: number;
}

export interface MarkResult {
  changes: MarkChange[];
  /** Tries a worker held (or may): each one's worker is told to stop it. Empty on a dry run. */
  stopped: StoppedTry[];
}

/**
 * Marks a task instance (optionally its downstream and/or upstream) `success` or `failed`,
 * as Airflow's "mark success / mark failed". The state is final at once: a running or queued
 * try is stopped by its worker, and its later end is ignored (the core's user-only edges
 * are not a worker event's to take). The run is re-evaluated: downstream tasks become
 * ready, or the run ends; an ended run runs again, as after a clear.
 */
@Injectable()
export class MarkService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CONTROL) private readonly control: ControlSender | null,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @throws NotFoundError, ConflictError `task_not_markable` or `concurrent_change`, NoBrokerError (a try to stop, no broker) */
  async mark(dagId: string, runId: string, taskId: string, to: MarkState, options: MarkOptions): Promise<MarkResult> {
    const now = this.clock();
    const reason = `marked ${to} by ${options.actor}`;
    const result = await this.repos.db.transaction(async (tx) => {
      const found = await requireRun(this.repos, dagId, runId, tx);
      // The scheduler locks the run before it decides on its task instances.
      const [run] = options.dryRun ? [found] : await this.repos.runs.lock([found.pk], tx);
      const dag = await this.repos.dags.version(dagId, run.versionHash, tx);
      const tis = await this.repos.tis.forRuns([run.pk], tx);
      const ti = requireTaskInstance(run, tis, taskId);
      const changes = planMark(dag, tis, taskId, to, { downstream: options.downstream, upstream: options.upstream, reason });
      if (ti.state !== to && !changes.some((c) => c.taskId === taskId)) {
        throw new ConflictError('task_not_markable', `${dagId}.${taskId} in run "${runId}" is ${ti.state}, which cannot be marked ${to}${ti.state === 'removed' ? ': the task is not in the DAG version the run uses' : ''}.`);
      }
      const summary = changes.map((c) => ({ taskId: c.taskId, from: c.from, to, tryNumber: c.tryNumber }));
      if (options.dryRun || changes.length === 0) return { changes: summary, stopped: [] };
      if (changes.some((c) => c.stopsTry)) {
        if (!this.control) throw new NoBrokerError();
        this.control.assertCanSign('task.cancel');
      }
      const stopped = await applyUserChanges(this.repos, runId, tis, changes, now, tx);
      // A success marked failed is a result the user rejects: no other run may take it from the cache.
      const rejected = changes.filter((c) => to === 'failed' && c.from === 'success').map((c) => tis.find((t) => t.taskId === c.taskId)!.id);
      await this.repos.results.invalidateForTaskInstances(rejected, now, tx);
      if (run.state === 'success' || run.state === 'failed') await this.repos.runs.setState(run.pk, 'running', now, tx);
      // After setState, which resets needs_eval.
      await this.repos.runs.markNeedsEval(run.pk, tx);
      return { changes: summary, stopped };
    });
    if (result.stopped.length > 0) await stopTries(this.control!, result.stopped);
    if (!options.dryRun && result.changes.length > 0) this.onChange();
    return result;
  }
}

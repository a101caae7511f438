import { Inject, Injectable } from '@nestjs/common';
import { InvalidTransitionError, relativesOf, NEXT, TI_BUSY, TI_CLEARABLE, transition, type TiState } from '@swarmflow/core';
import { Repositories, type TaskInstance, type TiTransition } from '@swarmflow/persistence';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError } from './api-errors';
import { requireRun, requireTaskInstance } from './lookups';

export interface ClearResult {
  /** Task ids moved back to `none` (on a dry run: that would be), in topological order. */
  cleared: string[];
  /** Dry run only: the instances a clear would reset, with their current state and try. */
  taskInstances?: { taskId: string; state: TiState; tryNumber: number }[];
  /** Dry run only: queued or running instances among them; the clear itself is refused until they end. */
  busy?: { taskId: string; state: TiState }[];
}

/** Which relatives of the task a clear takes with it. */
export interface ClearOptions {
  /** Every task downstream of it, transitively (they ran on its result). */
  downstream?: boolean;
  /** Every task it depends on, transitively (their outputs are made again). */
  upstream?: boolean;
  /** Write nothing; answer what would be reset, and what busy instance would stop it. */
  dryRun?: boolean;
  /** The run's container tries take the images' newest digests. */
  latestImages?: boolean;
}

/** "Clear" a task instance (and optionally its downstream and/or upstream): they run again, with fresh retries. */
@Injectable()
export class ClearService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * In one transaction, with the run row locked (the scheduler locks it too before deciding):
   * moves the finished task instances among `taskId` (+ its descendants when `downstream`,
   * its ancestors when `upstream`) back to `none`: all of them or, on any failure, none, keeping their try number and raising max_tries so that each gets its
   * retries again, then puts the run back to `running` for the scheduler to evaluate.
   * Instances not yet run (`none`, `scheduled`) are left as they are. A dry run writes
   * nothing and answers what would be reset (the same selection), and what busy instance would stop it.
   * @throws NotFoundError, ConflictError `task_busy` naming the queued/running instances
   */
  async clear(dagId: string, runId: string, taskId: string, options: ClearOptions = {}): Promise<ClearResult> {
    const dryRun = options.dryRun ?? false;
    const now = this.clock();
    const result = await this.repos.db.transaction(async (tx) => {
      const found = await requireRun(this.repos, dagId, runId, tx);
      const [run] = dryRun ? [found] : await this.repos.runs.lock([found.pk], tx);
      const dag = await this.repos.dags.version(dagId, run.versionHash, tx);
      const tis = await this.repos.tis.forRuns([run.pk], tx);
      requireTaskInstance(run, tis, taskId);

      const byTask = new Map(tis.map((ti) => [ti.taskId, ti]));
      const targets = relativesOf(dag, taskId, options).flatMap((id) => byTask.get(id) ?? []);

      const busy = targets.filter((ti) => TI_BUSY.has(ti.state));
      if (dryRun) {
        const would = targets.filter((ti) => TI_CLEARABLE.has(ti.state));
        return {
          cleared: would.map((ti) => ti.taskId),
          taskInstances: would.map((ti) => ({ taskId: ti.taskId, state: ti.state, tryNumber: ti.tryNumber })),
          busy: busy.map((ti) => ({ taskId: ti.taskId, state: ti.state })),
        };
      }
      if (busy.length > 0) {
        const list = busy.map((ti) => `"${ti.taskId}" (${ti.state})`).join(', ');
        throw new ConflictError('task_busy', `cannot clear while ${list} ${busy.length > 1 ? 'are' : 'is'} queued or running in run "${runId}". Wait for ${busy.length > 1 ? 'them' : 'it'} to finish, then clear again.`);
      }

      const retriesOf = new Map(dag.tasks.map((t) => [t.id, t.retries]));
      const transitions = targets.filter((ti) => TI_CLEARABLE.has(ti.state))
        .map((ti) => clearTransition(ti, retriesOf.get(ti.taskId) ?? 0));
      if (transitions.length === 0) return { cleared: [] };

      const applied = await this.repos.tis.applyTransitions(transitions, now, tx);
      if (applied.size !== transitions.length) {
        // The scheduler moved one of them between our read and our write: roll back.
        throw new ConflictError('concurrent_change', `a task instance of run "${runId}" changed while it was being cleared. Try again.`);
      }
      // The run's next container tries take the images' newest digests instead of the ones it recorded.
      if (options.latestImages) await this.repos.results.unpinImages(run.pk, tx);
      if (run.state === 'success' || run.state === 'failed') await this.repos.runs.setState(run.pk, 'running', now, tx);
      // After setState, which resets needs_eval.
      await this.repos.runs.markNeedsEval(run.pk, tx);
      return { cleared: transitions.map((t) => t.after.taskId) };
    });
    if (!dryRun && result.cleared.length > 0) this.onChange();
    return result;
  }
}

/** The same try number (its logs stay), no trace of the last try, and `retries` more tries from here. */
export function clearTransition(ti: TaskInstance, retries: number): TiTransition {
  const cleared = transition(ti, 'none', undefined, 'cleared');
  // Every clearable state may move to `none` (a unit test holds the group to the table).
  if (cleared.verdict !== 'apply') throw new InvalidTransitionError(ti.state, 'none', NEXT[ti.state]);
  const after: TaskInstance = {
    ...ti, state: 'none', worker: null, hostname: null, pid: null, exitCode: null, reason: null,
    queuedAt: null, startedAt: null, endedAt: null, nextRetryAt: null, maxTries: ti.tryNumber + retries + 1,
  };
  return { before: ti, after, steps: [cleared.step] };
}

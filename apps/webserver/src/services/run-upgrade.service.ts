import { Inject, Injectable } from '@nestjs/common';
import { planRunUpgrade, transition, upgradeChangesTasks, type TiState } from '@swarmflow/core';
import { Repositories, SCHEDULING_LOCK, type TaskInstance, type TiTransition } from '@swarmflow/persistence';
import type { DagVersionDto, RunUpgradeDto } from '@swarmflow/contracts/backfill.types';
import { toRunDto } from '../http/presenters';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError, NotFoundError } from './api-errors';
import { requireDag, requireRun } from './lookups';

/** A DAG's versions, and moving a run to another one (`runs upgrade`). */
@Injectable()
export class RunUpgradeService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async versions(dagId: string): Promise<DagVersionDto[]> {
    const dag = await requireDag(this.repos, dagId);
    return (await this.repos.dags.listVersions(dagId)).map((v) => ({
      hash: v.hash, firstSeenAt: v.firstSeenAt.toISOString(), fileloc: v.fileloc, taskCount: v.taskCount, latest: v.hash === dag.latestVersion,
    }));
  }

  /**
   * Moves the run to version `to` (default: the DAG's latest; a prefix of a hash will do)
   * as the core plans it: new tasks are created and run when their upstreams allow,
   * unfinished tasks the version lacks end `removed`, ended tasks keep their state; an
   * ended run that gains tasks runs again. Holds the scheduling lock: no scheduler decides
   * on the run meanwhile, and every scheduler reads it again afterwards.
   * @throws NotFoundError (DAG, run, version), ConflictError (`version_ambiguous`),
   *   RunUpgradeError (a task the version lacks is queued or running)
   */
  async upgrade(dagId: string, runId: string, to: string | undefined, dryRun: boolean): Promise<RunUpgradeDto> {
    const now = this.clock();
    const dag = await requireDag(this.repos, dagId);
    const hash = await this.resolveHash(dagId, to ?? dag.latestVersion);
    const target = await this.repos.dags.version(dagId, hash);
    const result = await this.repos.db.transaction(async (tx) => {
      const found = await requireRun(this.repos, dagId, runId, tx);
      const [run] = await this.repos.runs.lock([found.pk], tx);
      const tis = await this.repos.tis.forRuns([run.pk], tx);
      const plan = planRunUpgrade(dagId, runId, target, hash, tis);
      const from = run.versionHash;
      if (dryRun || (run.versionHash === hash && !upgradeChangesTasks(plan))) return { run, plan, from, changed: false };
      const reason = `removed: version ${hash.slice(0, 12)} of the DAG has no such task (runs upgrade)`;
      const transitions = tis.filter((ti) => plan.removed.some((r) => r.taskId === ti.taskId))
        .map((ti) => removeTransition(ti, reason, now));
      await this.repos.runs.setVersion(run.pk, hash, tx);
      if (transitions.length > 0) {
        const applied = await this.repos.tis.applyTransitions(transitions, now, tx);
        if (applied.size !== transitions.length) {
          throw new ConflictError('concurrent_change', `a task instance of run "${runId}" changed while the run was upgraded. Try again.`);
        }
      }
      if (plan.added.length > 0) await this.repos.tis.createForRun(run.pk, target, tx);
      const ended = run.state === 'success' || run.state === 'failed';
      if (ended && plan.added.length > 0) await this.repos.runs.setState(run.pk, 'running', now, tx);
      await this.repos.runs.markNeedsEval(run.pk, tx);
      return { run: (await this.repos.runs.get(dagId, runId, tx))!, plan, from, changed: true };
    }, `SELECT pg_advisory_xact_lock(${SCHEDULING_LOCK})`);
    if (result.changed) this.onChange();
    return { dagId, runId, from: result.from, to: hash, dryRun, ...result.plan, run: toRunDto(result.run) };
  }

  /** A full hash or a unique prefix (at least 6 characters) of one of the DAG's versions. */
  private async resolveHash(dagId: string, wanted: string): Promise<string> {
    const all = (await this.repos.dags.listVersions(dagId)).map((v) => v.hash);
    const matches = wanted.length >= 6 ? all.filter((h) => h.startsWith(wanted)) : all.filter((h) => h === wanted);
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new ConflictError('version_ambiguous', `"${wanted}" is the start of ${matches.length} versions of DAG "${dagId}" (${matches.map((h) => h.slice(0, 12)).join(', ')}). Fix: give more of the hash.`, 'to');
    }
    throw new NotFoundError('version_not_found', `DAG "${dagId}" has no version "${wanted}". List them with \`swarmflow dags versions ${dagId}\`.`);
  }
}

/** none → removed; scheduled and up_for_retry go through none (as a clear would), each step recorded. */
function removeTransition(ti: TaskInstance, reason: string, now: Date): TiTransition {
  const steps = [];
  let state: TiState = ti.state;
  if (state !== 'none') {
    const back = transition(ti, 'none', undefined, reason);
    if (back.verdict !== 'apply') throw new ConflictError('concurrent_change', `task "${ti.taskId}" is ${ti.state} and cannot end removed. Try again.`);
    steps.push(back.step);
    state = 'none';
  }
  const removed = transition({ state, tryNumber: ti.tryNumber }, 'removed', undefined, reason);
  if (removed.verdict !== 'apply') throw new ConflictError('concurrent_change', `task "${ti.taskId}" cannot end removed. Try again.`);
  steps.push(removed.step);
  return {
    before: ti,
    after: { ...ti, state: 'removed', reason, queuedAt: null, nextRetryAt: null, endedAt: now },
    steps,
  };
}

import { Inject, Injectable } from '@nestjs/common';
import { planCancel, type TiState } from '@swarmflow/core';
import type { ControlSender } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import { CONTROL, CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError, NoBrokerError } from './api-errors';
import { requireRun } from './lookups';
import { applyUserChanges, stopTries, type StoppedTry } from './user-changes';

export interface CancelRunResult {
  /** The run's reason: `cancelled by <user>`. */
  reason: string;
  changes: { taskId: string; from: TiState; to: TiState; tryNumber: number }[];
  stopped: StoppedTry[];
}

/**
 * Cancels a run (Airflow's "mark run failed"): running tries end `failed` and their
 * workers stop them; what had not started (`none`, `scheduled`, `queued`, `up_for_retry`)
 * ends `skipped`, and every worker is told to drop a queued try; finished instances keep
 * their state. The run ends `failed` with the reason `cancelled by <user>`, in the same
 * transaction (run row locked, compare-and-set on each instance).
 */
@Injectable()
export class CancelRunService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CONTROL) private readonly control: ControlSender | null,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @throws NotFoundError, ConflictError `run_ended` or `concurrent_change`, NoBrokerError (a try to stop, no broker) */
  async cancel(dagId: string, runId: string, actor: string): Promise<CancelRunResult> {
    const now = this.clock();
    const reason = `cancelled by ${actor}`;
    const result = await this.repos.db.transaction(async (tx) => {
      const found = await requireRun(this.repos, dagId, runId, tx);
      const [run] = await this.repos.runs.lock([found.pk], tx);
      if (run.state === 'success' || run.state === 'failed') {
        throw new ConflictError('run_ended', `run "${runId}" of DAG "${dagId}" already ended ${run.state}${run.reason ? ` (${run.reason})` : ''}: there is nothing to cancel.`);
      }
      const dag = await this.repos.dags.version(dagId, run.versionHash, tx);
      const tis = await this.repos.tis.forRuns([run.pk], tx);
      const changes = planCancel(dag, tis, `run ${reason}`);
      if (changes.some((c) => c.stopsTry)) {
        if (!this.control) throw new NoBrokerError();
        this.control.assertCanSign('task.cancel');
      }
      const stopped = await applyUserChanges(this.repos, runId, tis, changes, now, tx);
      await this.repos.runs.setState(run.pk, 'failed', now, tx, reason);
      if (tis.length > 0) await this.repos.runs.bumpTiSeq([run.pk], tx);
      return { reason, changes: changes.map((c) => ({ taskId: c.taskId, from: c.from, to: c.to, tryNumber: c.tryNumber })), stopped };
    });
    if (result.stopped.length > 0) await stopTries(this.control!, result.stopped);
    this.onChange();
    return result;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { TI_KILLABLE, transition, type ControlMessage } from '@swarmflow/core';
import type { ControlSender } from '@swarmflow/messaging';
import type { Repositories, TaskInstance } from '@swarmflow/persistence';
import { CONTROL, CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError, NoBrokerError } from './api-errors';
import { requireRun, requireTaskInstance } from './lookups';

export interface KillResult {
  tryNumber: number;
  /** Who was told: the worker running it, every worker while it was queued, or nobody (it waited for a retry). */
  sentTo: string;
  /** The try ended `failed` at once (queued, or waiting for a retry); otherwise its worker reports its end. */
  ended: boolean;
}

/**
 * Stops a task try wherever it is. A running try: a `task.cancel` control message to its
 * worker, which stops the process or container (grace period, then kill) and reports the
 * try failed, not retryable. A queued try ends `failed` at once, and every worker is told
 * to drop its message (a worker that starts it anyway is told to stop by the scheduler).
 * A try waiting for its retry delay ends `failed` at once. The run is then re-evaluated.
 */
@Injectable()
export class KillService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CONTROL) private readonly control: ControlSender | null,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @throws NotFoundError, ConflictError `task_not_running` or `concurrent_change`, NoBrokerError, NoControlKeyError */
  async kill(dagId: string, runId: string, taskId: string): Promise<KillResult> {
    const run = await requireRun(this.repos, dagId, runId);
    const ti = requireTaskInstance(run, await this.repos.tis.forRuns([run.pk]), taskId);
    if (!TI_KILLABLE.has(ti.state)) {
      throw new ConflictError('task_not_running', `${dagId}.${taskId} in run ${runId} is ${ti.state}, not running, queued or waiting for a retry: there is nothing to kill`);
    }
    if (ti.state !== 'up_for_retry') {
      if (!this.control) throw new NoBrokerError();
      this.control.assertCanSign('task.cancel');
    }
    if (ti.state === 'running' && ti.worker) {
      await this.control!.send(`worker.${ti.worker}`, { type: 'task.cancel', tiId: ti.id, tryNumber: ti.tryNumber } satisfies ControlMessage);
      return { tryNumber: ti.tryNumber, sentTo: ti.worker, ended: false };
    }
    await this.failNow(ti, run.pk, runId);
    if (ti.state === 'up_for_retry') return { tryNumber: ti.tryNumber, sentTo: 'nobody', ended: true };
    await this.control!.send('worker.all', { type: 'task.cancel', tiId: ti.id, tryNumber: ti.tryNumber } satisfies ControlMessage);
    return { tryNumber: ti.tryNumber, sentTo: 'all workers', ended: true };
  }

  /** Ends a try no worker runs `failed` (compare-and-set), and has the run evaluated. */
  private async failNow(ti: TaskInstance, runPk: number, runId: string): Promise<void> {
    const reason = ti.state === 'queued' ? 'killed by a user before a worker started it' : 'killed by a user while it waited for its retry';
    const killed = transition(ti, 'failed', undefined, reason);
    if (killed.verdict !== 'apply') {
      throw new ConflictError('task_not_running', `${ti.taskId} in run "${runId}" is ${ti.state}: there is nothing to kill`);
    }
    const now = this.clock();
    await this.repos.db.transaction(async (tx) => {
      await this.repos.runs.lock([runPk], tx);
      const applied = await this.repos.tis.applyTransitions([{
        before: ti, after: { ...ti, state: 'failed', reason, endedAt: now, nextRetryAt: null }, steps: [killed.step],
      }], now, tx);
      if (applied.size !== 1) {
        throw new ConflictError('concurrent_change', `${ti.taskId} in run "${runId}" changed while it was being killed (a worker may have started it). Try again.`);
      }
      await this.repos.runs.markNeedsEval(runPk, tx);
    });
    this.onChange();
  }
}

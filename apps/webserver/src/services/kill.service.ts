import { Inject, Injectable } from '@nestjs/common';
import type { ControlMessage } from '@swarmflow/core';
import { EXCHANGES, type Broker } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import { BROKER, REPOSITORIES } from '../tokens';
import { ConflictError, NoBrokerError } from './api-errors';
import { requireRun, requireTaskInstance } from './lookups';

export interface KillResult {
  tryNumber: number;
  /** Who was told: the worker running it, or every worker when it is still queued. */
  sentTo: string;
}

/**
 * Stops a task try wherever it runs: a `task.cancel` control message to the worker running
 * it, or to every worker while it is queued (the one that receives it drops it). The worker
 * stops the process or container (grace period, then kill) and reports the try failed,
 * not retryable; the scheduler records that as any other end.
 */
@Injectable()
export class KillService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(BROKER) private readonly broker: Broker | null,
  ) {}

  /** @throws NotFoundError, ConflictError `task_not_running`, NoBrokerError */
  async kill(dagId: string, runId: string, taskId: string): Promise<KillResult> {
    const run = await requireRun(this.repos, dagId, runId);
    const ti = requireTaskInstance(run, await this.repos.tis.forRuns([run.pk]), taskId);
    if (ti.state !== 'running' && ti.state !== 'queued') {
      throw new ConflictError('task_not_running', `${dagId}.${taskId} in run ${runId} is ${ti.state}, not running or queued: there is nothing to kill`);
    }
    if (!this.broker) throw new NoBrokerError();
    const sentTo = ti.state === 'running' && ti.worker ? `worker.${ti.worker}` : 'worker.all';
    const command: ControlMessage = { type: 'task.cancel', tiId: ti.id, tryNumber: ti.tryNumber };
    await this.broker.publish(EXCHANGES.control, sentTo, command);
    return { tryNumber: ti.tryNumber, sentTo: sentTo === 'worker.all' ? 'all workers' : ti.worker! };
  }
}

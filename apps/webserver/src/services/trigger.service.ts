import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { checkManualLogicalDate, resolveParams } from '@swarmflow/core';
import { DuplicateLogicalDateError, DuplicateRunError, Repositories, type DagRun } from '@swarmflow/persistence';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError } from './api-errors';
import { requireDag } from './lookups';

export interface TriggerRequest {
  /** The trigger's conf: validated against the DAG's params (undefined = `{}`). */
  conf?: unknown;
  /** Defaults to `manual__<logical date ISO>`. */
  runId?: string;
  /** Defaults to now (the first millisecond from now at which the DAG has no run). */
  logicalDate?: Date;
  /** Tasks matching this pattern run although cached tries exist ('.*': all); default none. */
  cacheForce?: string | null;
}

/**
 * Tries of a trigger that chose no logical date (or no run id): each one after the date
 * it tried went to another trigger of the same millisecond.
 */
const ATTEMPTS = 10;

/** Manual triggers: creates a `queued` run that the scheduler starts on its next iteration. */
@Injectable()
export class TriggerService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Creates a manual run of the DAG's latest version. Paused DAGs may be triggered (as in
   * Airflow); a DAG whose file no longer defines it may not. A DAG has one run per logical
   * date: a date the caller chose must be free; without one the run takes the first free
   * millisecond from now.
   * @throws NotFoundError, ConflictError (inactive DAG), ParamValidationError (bad conf),
   *   LogicalDateInFutureError (the given logical date is later than now),
   *   DuplicateRunError (the given run id is taken), DuplicateLogicalDateError (the given
   *   logical date has a run)
   */
  async trigger(dagId: string, request: TriggerRequest): Promise<DagRun> {
    const now = this.clock();
    if (request.logicalDate !== undefined) checkManualLogicalDate(request.logicalDate, now);
    const dag = await requireDag(this.repos, dagId);
    if (!dag.isActive) {
      throw new ConflictError('dag_inactive', `DAG "${dagId}" is no longer defined by any DAG file (last seen in ${dag.fileloc}), so it cannot be triggered. Restore its definition, or check \`swarmflow dags errors\`.`);
    }
    const version = await this.repos.dags.version(dagId, dag.latestVersion);
    const params = resolveParams(version.params, request.conf);
    const conf = (request.conf ?? {}) as Record<string, unknown>;
    const base = { dagId, versionHash: dag.latestVersion, runType: 'manual' as const, conf, params, cacheForce: request.cacheForce ?? null };

    let logicalDate = request.logicalDate ?? now;
    let suffix = '';
    for (let attempt = 1; ; attempt++) {
      const runId = request.runId ?? `manual__${logicalDate.toISOString()}${suffix}`;
      try {
        const run = await this.repos.runs.create({ ...base, runId, logicalDate });
        this.onChange();
        return run;
      } catch (err) {
        const generatedId = err instanceof DuplicateRunError && request.runId === undefined;
        if (attempt >= ATTEMPTS || !(generatedId || err instanceof DuplicateLogicalDateError)) throw err;
        if (request.logicalDate === undefined) {
          // "Now" was taken (triggers in one millisecond; the one that took it also holds
          // the generated id): the first free millisecond after it is as good.
          const free = await this.repos.runs.nextFreeLogicalDate(dagId, logicalDate);
          // (Free again already: the run that held it was deleted meanwhile.)
          if (free.getTime() !== logicalDate.getTime() || err instanceof DuplicateLogicalDateError) {
            logicalDate = free;
            suffix = '';
            continue;
          }
        }
        if (!generatedId) throw err;
        // The generated id was chosen by hand for a run of another date.
        suffix = `_${randomBytes(3).toString('hex')}`;
      }
    }
  }
}

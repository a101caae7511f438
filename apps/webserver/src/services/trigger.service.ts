import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { resolveParams } from '@swarmflow/core';
import { DuplicateRunError, Repositories, type DagRun, type NewDagRun } from '@swarmflow/persistence';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { ConflictError } from './api-errors';
import { requireDag } from './lookups';

export interface TriggerRequest {
  /** The trigger's conf: validated against the DAG's params (undefined = `{}`). */
  conf?: unknown;
  /** Defaults to `manual__<logical date ISO>`. */
  runId?: string;
  /** Defaults to now. */
  logicalDate?: Date;
}

/** Generated ids collide only when two triggers share a logical date; a few suffixes are plenty. */
const GENERATED_ID_ATTEMPTS = 5;

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
   * Airflow); a DAG whose file no longer defines it may not.
   * @throws NotFoundError, ConflictError (inactive DAG), ParamValidationError (bad conf),
   *   DuplicateRunError (the given run id is taken)
   */
  async trigger(dagId: string, request: TriggerRequest): Promise<DagRun> {
    const dag = await requireDag(this.repos, dagId);
    if (!dag.isActive) {
      throw new ConflictError('dag_inactive', `DAG "${dagId}" is no longer defined by any DAG file (last seen in ${dag.fileloc}), so it cannot be triggered. Restore its definition, or check \`swarmflow dags errors\`.`);
    }
    const version = await this.repos.dags.version(dagId, dag.latestVersion);
    const params = resolveParams(version.params, request.conf);
    const conf = (request.conf ?? {}) as Record<string, unknown>;
    const logicalDate = request.logicalDate ?? this.clock();
    const base = { dagId, versionHash: dag.latestVersion, runType: 'manual' as const, logicalDate, conf, params };

    let run: DagRun;
    if (request.runId !== undefined) {
      run = await this.repos.runs.create({ ...base, runId: request.runId });
    } else {
      run = await this.createWithGeneratedId(base, `manual__${logicalDate.toISOString()}`);
    }
    this.onChange();
    return run;
  }

  private async createWithGeneratedId(base: Omit<NewDagRun, 'runId'>, id: string): Promise<DagRun> {
    for (let attempt = 0; ; attempt++) {
      const runId = attempt === 0 ? id : `${id}_${randomBytes(3).toString('hex')}`;
      try {
        return await this.repos.runs.create({ ...base, runId });
      } catch (err) {
        if (!(err instanceof DuplicateRunError) || attempt + 1 >= GENERATED_ID_ATTEMPTS) throw err;
      }
    }
  }
}

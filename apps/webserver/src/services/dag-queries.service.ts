import { Inject, Injectable } from '@nestjs/common';
import { nextRunAfter, type SerializedDag } from '@swarmflow/core';
import { Repositories, type DagRecord, type DagRun, type ImportError } from '@swarmflow/persistence';
import { CLOCK, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from '../tokens';
import { NotFoundError } from './api-errors';
import { requireDag } from './lookups';

/** A DAG with what the API shows next to it. */
export interface DagView {
  dag: DagRecord;
  /** The DAG's latest version. */
  version: SerializedDag;
  lastRun: DagRun | null;
  /** The newest runs, newest first (at most {@link RECENT_RUNS}): the DAG list's last runs at a glance. */
  recentRuns: DagRun[];
  nextRun: Date | null;
  /** The import error of the DAG's file: the version shown is the last one that imported. */
  importError: ImportError | null;
}

/** Runs each DAG of the list shows. */
export const RECENT_RUNS = 5;

@Injectable()
export class DagQueriesService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ON_CHANGE) private readonly onChange: OnChange,
  ) {}

  /** Active DAGs, by id. */
  async list(): Promise<DagView[]> {
    const [dags, errors] = await Promise.all([this.repos.dags.list(), this.importErrors()]);
    const recent = await this.repos.runs.recentByDag(dags.map((d) => d.dagId), RECENT_RUNS);
    return Promise.all(dags.map((dag) => this.view(dag, errors, recent.get(dag.dagId) ?? [])));
  }

  /** @throws NotFoundError */
  async get(dagId: string): Promise<DagView> {
    return this.viewOne(await requireDag(this.repos, dagId));
  }

  /** The DAG as of one of its versions (the one a run is pinned to). @throws NotFoundError */
  async atVersion(dagId: string, versionHash: string): Promise<DagView> {
    const view = await this.get(dagId);
    const version = await this.repos.dags.findVersion(dagId, versionHash);
    if (!version) {
      throw new NotFoundError('version_not_found', `DAG "${dagId}" has no version "${versionHash}". A run's version is its \`versionHash\` (\`swarmflow runs show\`); the latest is the DAG's \`latestVersion\`.`);
    }
    return { ...view, version };
  }

  /** @throws NotFoundError */
  async setPaused(dagId: string, paused: boolean): Promise<DagView> {
    const dag = await this.repos.dags.setPaused(dagId, paused);
    // Unpausing releases held tasks: an in-process scheduler queues them now, not at its next tick.
    if (dag) this.onChange();
    return this.viewOne(dag ?? (await requireDag(this.repos, dagId)));
  }

  private async importErrors(): Promise<Map<string, ImportError>> {
    return new Map((await this.repos.dags.importErrors()).map((e) => [e.fileloc, e]));
  }

  private async viewOne(dag: DagRecord): Promise<DagView> {
    const [errors, recent] = await Promise.all([this.importErrors(), this.repos.runs.recentByDag([dag.dagId], RECENT_RUNS)]);
    return this.view(dag, errors, recent.get(dag.dagId) ?? []);
  }

  private async view(dag: DagRecord, errors: ReadonlyMap<string, ImportError>, recentRuns: DagRun[]): Promise<DagView> {
    const version = await this.repos.dags.version(dag.dagId, dag.latestVersion);
    const now = this.clock();
    const nextRun = dag.isPaused || !dag.isActive ? null : nextRunAfter(dag.schedule, now, version.startDate === null ? null : new Date(version.startDate));
    return { dag, version, lastRun: recentRuns[0] ?? null, recentRuns, nextRun, importError: errors.get(dag.fileloc) ?? null };
  }
}

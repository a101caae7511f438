import { Inject, Injectable } from '@nestjs/common';
import { unservedQueueReason, type DagRunState, type TiState } from '@swarmflow/core';
import { Repositories, type DagRun, type LogLine, type TaskContainerRow, type TaskInstance, type TaskResult, type TiHistoryRow } from '@swarmflow/persistence';
import { REPOSITORIES } from '../tokens';
import { NotFoundError } from './api-errors';
import { ARCHIVED_CURSOR, LogArchive } from './log-archive.service';
import { requireDag, requireRun, requireTaskInstance } from './lookups';

export interface TaskInstanceView {
  run: DagRun;
  ti: TaskInstance;
  history: TiHistoryRow[];
}

export interface TaskLogs {
  tryNumber: number;
  lines: LogLine[];
  cursor: number;
  finished: boolean;
  /** The lines came from the try's archived log (its database rows were pruned): the object's URL. */
  archivedUrl?: string;
}

/** States in which the current try may still write log lines. */
const WRITING = new Set<TiState>(['queued', 'running']);
/** States after which no further try comes unless a user clears the task. */
const DONE = new Set<TiState>(['success', 'failed', 'skipped', 'upstream_failed', 'removed', 'cached']);

@Injectable()
export class RunQueriesService {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories, private readonly archive: LogArchive) {}

  /** Newest first. @throws NotFoundError when `dagId` is given and does not exist */
  async list(filter: { dagId?: string; state?: DagRunState; q?: string; limit: number }, requireDagExists = false): Promise<DagRun[]> {
    if (requireDagExists && filter.dagId !== undefined) await requireDag(this.repos, filter.dagId);
    return this.repos.runs.list(filter);
  }

  /** @throws NotFoundError */
  async get(dagId: string, runId: string): Promise<{ run: DagRun; tis: TaskInstance[] }> {
    const run = await requireRun(this.repos, dagId, runId);
    return { run, tis: await this.withWaitReasons(await this.repos.tis.forRuns([run.pk])) };
  }

  /**
   * A queued try whose queue no live worker serves shows why it waits as its reason
   * ("no worker serves queue gpu …"), from the workers' recorded heartbeats; the stored
   * reason otherwise.
   */
  private async withWaitReasons(tis: TaskInstance[]): Promise<TaskInstance[]> {
    if (!tis.some((t) => t.state === 'queued')) return tis;
    const workers = await this.repos.workers.list();
    return tis.map((t) => {
      const why = t.state === 'queued' ? unservedQueueReason(t.queue, workers) : null;
      return why === null ? t : { ...t, reason: why };
    });
  }

  /** The newest `limit` runs of a DAG with their task instances (the UI's grid), newest first. @throws NotFoundError */
  async grid(dagId: string, limit: number): Promise<{ run: DagRun; tis: TaskInstance[] }[]> {
    await requireDag(this.repos, dagId);
    const runs = await this.repos.runs.list({ dagId, limit });
    const tis = runs.length ? await this.repos.tis.forRuns(runs.map((r) => r.pk)) : [];
    const byRun = new Map<number, TaskInstance[]>(runs.map((r) => [r.pk, []]));
    for (const ti of tis) byRun.get(ti.runPk)?.push(ti);
    return runs.map((run) => ({ run, tis: byRun.get(run.pk) ?? [] }));
  }

  /** The run with its task instances and every try's stored result (outputs, image digests, cache keys). @throws NotFoundError */
  async getWithResults(dagId: string, runId: string): Promise<{ run: DagRun; tis: TaskInstance[]; results: TaskResult[] }> {
    const { run, tis } = await this.get(dagId, runId);
    return { run, tis, results: await this.repos.results.forRun(run.pk) };
  }

  /** A task instance's stored results, newest try first. */
  async results(tiId: number): Promise<TaskResult[]> {
    return this.repos.results.forTaskInstance(tiId);
  }

  /** The containers of a task instance's container tries, as reported when they started; newest try first. */
  async containers(tiId: number): Promise<TaskContainerRow[]> {
    return this.repos.containers.forTaskInstance(tiId);
  }

  /** @throws NotFoundError */
  async taskInstance(dagId: string, runId: string, taskId: string): Promise<TaskInstanceView> {
    const { run, tis } = await this.get(dagId, runId);
    const ti = requireTaskInstance(run, tis, taskId);
    return { run, ti, history: await this.repos.tis.history(ti.id) };
  }

  /**
   * Log lines of one try after `cursor` (default try: the current one). `finished` says
   * that no more lines will come for that try: it is over, or (for a try not started yet)
   * the task instance has finished and will not start it.
   * @throws NotFoundError
   */
  async logs(dagId: string, runId: string, taskId: string, tryNumber: number | undefined, cursor: number): Promise<TaskLogs> {
    const { ti } = await this.taskInstance(dagId, runId, taskId);
    // An asked try must have run, or be the next one while the task may still run it.
    if (tryNumber !== undefined && (tryNumber > ti.tryNumber + 1 || (tryNumber > ti.tryNumber && DONE.has(ti.state)))) {
      throw new NotFoundError('try_not_found', `${taskId} in run ${runId} has had ${ti.tryNumber} ${ti.tryNumber === 1 ? 'try' : 'tries'}` +
        `${DONE.has(ti.state) ? ` and is ${ti.state}` : ''}: try ${tryNumber} does not exist. Ask for one of 1 to ${Math.max(ti.tryNumber, 1)}.`);
    }
    const wanted = tryNumber ?? Math.max(ti.tryNumber, 1);
    if (cursor === 0) {
      // Rows pruned by SWARMFLOW_LOG_RETENTION: the whole log from its archive, with any
      // batch stored after the prune (a late one) merged in.
      const archived = await this.archive.readArchived(ti.id, wanted);
      if (archived) return { tryNumber: wanted, lines: archived.lines, cursor: ARCHIVED_CURSOR, finished: true, archivedUrl: archived.url };
    }
    const read = await this.repos.logs.read(ti.id, wanted, cursor);
    return { tryNumber: wanted, lines: read.lines, cursor: read.cursor, finished: tryFinished(ti, wanted) };
  }
}

export function tryFinished(ti: Pick<TaskInstance, 'state' | 'tryNumber'>, tryNumber: number): boolean {
  if (tryNumber < ti.tryNumber) return true;
  if (tryNumber === ti.tryNumber) return !WRITING.has(ti.state);
  // A later try comes while the instance waits (none, scheduled, up_for_retry), not once it is done.
  return DONE.has(ti.state);
}

import { outputTasksRead, versionSetOf, type TaskSpec, type UpstreamResult } from '@swarmflow/core';
import type { Queryable, Repositories, TaskResult, TaskResultRow } from '@swarmflow/persistence';
import type { CachedSource, RunResultsView } from './task-message.builder';

const needs = new WeakMap<TaskSpec, boolean>();

const caching = new WeakMap<object, boolean>();

/**
 * Whether building the task's message (or deciding it is cached) needs its run's stored
 * results: it is cacheable, reads `outputs`, or runs a container (whose image may be pinned
 * by the run's version set); or, with an artefacts store (`withArtifacts`), its DAG has a
 * cacheable task, whose artefacts may live under another run's prefix (see
 * `TaskArtifacts.cached`). Other tasks cost no read: caching off costs nothing.
 */
export function needsRunResults(task: TaskSpec, dag?: { tasks: readonly TaskSpec[] }, withArtifacts = false): boolean {
  if (withArtifacts && dag) {
    let c = caching.get(dag);
    if (c === undefined) caching.set(dag, (c = dag.tasks.some((t) => t.cache === true)));
    if (c) return true;
  }
  let v = needs.get(task);
  if (v === undefined) {
    const texts = [...(typeof task.command === 'string' ? [task.command] : task.command), ...Object.values(task.env)];
    if (task.docker) texts.push(task.docker.image, ...(task.docker.entrypoint ?? []));
    v = task.cache === true || task.kind === 'docker' || texts.some((t) => outputTasksRead(t).length > 0);
    needs.set(task, v);
  }
  return v;
}

/** A stored or just-decided result, by the task it belongs to. */
export interface KnownResult extends TaskResultRow {
  taskId: string;
  imagePinned: boolean;
  createdAt: Date;
  /** A cached one's source try, named. */
  cachedFromRef?: { dagId: string; runId: string; taskId: string } | null;
}

/**
 * The latest results of runs' task instances: read once per iteration for the runs that
 * need them, with the results this iteration decided (ends applied, cached tasks) on top.
 */
export class RunResults {
  private readonly byRun = new Map<number, Map<string, KnownResult>>();
  /** Results this iteration decided for runs not read yet: laid over what is read. */
  private readonly pending = new Map<number, KnownResult[]>();

  constructor(private readonly repos: Repositories) {}

  /** Reads the runs not read yet (a read in the from-memory path gives it up, as any read does). */
  async load(runPks: Iterable<number>, q: Queryable): Promise<void> {
    const missing = [...new Set(runPks)].filter((pk) => !this.byRun.has(pk));
    if (missing.length === 0) return;
    for (const pk of missing) this.byRun.set(pk, new Map());
    for (const r of await this.repos.results.latestForRuns(missing, q)) this.put(r.runPk, r);
    for (const pk of missing) for (const r of this.pending.get(pk) ?? []) this.put(pk, r);
  }

  /** A result this iteration writes (it counts from now on, as if stored). */
  put(runPk: number, r: KnownResult | TaskResult): void {
    const run = this.byRun.get(runPk);
    if (!run) {
      const list = this.pending.get(runPk);
      if (list) list.push(r);
      else this.pending.set(runPk, [r]);
      return;
    }
    const seen = run.get(r.taskId);
    if (!seen || seen.tryNumber <= r.tryNumber) run.set(r.taskId, r);
  }

  /** The latest result of a task of a loaded run. */
  of(runPk: number, taskId: string): KnownResult | undefined {
    return this.byRun.get(runPk)?.get(taskId);
  }

  /** What the messages and cache keys of the run's tasks need. */
  view(runPk: number): RunResultsView {
    const run = this.byRun.get(runPk) ?? new Map<string, KnownResult>();
    const outputs: Record<string, Record<string, unknown>> = {};
    const upstream = new Map<string, UpstreamResult>();
    const cached = new Map<string, CachedSource>();
    for (const [taskId, r] of run) {
      if (r.outputs) outputs[taskId] = r.outputs;
      upstream.set(taskId, { cacheKey: r.cacheKey, outputs: r.outputs });
      if (r.cachedFromTry !== null && r.cachedFromTi !== null && r.cachedFromRef) cached.set(taskId, { ...r.cachedFromRef, tiId: r.cachedFromTi, tryNumber: r.cachedFromTry });
    }
    return { outputs, upstream, images: versionSetOf([...run.values()], true), cached };
  }
}

import { cacheForceMatcher, type CacheForceMatcher, type SerializedDag } from '@swarmflow/core';
import type { DagRun, Queryable, Repositories } from '@swarmflow/persistence';

/** What does not change in a run once it exists: its pinned DAG version and its inputs. */
export interface RunFacts {
  run: DagRun;
  dag: SerializedDag;
}

/**
 * Run facts by run key. A run's logical date, params and conf never change, so they are
 * cached (bounded); its state is always read fresh from the database. Its version changes
 * only by `runs upgrade`, which raises the scheduler epoch and flags the run for
 * evaluation: the run is then locked and read afresh, and {@link refresh} drops the facts.
 */
export class RunCache {
  private readonly facts = new Map<number, RunFacts>();
  /** Each run's force pattern, compiled once (by its facts: dropped with them). */
  private readonly forced = new WeakMap<RunFacts, CacheForceMatcher>();

  constructor(private readonly repos: Repositories, private readonly max = 10_000) {}

  /** Drops the run's facts when `run` (read afresh) is at another version than the cached one. */
  refresh(run: DagRun): void {
    const f = this.facts.get(run.pk);
    if (f && f.run.versionHash !== run.versionHash) this.facts.delete(run.pk);
  }

  /** Drops the run's facts (they named a task its current version may have: read again). */
  forget(pk: number): void {
    this.facts.delete(pk);
  }

  /** Whether the run forces this task past the cache (`--force`, `--force-task`); the pattern is compiled at the run's first ask. */
  cacheForced(f: RunFacts, taskId: string): boolean {
    let matcher = this.forced.get(f);
    if (!matcher) {
      matcher = cacheForceMatcher(f.run.cacheForce);
      this.forced.set(f, matcher);
    }
    return matcher(taskId);
  }

  async get(pks: Iterable<number>, q: Queryable): Promise<Map<number, RunFacts>> {
    const wanted = [...new Set(pks)];
    const missing = wanted.filter((pk) => !this.facts.has(pk));
    if (missing.length > 0) {
      for (const run of await this.repos.runs.byPks(missing, q)) {
        const dag = await this.repos.dags.version(run.dagId, run.versionHash, q);
        if (this.facts.size >= this.max) this.facts.delete(this.facts.keys().next().value as number);
        this.facts.set(run.pk, { run, dag });
      }
    }
    const out = new Map<number, RunFacts>();
    for (const pk of wanted) {
      const f = this.facts.get(pk);
      if (f) out.set(pk, f);
    }
    return out;
  }
}

import type { OutcomeCursor } from '@swarmflow/core';
import type { RunTaskState, TiTransition } from '@swarmflow/persistence';

/** A run's task states, by task id. */
export interface RunStates {
  tis: RunTaskState[];
  byTask: ReadonlyMap<string, RunTaskState>;
  /** Where the last evaluation found an unfinished task (`runOutcome`): kept while the states are. */
  outcomeCursor: OutcomeCursor;
}

interface Entry extends RunStates {
  /** The run's `ti_seq` these states match. */
  seq: number;
  byId: Map<number, RunTaskState>;
}

/**
 * The task states of running runs, as this scheduler last read or wrote them, keyed by
 * the run's `ti_seq`. Evaluating a run needs the state of every one of its task
 * instances; reading 2,000 rows for each finished task of a wide run is what this saves.
 *
 * Why it stays correct: every write that can change how a run evaluates (task instances
 * created, decided by evaluation, ended, cleared) raises the run's `ti_seq` under the
 * run's lock, and the lock query leaves out the rows only when the counter equals the
 * cached one. Writes that do not raise it (a try started, dispatched, a retry promoted)
 * move a task between unfinished states, which evaluation does not tell apart; this
 * scheduler's own such writes are still applied here, after their commit.
 */
export class RunStateCache {
  private readonly runs = new Map<number, Entry>();

  constructor(private readonly max = 1000) {}

  /** Run key → cached `ti_seq`, for the runs among `pks` that are cached. */
  seqs(pks: Iterable<number>): Map<number, number> {
    const out = new Map<number, number>();
    for (const pk of pks) {
      const e = this.runs.get(pk);
      if (e) out.set(pk, e.seq);
    }
    return out;
  }

  /** The cached states of a run at `seq`; undefined when not cached at that counter. */
  get(pk: number, seq: number): RunStates | undefined {
    const e = this.runs.get(pk);
    return e && e.seq === seq ? e : undefined;
  }

  /** States just read under the run's lock: the database's, whatever the iteration does next. */
  put(pk: number, seq: number, tis: RunTaskState[]): RunStates {
    this.runs.delete(pk);
    if (this.runs.size >= this.max) this.runs.delete(this.runs.keys().next().value as number);
    const entry = { seq, tis, byId: new Map(tis.map((t) => [t.id, t])), byTask: byTask(tis), outcomeCursor: { index: 0 } };
    this.runs.set(pk, entry);
    return entry;
  }

  /**
   * What a committed iteration wrote: its transitions, and the runs whose counter it raised
   * by one (each of them held locked since its counter was read).
   */
  committed(transitions: readonly TiTransition[], bumped: readonly number[]): void {
    for (const pk of bumped) {
      const e = this.runs.get(pk);
      if (e) e.seq += 1;
    }
    for (const t of transitions) {
      const cached = this.runs.get(t.after.runPk)?.byId.get(t.before.id);
      if (!cached) continue;
      cached.state = t.after.state;
      cached.tryNumber = t.after.tryNumber;
      cached.maxTries = t.after.maxTries;
    }
  }

  /** A run that ended is never evaluated again (a clear raises its counter first). */
  forget(pk: number): void {
    this.runs.delete(pk);
  }

  /** After a failed iteration: no guess about what the database holds. */
  clear(): void {
    this.runs.clear();
  }

  get size(): number {
    return this.runs.size;
  }
}

/** Task states by task id. */
export function byTask(tis: RunTaskState[]): Map<string, RunTaskState> {
  return new Map(tis.map((t) => [t.taskId, t]));
}

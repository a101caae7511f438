import { TI_BUSY } from '@swarmflow/core';
import type { DispatchView, TaskInstance, TiTransition } from '@swarmflow/persistence';


/**
 * What this scheduler knows of the task instances dispatch counts and events name:
 * queued + running slots per pool and per DAG, every `scheduled` candidate, and the rows
 * of queued and running instances it wrote. Exact while `scheduler_epoch` is `epoch`:
 * only scheduling iterations change those states (a clear only moves finished ones back
 * to `none`), and each of them raises the epoch. Built from a dispatch view read under
 * the scheduling lock, then kept by applying each committed iteration's transitions.
 */
export class KnownWork {
  private constructor(
    public epoch: number,
    private readonly poolSlots: Map<string, number>,
    private readonly perDag: Map<string, number>,
    /** Paused DAGs as the view had them: pausing raises the epoch, so this stays exact too. */
    private readonly paused: ReadonlySet<string>,
    private readonly candidates: Map<number, TaskInstance>,
    /** Every scheduled instance is among `candidates` (the view was not cut at its limit). */
    readonly complete: boolean,
    private readonly rows: Map<number, TaskInstance>,
  ) {}

  /**
   * @param view read under the scheduling lock, before this iteration's writes
   * @param limit the view's candidate limit: a view that reached it may have left some out
   * @param rows rows of queued/running instances still known from before (same epoch)
   */
  static fromView(view: DispatchView, limit: number, epoch: number, rows: Map<number, TaskInstance> = new Map()): KnownWork {
    return new KnownWork(
      epoch, new Map(view.poolSlots), new Map(view.perDag), new Set(view.paused), new Map(view.candidates.map((c) => [c.id, c])),
      view.candidates.length < limit, rows,
    );
  }

  /** The row of a queued or running instance, as last written by this scheduler. */
  row(id: number): TaskInstance | undefined {
    return this.rows.get(id);
  }

  /** Everything known of queued/running rows, to carry over into a view-built successor. */
  knownRows(): Map<number, TaskInstance> {
    return this.rows;
  }

  /** A dispatch view (copies: dispatch counts its decisions into it) of what is known. */
  view(): DispatchView {
    const candidates = [...this.candidates.values()].sort((a, b) => b.priority - a.priority || a.id - b.id);
    return { candidates, poolSlots: new Map(this.poolSlots), perDag: new Map(this.perDag), paused: new Set(this.paused) };
  }

  /** A committed iteration's transitions (`before` = the row as the database had it). */
  apply(transitions: readonly TiTransition[]): void {
    for (const { before, after } of transitions) {
      if (TI_BUSY.has(before.state)) {
        add(this.poolSlots, before.pool, -before.poolSlots);
        add(this.perDag, before.dagId, -1);
      }
      if (TI_BUSY.has(after.state)) {
        add(this.poolSlots, after.pool, after.poolSlots);
        add(this.perDag, after.dagId, 1);
        this.rows.set(after.id, after);
      } else {
        this.rows.delete(after.id);
      }
      if (before.state === 'scheduled') this.candidates.delete(before.id);
      if (after.state === 'scheduled') this.candidates.set(after.id, after);
    }
  }
}

function add(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n === 0) counts.delete(key);
  else counts.set(key, n);
}

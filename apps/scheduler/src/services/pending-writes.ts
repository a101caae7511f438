import { TI_BUSY, type TiState } from '@swarmflow/core';
import { tryFacts, type OutboxMessage, type TaskInstance, type TiTransition } from '@swarmflow/persistence';

/** Raised when a compare-and-set found a row changed by someone else; the iteration is rolled back and retried. */
export class ConcurrentUpdateError extends Error {
  /** @param what what changed when it was not task instances (a run's counter, the scheduler epoch) */
  constructor(readonly tiIds: number[], what?: string) {
    super(what ?? `task instance(s) ${tiIds.slice(0, 5).join(', ')}${tiIds.length > 5 ? ', …' : ''} changed during the iteration`);
    this.name = 'ConcurrentUpdateError';
  }
}


/**
 * The task-instance changes one iteration decides, written together at its end: one
 * compare-and-set statement instead of one per step. Later steps see earlier ones (a task
 * scheduled by run evaluation is dispatched in the same iteration); two changes of one
 * instance fold into one write whose history keeps both steps.
 */
export class PendingWrites {
  private readonly byId = new Map<number, TiTransition>();
  private readonly messages = new Map<number, OutboxMessage>();
  /** Runs to evaluate again in a later iteration (a try failed at dispatch, after this one's evaluation). */
  readonly reEvaluate = new Set<number>();

  add(t: TiTransition, message?: OutboxMessage): void {
    const prev = this.byId.get(t.before.id);
    // The earlier write's steps keep what the try ran on and exited with as that write left
    // them: the later one may end the try or start the next (whose dispatch clears them).
    const earlier = prev ? prev.steps.map((s) => (s.ran ? s : { ...s, ran: tryFacts(prev.after) })) : [];
    this.byId.set(t.before.id, prev ? { before: prev.before, after: t.after, steps: [...earlier, ...t.steps] } : t);
    if (message) this.messages.set(t.before.id, message);
  }

  /** The instance as this iteration has made it so far, if it changed it. */
  current(id: number): TaskInstance | undefined {
    return this.byId.get(id)?.after;
  }

  /** Instances this iteration moved to `state`. */
  inState(state: TiState): TaskInstance[] {
    return [...this.byId.values()].filter((t) => t.after.state === state).map((t) => t.after);
  }

  /** Instances this iteration took out of queued/running: their pool slots and DAG concurrency are free. */
  freed(): TaskInstance[] {
    return [...this.byId.values()].filter((t) => TI_BUSY.has(t.before.state) && !TI_BUSY.has(t.after.state)).map((t) => t.before);
  }

  transitions(): TiTransition[] {
    return [...this.byId.values()];
  }

  outbox(): ReadonlyMap<number, OutboxMessage> {
    return this.messages;
  }

  get size(): number {
    return this.byId.size;
  }
}

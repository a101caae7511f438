import { TI_FINISHED, type TiState } from '../state/states';
import { evaluateTriggerRule } from '../trigger-rules/trigger-rules';
import type { SerializedDag } from './dag.types';
import { graphOf } from './graph';

/** A decision for one task instance in state `none`. */
export interface PlannedTransition {
  taskId: string;
  to: 'scheduled' | 'skipped' | 'upstream_failed';
}

const DECISION_TO_STATE = { run: 'scheduled', skip: 'skipped', upstream_failed: 'upstream_failed' } as const;
const FINISHED = TI_FINISHED;

/** A task's state by task id; a task it does not know counts as `none`. A `ReadonlyMap` is one. */
export interface TaskStates {
  get(taskId: string): TiState | undefined;
}

/**
 * Decides every task instance of a run that is in state `none` (a task missing from
 * `states` counts as `none`) from its direct upstreams' states and its trigger rule.
 * Decisions cascade in this one call: a task planned `skipped` or `upstream_failed` is seen
 * as such by its downstream tasks (a 200-task chain of upstream_failed is decided at once).
 * One pass in topological order reaches the fixed point: a task's decision depends only on
 * its upstreams, decided before it. O(tasks + edges).
 *
 * With `changed` (the tasks whose state changed since the last call, on a run that call
 * left at its fixed point) it considers only their downstream tasks, and theirs as the
 * cascade goes: the same decisions, in the same order, in time proportional to what
 * changed instead of to the DAG's size. Every other task in `none` still waits, as its
 * upstreams are as they were.
 */
export function planRun(dag: SerializedDag, states: TaskStates, changed?: Iterable<string>): PlannedTransition[] {
  const graph = graphOf(dag);
  const effective = new Map<string, TiState>();
  const stateOf = (id: string): TiState => effective.get(id) ?? states.get(id) ?? 'none';
  const planned: PlannedTransition[] = [];
  const decide = (id: string): boolean => {
    if (stateOf(id) !== 'none') return false;
    const upstream = graph.upstream.get(id)!.map(stateOf);
    const decision = evaluateTriggerRule(graph.byId.get(id)!.triggerRule, upstream);
    if (decision === 'wait') return false;
    const to = DECISION_TO_STATE[decision];
    effective.set(id, to);
    planned.push({ taskId: id, to });
    return true;
  };
  if (changed === undefined) {
    for (const id of graph.order) decide(id);
    return planned;
  }
  // Candidates by topological position, smallest first: a decision only adds tasks after it.
  const position = positionsOf(graph);
  const queue = new MinHeap();
  const queued = new Set<number>();
  const enqueueDownstream = (id: string): void => {
    for (const down of graph.downstream.get(id) ?? []) {
      const at = position.get(down);
      if (at !== undefined && !queued.has(at)) {
        queued.add(at);
        queue.push(at);
      }
    }
  };
  for (const id of changed) enqueueDownstream(id);
  for (let at = queue.pop(); at !== undefined; at = queue.pop()) {
    const id = graph.order[at];
    if (decide(id)) enqueueDownstream(id);
  }
  return planned;
}

const positions = new WeakMap<object, Map<string, number>>();

function positionsOf(graph: { order: string[] }): Map<string, number> {
  let map = positions.get(graph);
  if (!map) positions.set(graph, (map = new Map(graph.order.map((id, i) => [id, i]))));
  return map;
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  push(value: number): void {
    const items = this.items;
    items.push(value);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= items[i]) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop(): number | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < items.length && items[l] < items[smallest]) smallest = l;
        if (r < items.length && items[r] < items[smallest]) smallest = r;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i], items[smallest]];
        i = smallest;
      }
    }
    return top;
  }
}

/** Where {@link runOutcome} last found an unfinished task; one per run, kept by the caller. */
export interface OutcomeCursor {
  /** Index into the DAG's tasks. */
  index: number;
}

/**
 * A run's state from its task instances' states: `running` while any task instance is
 * unfinished (a task missing from `states` counts as `none`); then `failed` if any leaf (a
 * task with no downstream) is `failed` or `upstream_failed`, else `success`.
 *
 * With a `cursor`, the search for an unfinished task starts where the last call found one
 * and wraps around, and the cursor moves to the one found: evaluating a wide run after
 * each finished task then costs about one lookup, not one per finished task. The answer
 * is the same with or without it.
 */
export function runOutcome(dag: SerializedDag, states: TaskStates, cursor?: OutcomeCursor): 'running' | 'success' | 'failed' {
  const tasks = dag.tasks;
  const n = tasks.length;
  const start = cursor && cursor.index > 0 && cursor.index < n ? cursor.index : 0;
  for (let k = 0; k < n; k++) {
    const i = start + k < n ? start + k : start + k - n;
    if (!FINISHED.has(states.get(tasks[i].id) ?? 'none')) {
      if (cursor) cursor.index = i;
      return 'running';
    }
  }
  const failed = graphOf(dag).leaves.some((id) => {
    const state = states.get(id);
    return state === 'failed' || state === 'upstream_failed';
  });
  return failed ? 'failed' : 'success';
}

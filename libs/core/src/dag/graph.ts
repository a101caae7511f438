import type { SerializedDag, TaskSpec } from './dag.types';
import { UnknownTaskError } from '../errors';

/** Adjacency of a DAG, computed once per DAG object. */
export interface DagGraph {
  byId: ReadonlyMap<string, TaskSpec>;
  /** Task ids in a topological order (every task after its upstreams), stable w.r.t. input order. */
  order: string[];
  upstream: ReadonlyMap<string, readonly string[]>;
  downstream: ReadonlyMap<string, readonly string[]>;
  /** Tasks with no downstream: they decide the run's outcome. */
  leaves: string[];
}

// Keyed by the DAG object: a dag_version is immutable once stored, so its graph is too.
const graphs = new WeakMap<SerializedDag, DagGraph>();

/**
 * Upstream/downstream adjacency and a topological order of a validated DAG, memoized per
 * DAG object (O(tasks + edges) once). Upstream ids that are not tasks are ignored; the DAG is
 * assumed acyclic (validateDag guarantees it), a cycle's tasks are left out of `order`.
 */
export function graphOf(dag: SerializedDag): DagGraph {
  let graph = graphs.get(dag);
  if (graph) return graph;
  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>();
  for (const task of dag.tasks) {
    upstream.set(task.id, []);
    downstream.set(task.id, []);
  }
  for (const task of dag.tasks) {
    for (const up of new Set(task.upstream)) {
      if (!downstream.has(up)) continue;
      upstream.get(task.id)!.push(up);
      downstream.get(up)!.push(task.id);
    }
  }
  // Kahn's algorithm; the queue is seeded and fed in input order for a stable result.
  const pending = new Map<string, number>();
  for (const [id, ups] of upstream) pending.set(id, ups.length);
  const order: string[] = [];
  for (const task of dag.tasks) if (pending.get(task.id) === 0) order.push(task.id);
  for (let i = 0; i < order.length; i++) {
    for (const down of downstream.get(order[i])!) {
      const left = pending.get(down)! - 1;
      pending.set(down, left);
      if (left === 0) order.push(down);
    }
  }
  const leaves = dag.tasks.filter((t) => downstream.get(t.id)!.length === 0).map((t) => t.id);
  graph = { byId: new Map(dag.tasks.map((t) => [t.id, t])), order, upstream, downstream, leaves };
  graphs.set(dag, graph);
  return graph;
}

/** Direct downstream task ids of `taskId`. @throws UnknownTaskError */
export function downstreamOf(dag: SerializedDag, taskId: string): string[] {
  const down = graphOf(dag).downstream.get(taskId);
  if (!down) throw new UnknownTaskError(dag.id, taskId);
  return [...down];
}

/**
 * Every task reachable downstream of `taskIds` (transitively), in topological order, for
 * "clear with downstream". A start task is included only if it is downstream of another start task.
 * @throws UnknownTaskError
 */
export function descendantsOf(dag: SerializedDag, taskIds: Iterable<string>): string[] {
  const graph = graphOf(dag);
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const id of taskIds) {
    const down = graph.downstream.get(id);
    if (!down) throw new UnknownTaskError(dag.id, id);
    stack.push(...down);
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...graph.downstream.get(id)!);
  }
  return graph.order.filter((id) => seen.has(id));
}

/** Every task `taskIds` depend on, directly or not, in topological order (without `taskIds`). */
export function ancestorsOf(dag: SerializedDag, taskIds: Iterable<string>): string[] {
  const graph = graphOf(dag);
  const upstream = graph.upstream;
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const id of taskIds) {
    const up = upstream.get(id);
    if (!up) throw new UnknownTaskError(dag.id, id);
    stack.push(...up);
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...upstream.get(id)!);
  }
  return graph.order.filter((id) => seen.has(id));
}

/**
 * `taskId` and, as asked, every task downstream and/or upstream of it, in topological order:
 * what a user's clear or mark "with downstream / with upstream" acts on (one walk for both).
 * @throws UnknownTaskError (only when a direction is asked: a removed task alone is fine)
 */
export function relativesOf(dag: SerializedDag, taskId: string, options: { downstream?: boolean; upstream?: boolean }): string[] {
  const wanted = new Set([
    taskId,
    ...(options.downstream ? descendantsOf(dag, [taskId]) : []),
    ...(options.upstream ? ancestorsOf(dag, [taskId]) : []),
  ]);
  const graph = graphOf(dag);
  // A task the version lacks (a removed one, asked alone) has no place in the order: it goes last.
  return [...graph.order.filter((id) => wanted.has(id)), ...[...wanted].filter((id) => !graph.byId.has(id))];
}

/**
 * A cycle among `upstream` links, as a path that starts and ends with the same task in
 * execution order (`a -> b -> a`: b runs after a, a after b), or null. Iterative: deep
 * chains do not overflow the stack.
 */
export function findCycle(tasks: readonly { id: string; upstream: readonly string[] }[]): string[] | null {
  const downstream = new Map<string, string[]>();
  for (const t of tasks) downstream.set(t.id, []);
  for (const t of tasks) for (const up of t.upstream) downstream.get(up)?.push(t.id);
  const color = new Map<string, 1 | 2>(); // 1 = on the current path, 2 = fully explored
  for (const start of tasks) {
    if (color.has(start.id)) continue;
    const path: string[] = [start.id];
    const cursors: number[] = [0];
    color.set(start.id, 1);
    while (path.length) {
      const id = path[path.length - 1];
      const next = downstream.get(id)![cursors[cursors.length - 1]++];
      if (next === undefined) {
        color.set(id, 2);
        path.pop();
        cursors.pop();
      } else if (color.get(next) === 1) {
        return [...path.slice(path.indexOf(next)), next];
      } else if (!color.has(next)) {
        color.set(next, 1);
        path.push(next);
        cursors.push(0);
      }
    }
  }
  return null;
}

import { FINISHED_TI_STATES, type TiState } from '../state/states';
import { evaluateTriggerRule } from '../trigger-rules/trigger-rules';
import type { SerializedDag } from './dag.types';
import { graphOf } from './graph';

/** A decision for one task instance in state `none`. */
export interface PlannedTransition {
  taskId: string;
  to: 'scheduled' | 'skipped' | 'upstream_failed';
}

const DECISION_TO_STATE = { run: 'scheduled', skip: 'skipped', upstream_failed: 'upstream_failed' } as const;
const FINISHED = new Set<TiState>(FINISHED_TI_STATES);

/**
 * Decides every task instance of a run that is in state `none` (a task missing from
 * `states` counts as `none`) from its direct upstreams' states and its trigger rule.
 * Decisions cascade in this one call: a task planned `skipped` or `upstream_failed` is seen
 * as such by its downstream tasks (a 200-task chain of upstream_failed is decided at once).
 * One pass in topological order reaches the fixed point: a task's decision depends only on
 * its upstreams, decided before it. O(tasks + edges).
 */
export function planRun(dag: SerializedDag, states: ReadonlyMap<string, TiState>): PlannedTransition[] {
  const graph = graphOf(dag);
  const effective = new Map<string, TiState>();
  const stateOf = (id: string): TiState => effective.get(id) ?? states.get(id) ?? 'none';
  const planned: PlannedTransition[] = [];
  for (const id of graph.order) {
    if (stateOf(id) !== 'none') continue;
    const upstream = graph.upstream.get(id)!.map(stateOf);
    const decision = evaluateTriggerRule(graph.byId.get(id)!.triggerRule, upstream);
    if (decision === 'wait') continue;
    const to = DECISION_TO_STATE[decision];
    effective.set(id, to);
    planned.push({ taskId: id, to });
  }
  return planned;
}

/**
 * A run's state from its task instances' states: `running` while any task instance is
 * unfinished (a task missing from `states` counts as `none`); then `failed` if any leaf (a
 * task with no downstream) is `failed` or `upstream_failed`, else `success`.
 */
export function runOutcome(dag: SerializedDag, states: ReadonlyMap<string, TiState>): 'running' | 'success' | 'failed' {
  for (const task of dag.tasks) {
    if (!FINISHED.has(states.get(task.id) ?? 'none')) return 'running';
  }
  const failed = graphOf(dag).leaves.some((id) => {
    const state = states.get(id);
    return state === 'failed' || state === 'upstream_failed';
  });
  return failed ? 'failed' : 'success';
}

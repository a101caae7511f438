import { graphOf, relativesOf } from '../dag/graph';
import type { SerializedDag } from '../dag/dag.types';
import { userTransition, type TiStep } from './state-machine';
import { TI_BUSY, TI_FINISHED, type TiState } from './states';

/** The state a user may mark a task instance with (Airflow's "mark success / mark failed"). */
export type MarkState = 'success' | 'failed';

/** One task instance a user's action changes, as it is now and as it will be. */
export interface PlannedUserChange {
  taskId: string;
  from: TiState;
  to: TiState;
  tryNumber: number;
  /** Its try is queued or running: a worker holds it, or may, and is told to stop it. */
  stopsTry: boolean;
  step: TiStep;
}

interface TiFacts { taskId: string; state: TiState; tryNumber: number }

/**
 * What marking `taskId` (and its downstream and/or upstream tasks) with `to` changes, in
 * topological order. Instances already in `to`, and those the table does not let a user
 * mark (`removed`; `cached` marked success, which it already counts as), are left out.
 */
export function planMark(
  dag: SerializedDag, tis: readonly TiFacts[], taskId: string, to: MarkState,
  options: { downstream?: boolean; upstream?: boolean; reason: string },
): PlannedUserChange[] {
  const wanted = new Set(relativesOf(dag, taskId, options));
  return inOrder(dag, tis.filter((ti) => wanted.has(ti.taskId)))
    .flatMap((ti) => change(ti, to, options.reason));
}

/**
 * What cancelling a run changes (Airflow's "mark run failed"): a running try ends `failed`
 * (its worker is told to stop it); everything not started yet (`none`, `scheduled`,
 * `queued`, `up_for_retry`) ends `skipped`; finished instances keep their state.
 */
export function planCancel(dag: SerializedDag, tis: readonly TiFacts[], reason: string): PlannedUserChange[] {
  return inOrder(dag, tis.filter((ti) => !TI_FINISHED.has(ti.state)))
    .flatMap((ti) => change(ti, ti.state === 'running' ? 'failed' : 'skipped', reason));
}

function change(ti: TiFacts, to: TiState, reason: string): PlannedUserChange[] {
  const decided = userTransition(ti, to, reason);
  if (decided.verdict !== 'apply') return [];
  return [{ taskId: ti.taskId, from: ti.state, to, tryNumber: ti.tryNumber, stopsTry: TI_BUSY.has(ti.state), step: decided.step }];
}

function inOrder<T extends TiFacts>(dag: SerializedDag, tis: readonly T[]): T[] {
  const order = new Map(graphOf(dag).order.map((id, i) => [id, i]));
  return [...tis].sort((a, b) => (order.get(a.taskId) ?? Infinity) - (order.get(b.taskId) ?? Infinity));
}

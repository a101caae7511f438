import { TI_BUSY, TI_FINISHED, type TiState } from '../state/states';
import type { SerializedDag } from './dag.types';
import { graphOf } from './graph';

/** Why a run cannot be moved to another DAG version now; `busy` names the tasks in the way. */
export class RunUpgradeError extends Error {
  override name = 'RunUpgradeError';

  constructor(readonly dagId: string, readonly runId: string, readonly busy: { taskId: string; state: TiState }[], message: string) {
    super(message);
  }
}

/**
 * What moving a run to another version of its DAG does, task by task:
 * - `added`: tasks of the new version the run has no instance of: created in `none`, they
 *   run when their upstreams allow (trigger rules, as any task);
 * - `removed`: tasks the new version lacks whose instance has not ended: they end `removed`;
 * - `kept`: tasks in both versions: an ended one keeps its state (and is not run again),
 *   an unfinished one runs with the new version's definition;
 * - `gone`: tasks the new version lacks whose instance had ended: they keep their state.
 */
export interface RunUpgradePlan {
  added: string[];
  removed: { taskId: string; state: TiState }[];
  kept: { taskId: string; state: TiState }[];
  gone: { taskId: string; state: TiState }[];
}

/**
 * Plans moving run `runId` (with task instance states `tis`) to the DAG version `to` (hash `toHash`).
 * Tasks listed in `to`'s topological order; instances of tasks it lacks, in the given order.
 * @throws RunUpgradeError when a task the new version lacks is queued or running: its try
 *   would end in a version that no longer has it
 */
export function planRunUpgrade(
  dagId: string, runId: string, to: SerializedDag, toHash: string, tis: readonly { taskId: string; state: TiState }[],
): RunUpgradePlan {
  const have = new Map(tis.map((t) => [t.taskId, t.state]));
  const order = graphOf(to).order;
  const wanted = new Set(order);
  const plan: RunUpgradePlan = { added: [], removed: [], kept: [], gone: [] };
  for (const id of order) {
    const state = have.get(id);
    if (state === undefined) plan.added.push(id);
    else plan.kept.push({ taskId: id, state });
  }
  const busy: { taskId: string; state: TiState }[] = [];
  for (const t of tis) {
    if (wanted.has(t.taskId)) continue;
    if (TI_BUSY.has(t.state)) busy.push(t);
    else if (TI_FINISHED.has(t.state)) plan.gone.push(t);
    else plan.removed.push(t);
  }
  if (busy.length > 0) {
    const list = busy.map((b) => `"${b.taskId}" (${b.state})`).join(', ');
    throw new RunUpgradeError(dagId, runId, busy, `run "${runId}" of DAG "${dagId}" cannot move to version ${toHash.slice(0, 12)}: ${list} ` +
      `${busy.length > 1 ? 'are' : 'is'} queued or running and the new version has no such task. Fix: wait for ${busy.length > 1 ? 'them' : 'it'} to end ` +
      `(or stop ${busy.length > 1 ? 'them' : 'it'} with \`swarmflow tasks kill\`), then upgrade again.`);
  }
  return plan;
}

/** True when the plan changes nothing (the run is at that version already, or the versions have the same tasks). */
export function upgradeChangesTasks(plan: RunUpgradePlan): boolean {
  return plan.added.length > 0 || plan.removed.length > 0;
}

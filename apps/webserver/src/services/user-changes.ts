import type { ControlMessage, PlannedUserChange } from '@swarmflow/core';
import type { ControlSender } from '@swarmflow/messaging';
import type { Queryable, Repositories, TaskInstance, TiTransition } from '@swarmflow/persistence';
import { ConflictError } from './api-errors';

/** A try a user's mark or cancel ended while a worker held it (or may): who is told to stop it. */
export interface StoppedTry {
  taskId: string;
  tryNumber: number;
  /** The worker running it, or `all workers` while it was queued. */
  sentTo: string;
  tiId: number;
}

/**
 * Writes a user's planned changes (core `planMark`/`planCancel`) with compare-and-set, in the
 * caller's transaction (the run row locked), and says which tries to stop. Throws
 * `concurrent_change` when the scheduler moved one of them in between: the transaction rolls back.
 */
export async function applyUserChanges(
  repos: Repositories, runId: string, tis: readonly TaskInstance[], changes: readonly PlannedUserChange[], now: Date, tx: Queryable,
): Promise<StoppedTry[]> {
  if (changes.length === 0) return [];
  const byTask = new Map(tis.map((ti) => [ti.taskId, ti]));
  const transitions: TiTransition[] = changes.map((c) => {
    const before = byTask.get(c.taskId)!;
    return {
      before, steps: [c.step],
      after: { ...before, state: c.to, reason: c.step.reason, endedAt: now, nextRetryAt: null },
    };
  });
  const applied = await repos.tis.applyTransitions(transitions, now, tx);
  if (applied.size !== transitions.length) {
    throw new ConflictError('concurrent_change', `a task instance of run "${runId}" changed while it was being updated (the scheduler or a worker moved it). Try again.`);
  }
  return changes.filter((c) => c.stopsTry).map((c) => {
    const ti = byTask.get(c.taskId)!;
    return { taskId: c.taskId, tryNumber: ti.tryNumber, tiId: ti.id, sentTo: c.from === 'running' && ti.worker ? ti.worker : 'all workers' };
  });
}

/**
 * Tells the workers to stop the tries a user ended: a running one's worker, or every
 * worker for a queued one (one that starts it anyway is told to stop by the scheduler, as
 * its state is already final), signed like every control message. The worker stops the process or container (grace, then kill).
 */
export async function stopTries(control: ControlSender, stopped: readonly StoppedTry[]): Promise<void> {
  for (const s of stopped) {
    const key = s.sentTo === 'all workers' ? 'worker.all' : `worker.${s.sentTo}`;
    await control.send(key, { type: 'task.cancel', tiId: s.tiId, tryNumber: s.tryNumber } satisfies ControlMessage);
  }
}

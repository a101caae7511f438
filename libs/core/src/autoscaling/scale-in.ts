/**
 * Which workers a scale-in removes, so that it never removes busy work. A scale-in is a
 * sequence: drain chosen idle workers (`worker.drain`: they take nothing new), and once a
 * drained worker reports nothing running and nothing held it is shut down (exits 0) and
 * the replica count is lowered by one for it. A drained worker that picked up work before
 * the drain reached it is given back (`worker.resume`) and not removed. Pure.
 */

/** A worker of the group as its last heartbeat shows it. */
export interface GroupWorker {
  name: string;
  /** `active` | `draining` | `stopping` | `stopped` (heartbeat states). */
  state: string;
  /** Tries it runs now. */
  running: number;
  /** Tries delivered to it and not started yet (they would run there). */
  held: number;
}

export interface ScaleInInput {
  /** The group's live workers (lost ones left out by the caller). */
  workers: readonly GroupWorker[];
  /** Workers this autoscaler drained and has not removed yet. */
  draining: readonly string[];
  /** Replicas to remove: current − desired (0 or less = none: drained workers are resumed). */
  surplus: number;
}

export interface ScaleInPlan {
  /** Idle active workers to send `worker.drain` now. */
  drain: string[];
  /** Drained workers to give back (`worker.resume`): they picked up work, or are no longer needed. */
  resume: string[];
  /** Drained workers with nothing running or held: shut them down; lower replicas once they stopped. */
  remove: string[];
  /** Drained workers still finishing or holding work: wait. */
  waiting: string[];
}

const idle = (w: GroupWorker) => w.running === 0 && w.held === 0;

/**
 * The next step of a scale-in. Never drains a busy worker; never removes one that has
 * anything running or held. Removes at most `surplus` workers; drains only as many more as
 * the ones already drained do not cover, idle workers with the name that sorts last first
 * (on Swarm: the highest slots, stable between rounds).
 */
export function planScaleIn(input: ScaleInInput): ScaleInPlan {
  const surplus = Math.max(0, input.surplus);
  const byName = new Map(input.workers.map((w) => [w.name, w]));
  const plan: ScaleInPlan = { drain: [], resume: [], remove: [], waiting: [] };

  const drained = input.draining.map((n) => byName.get(n)).filter((w): w is GroupWorker => w !== undefined && w.state !== 'stopped');
  let kept = 0;
  for (const w of drained.sort((a, b) => Number(idle(b)) - Number(idle(a)) || b.name.localeCompare(a.name))) {
    if (kept >= surplus) { plan.resume.push(w.name); continue; }
    if (w.running > 0) { plan.resume.push(w.name); continue; } // picked up work: not removed
    kept += 1;
    if (w.held > 0 || w.state === 'active') plan.waiting.push(w.name); // drain not applied yet, or a try still on its way
    else plan.remove.push(w.name);
  }

  const candidates = input.workers
    .filter((w) => w.state === 'active' && idle(w) && !input.draining.includes(w.name))
    .sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }));
  plan.drain = candidates.slice(0, surplus - kept).map((w) => w.name);
  return plan;
}

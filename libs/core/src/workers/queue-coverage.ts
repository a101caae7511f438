/** What a worker's last heartbeat says about the queues it serves. */
export interface QueueServer {
  name: string;
  queues: readonly string[];
  /** `active` takes new tasks; `draining`, `stopping`, `stopped` and `lost` do not. */
  state: string;
}

/** Worker states that take new tasks from their queues. */
const TAKES_TASKS = new Set(['active']);

/**
 * Why a queued try on `queue` waits, when the reason is that no live worker serves that
 * queue: `no worker serves queue gpu (…)`, with what to do (on Swarm, the instance group to
 * scale is described, not named: a queue's group and the stack's name are not known here). Null when an active worker
 * serves it (the try waits for a free slot, or is on its way). Pure: `workers` are the
 * recorded heartbeats, the caller's view of the cluster.
 */
export function unservedQueueReason(queue: string, workers: readonly QueueServer[]): string | null {
  if (workers.some((w) => TAKES_TASKS.has(w.state) && w.queues.includes(queue))) return null;
  const stopping = workers.filter((w) => !TAKES_TASKS.has(w.state) && w.state !== 'lost' && w.state !== 'stopped' && w.queues.includes(queue));
  const others = [...new Set(workers.filter((w) => TAKES_TASKS.has(w.state)).flatMap((w) => w.queues))].sort();
  const now = stopping.length > 0
    ? `its workers are stopping (${stopping.map((w) => `${w.name}: ${w.state}`).join(', ')})`
    : others.length > 0 ? `live workers serve ${others.join(', ')}` : 'no worker is live';
  // No service is named: which group serves the queue, and the stack's name, are the deployment's (groups.yaml, `docker stack deploy … <stack>`).
  return `no worker serves queue ${queue} (${now}). Fix: start a worker with --queues ${queue} ` +
    `(on Docker Swarm: scale up the instance group whose queues include ${queue}, service <stack>_worker-<group>; see deploy/swarm/groups.yaml)`;
}

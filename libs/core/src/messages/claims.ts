import type { TiState } from '../state/states';

/**
 * A worker given a task message the broker marks as redelivered asks the scheduler whether
 * to run it, on `swarmflow.events` (routing key `task.claim`). Only redeliveries pay this
 * round trip: the first delivery of a message is the try's only copy.
 */
export interface TaskClaimRequest {
  type: 'task.claim';
  tiId: number;
  tryNumber: number;
  /** The worker asking; the reply goes to its control queue. */
  worker: string;
  at: string;
}

/** The scheduler's answer, on `swarmflow.control` with routing key `worker.<name>`. */
export interface TaskClaimReply {
  type: 'task.claim.reply';
  tiId: number;
  tryNumber: number;
  /** run: this worker runs the try; drop: settle the message without running it. */
  verdict: 'run' | 'drop';
  /** Why it is dropped, for the worker's log. */
  reason: string | null;
}

/** Sent by the scheduler to `worker.all` while a claim waits on workers: each heartbeats at once. */
export interface WorkerHeartbeatRequest {
  type: 'worker.heartbeat.request';
}

/** What the scheduler knows of the try a claim names. */
export interface ClaimedTry {
  state: TiState;
  tryNumber: number;
  worker: string | null;
}

/** A worker that may hold an earlier delivery of the message: when the scheduler last heard from it (its clock). */
export interface ClaimWitness {
  name: string;
  state: string;
  lastHeartbeatAt: Date;
}

export type ClaimDecision = { verdict: 'run' | 'drop'; reason: string | null } | { verdict: 'wait'; waitingFor: string[] };

/**
 * Decides a claim. A try that ended, was superseded by a later try, or runs on another
 * worker is dropped. A try still `queued` may have reached another worker before (whose
 * connection then died, which is why the broker redelivered it) and run there unreported:
 * it is granted only once every other live worker has been heard from after the claim
 * arrived, since a worker's heartbeat follows, on its one channel, every report it made
 * before (and lists the tries it runs). Until then it waits; a worker that never answers
 * is found lost (its connection closed, or the heartbeat timeout) and stops counting.
 *
 * @param receivedAt when the scheduler received the claim (the clock heartbeats are recorded with)
 */
export function decideClaim(
  claim: { tryNumber: number; worker: string }, ti: ClaimedTry | null, workers: readonly ClaimWitness[], receivedAt: Date,
): ClaimDecision {
  if (!ti) return { verdict: 'drop', reason: 'the task instance no longer exists' };
  if (claim.tryNumber < ti.tryNumber) return { verdict: 'drop', reason: `try ${ti.tryNumber} superseded it` };
  if (claim.tryNumber > ti.tryNumber) return { verdict: 'drop', reason: `the scheduler knows no try ${claim.tryNumber} (latest is ${ti.tryNumber})` };
  if (ti.state === 'running') {
    if (ti.worker !== null && ti.worker !== claim.worker) return { verdict: 'drop', reason: `it runs on ${ti.worker}` };
    // On the claimant itself, which no longer has it (it restarted under the same name): run it.
    return { verdict: 'run', reason: null };
  }
  if (ti.state !== 'queued') return { verdict: 'drop', reason: `it has ended (${ti.state})` };
  const waitingFor = workers
    .filter((w) => w.name !== claim.worker && (w.state === 'active' || w.state === 'draining' || w.state === 'stopping') && w.lastHeartbeatAt.getTime() <= receivedAt.getTime())
    .map((w) => w.name);
  return waitingFor.length > 0 ? { verdict: 'wait', waitingFor } : { verdict: 'run', reason: null };
}

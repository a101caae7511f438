/** A task instance try, as heartbeats list them. */
export interface TryRef {
  tiId: number;
  tryNumber: number;
}

/**
 * Default of `SWARMFLOW_HANDOFF_TIMEOUT`: how long the tries a stopping worker handed over
 * wait for the next worker of its name to adopt their containers. Long enough for Swarm to
 * start the slot's next task (pull included), short enough that a try nobody adopts (the
 * slot was removed, or its next task went to another node) is retried without much delay.
 */
export const DEFAULT_HANDOFF_TIMEOUT_MS = 5 * 60_000;

/**
 * What a stopping worker's heartbeat says of the containers it handed over: their tries,
 * and until when (the worker's clock) they wait for the next worker of its name.
 */
export interface HandedOver {
  tries: TryRef[];
  until: string;
}

/** The tries a worker handed over, waiting for adoption until `until` (the scheduler's clock). */
export interface PendingHandOver {
  tries: TryRef[];
  until: Date;
}

/**
 * The hand-over a heartbeat announces, on the scheduler's clock: `until` is taken as an
 * offset from the heartbeat's own `at` (both the worker's clock) and added to the receipt
 * time, so clock skew between worker and scheduler plays no part. Null when the heartbeat
 * announces none (or an unreadable time).
 */
export function pendingHandOver(beat: { at: string; handedOver?: HandedOver }, receivedAt: Date): PendingHandOver | null {
  const handed = beat.handedOver;
  if (!handed || handed.tries.length === 0) return null;
  const offset = Date.parse(handed.until) - Date.parse(beat.at);
  if (!Number.isFinite(offset)) return null;
  return { tries: handed.tries.map(({ tiId, tryNumber }) => ({ tiId, tryNumber })), until: new Date(receivedAt.getTime() + Math.max(0, offset)) };
}

/**
 * Whether the try, running on a worker that stopped or restarted, still waits for the next
 * worker of that name to adopt its container: it was handed over and the window has not
 * run out. The scheduler neither fails nor retries it meanwhile (it runs, in a container
 * nobody follows); after `until` it is handled as any try of a lost worker.
 */
export function awaitsAdoption(t: TryRef, handOver: PendingHandOver | null | undefined, now: Date): boolean {
  if (!handOver || handOver.until.getTime() <= now.getTime()) return false;
  return handOver.tries.some((h) => h.tiId === t.tiId && h.tryNumber === t.tryNumber);
}

/** The reason a handed-over try fails when its window ran out and the worker's heartbeat does not list it. */
export function notAdoptedReason(worker: string, tryNumber: number): string {
  return `worker ${worker} handed try ${tryNumber} over and no worker of that name adopted it in time (SWARMFLOW_HANDOFF_TIMEOUT)`;
}

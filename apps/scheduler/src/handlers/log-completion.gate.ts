import type { TaskFinishedEvent, WorkerEvent } from '@swarmflow/core';
import type { BrokerMessage } from '@swarmflow/messaging';

/** What the gate reads (how many of a try's log batches the sink has stored) and writes (its holds, for other schedulers). */
export interface StoredBatches {
  countBatches(tiId: number, tryNumber: number, first: number, last: number): Promise<number>;
  /** Records a hold for every scheduler to see (see {@link endHoldCutoff}). */
  holdEnd(tiId: number, tryNumber: number, at: Date, expiredBefore: Date): Promise<void>;
}

/** Default longest wait of an end for its log. */
export const DEFAULT_MAX_LOG_WAIT_MS = 60_000;
/**
 * How long a recorded hold counts for other schedulers: the longest wait, and a margin for
 * a redelivery to another scheduler (whose hold refreshes the record) when the holder dies.
 */
export const END_HOLD_VISIBLE_MS = DEFAULT_MAX_LOG_WAIT_MS + 60_000;

/** Holds recorded since this time still count: a try listed there has ended, its end on its way. */
export function endHoldCutoff(now: Date): Date {
  return new Date(now.getTime() - END_HOLD_VISIBLE_MS);
}

export interface LogCompletionOptions {
  /** Between two looks at the stored batches of a held end. Default 100. */
  pollMs?: number;
  /** Longest an end waits for its log; then it is applied anyway, with a warning. Default 60000. */
  maxWaitMs?: number;
}

interface Held {
  event: TaskFinishedEvent;
  msg: BrokerMessage<unknown>;
  since: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Holds a `task.finished` whose try published log batches on `swarmflow.logs` until the
 * log sink has stored them all (the event names them: `logBatches`), so that a try whose
 * state says it ended has its whole log. Most tries publish none (their lines ride in the
 * event) and pass at once. An end whose batches do not all arrive within `maxWaitMs` (a
 * sink that is down) is applied anyway, with a warning.
 *
 * While an end is held, the worker's heartbeats no longer list its try; the gate adds it
 * to them, so that the try is not taken for lost meanwhile. Other schedulers (HA) get those
 * heartbeats too, and claims: so each hold is also recorded in the database
 * (`task_end_hold`), where they look before failing a try as lost or granting a claim. Only
 * the holder applies the end.
 */
export class LogCompletionGate {
  private readonly held = new Map<string, Held>();
  private readonly pollMs: number;
  private readonly maxWaitMs: number;
  private stopped = false;

  /** Holds not recorded since the last one that was (a database outage). */
  private unrecordedHolds = 0;

  constructor(
    private readonly logs: StoredBatches,
    /** Receives an event that may be applied now. */
    private readonly pass: (event: WorkerEvent, msg: BrokerMessage<unknown>) => void,
    private readonly warn: (message: string) => void,
    options: LogCompletionOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 100;
    this.maxWaitMs = Math.min(options.maxWaitMs ?? DEFAULT_MAX_LOG_WAIT_MS, DEFAULT_MAX_LOG_WAIT_MS);
  }

  /** Passes the event on now, or once its try's log is stored. */
  admit(event: WorkerEvent, msg: BrokerMessage<unknown>): void {
    if (event.type === 'worker.heartbeat') {
      for (const h of this.held.values()) {
        const { tiId, tryNumber, worker } = h.event;
        if (worker === event.worker && !event.running.some((r) => r.tiId === tiId && r.tryNumber === tryNumber)) {
          event.running.push({ tiId, tryNumber });
        }
      }
    }
    if (event.type !== 'task.finished' || !event.logBatches || event.logBatches.count === 0 || this.stopped) {
      this.pass(event, msg);
      return;
    }
    const key = `${event.tiId}:${event.tryNumber}:${event.worker}`;
    const earlier = this.held.get(key);
    if (earlier !== undefined) {
      // A redelivery of the same end: the newer message stands for it.
      clearTimeout(earlier.timer);
      earlier.msg.ack();
    }
    const held: Held = { event, msg, since: Date.now(), timer: undefined };
    this.held.set(key, held);
    const now = new Date();
    this.logs.holdEnd(event.tiId, event.tryNumber, now, endHoldCutoff(now)).then(() => {
      if (this.unrecordedHolds === 0) return;
      this.warn(`recording ends held for their logs again; ${this.unrecordedHolds} hold(s) could not be recorded for the other schedulers meanwhile`);
      this.unrecordedHolds = 0;
    }, (err: unknown) => {
      // One line per database outage, not one per end: the rest are counted.
      if (this.unrecordedHolds++ > 0) return;
      this.warn(`could not record the hold of task instance ${event.tiId} try ${event.tryNumber}'s end for the other schedulers: ${(err as Error).message} ` +
        '(further failures are counted until a hold is recorded again)');
    });
    void this.check(key, held);
  }

  /** Ends held now: given back to the broker (for the next scheduler), not applied. */
  stop(): void {
    this.stopped = true;
    for (const h of this.held.values()) {
      clearTimeout(h.timer);
      h.msg.nack(true);
    }
    this.held.clear();
  }

  /** True while the end of that try waits here for its log: its worker ran it to the end. */
  holdsEnd(tiId: number, tryNumber: number): boolean {
    for (const h of this.held.values()) if (h.event.tiId === tiId && h.event.tryNumber === tryNumber) return true;
    return false;
  }

  /** Number of ends waiting for their log (tests). */
  get waiting(): number {
    return this.held.size;
  }

  private async check(key: string, held: Held): Promise<void> {
    if (this.held.get(key) !== held) return;
    const { tiId, tryNumber, logBatches } = held.event;
    const { first, last, count } = logBatches!;
    let stored: number | null = null;
    try {
      stored = await this.logs.countBatches(tiId, tryNumber, first, last);
    } catch {
      // The database is away: look again, within the bounded wait.
    }
    if (this.held.get(key) !== held) return;
    const waited = Date.now() - held.since;
    if (stored !== null && stored >= count) {
      this.release(key, held);
    } else if (waited >= this.maxWaitMs) {
      this.warn(`applying the end of task instance ${tiId} try ${tryNumber} with ${stored ?? 'an unknown number of'} of its ${count} log batch(es) ` +
        `stored after ${Math.round(waited / 1000)} s: the rest of its log may still arrive (is the log sink running?)`);
      this.release(key, held);
    } else {
      held.timer = setTimeout(() => void this.check(key, held), this.pollMs);
    }
  }

  private release(key: string, held: Held): void {
    this.held.delete(key);
    this.pass(held.event, held.msg);
  }
}

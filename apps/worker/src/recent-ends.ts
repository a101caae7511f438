interface End {
  tiId: number;
  tryNumber: number;
  /** When it was reported (ms). */
  at: number;
  /** Reported again since: the later entry counts. */
  superseded: boolean;
}

/**
 * Tries whose `task.finished` this worker had confirmed lately, listed in its heartbeats
 * (`ended`). With several schedulers, a heartbeat can be applied before an earlier
 * `task.finished` of the same worker: one scheduler holds the end (in its buffer, or
 * requeued after it died) while another applies the heartbeat. A try missing from
 * `running` but listed here is not lost: its end is on its way.
 *
 * A queue in report order with a moving head, not a Map trimmed from the front: a Map
 * keeps its deleted entries until it rehashes, and finding its first live key walked over
 * up to `max` of them at every task's end.
 */
export class RecentEnds {
  /** Oldest first; entries before `head` are gone. */
  private queue: End[] = [];
  private head = 0;
  /** `tiId:tryNumber` → its latest entry. */
  private readonly latest = new Map<string, End>();

  constructor(private readonly keepMs = 30_000, private readonly max = 2000, private readonly clock: () => number = () => Date.now()) {}

  add(tiId: number, tryNumber: number): void {
    const key = `${tiId}:${tryNumber}`;
    const previous = this.latest.get(key);
    if (previous) previous.superseded = true;
    const end: End = { tiId, tryNumber, at: this.clock(), superseded: false };
    this.queue.push(end);
    this.latest.set(key, end);
    while (this.latest.size > this.max) this.dropOldest();
    this.compact();
  }

  /** The tries reported within `keepMs`, oldest first. */
  list(): { tiId: number; tryNumber: number }[] {
    const cutoff = this.clock() - this.keepMs;
    while (this.head < this.queue.length && (this.queue[this.head].superseded || this.queue[this.head].at < cutoff)) this.dropOldest();
    this.compact();
    const listed: { tiId: number; tryNumber: number }[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const { tiId, tryNumber, superseded } = this.queue[i];
      if (!superseded) listed.push({ tiId, tryNumber });
    }
    return listed;
  }

  /** Removes the entry at the head (forgetting its try unless it was reported again). */
  private dropOldest(): void {
    const end = this.queue[this.head++];
    if (!end.superseded) this.latest.delete(`${end.tiId}:${end.tryNumber}`);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Tries whose `task.finished` this worker had confirmed lately, listed in its heartbeats
 * (`ended`). With several schedulers, a heartbeat can be applied before an earlier
 * `task.finished` of the same worker: one scheduler holds the end (in its buffer, or
 * requeued after it died) while another applies the heartbeat. A try missing from
 * `running` but listed here is not lost: its end is on its way.
 */
export class RecentEnds {
  /** `tiId:tryNumber` → when it was reported (ms); oldest first. */
  private readonly ends = new Map<string, { tiId: number; tryNumber: number; at: number }>();

  constructor(private readonly keepMs = 30_000, private readonly max = 2000, private readonly clock: () => number = () => Date.now()) {}

  add(tiId: number, tryNumber: number): void {
    const key = `${tiId}:${tryNumber}`;
    this.ends.delete(key);
    this.ends.set(key, { tiId, tryNumber, at: this.clock() });
    if (this.ends.size > this.max) this.ends.delete(this.ends.keys().next().value!);
  }

  /** The tries reported within `keepMs`, oldest first. */
  list(): { tiId: number; tryNumber: number }[] {
    const cutoff = this.clock() - this.keepMs;
    for (const [key, end] of this.ends) {
      if (end.at >= cutoff) break;
      this.ends.delete(key);
    }
    return [...this.ends.values()].map(({ tiId, tryNumber }) => ({ tiId, tryNumber }));
  }
}

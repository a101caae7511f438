import type { GroupWorker, WorkerHeartbeatEvent } from '@swarmflow/core';

interface Seen {
  beat: WorkerHeartbeatEvent;
  /** When it arrived (the autoscaler's clock: no skew with the worker's). */
  at: number;
}

/** A worker of a group, as the autoscaler knows it from heartbeats. */
export interface ObservedWorker extends GroupWorker {
  /** Its host: the node a node group drains. */
  hostname: string;
  /** No heartbeat within the timeout: gone (exited, or lost). */
  gone: boolean;
}

const sameQueues = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((q, i) => q === [...b].sort()[i]);

/**
 * The last heartbeat of each worker, as the autoscaler received them on `swarmflow.events`.
 * A worker belongs to the group that serves exactly its queues (the queues of its service).
 */
export class HeartbeatView {
  private readonly workers = new Map<string, Seen>();

  constructor(private readonly timeoutMs: number) {}

  update(beat: WorkerHeartbeatEvent, now: number): void {
    this.workers.set(beat.worker, { beat, at: now });
  }

  /** Workers serving exactly `queues`; those silent for longer than the timeout are `gone`; stopped ones are forgotten after it. */
  workersOf(queues: readonly string[], now: number): ObservedWorker[] {
    const out: ObservedWorker[] = [];
    for (const [name, { beat, at }] of this.workers) {
      const silent = now - at > this.timeoutMs;
      if (silent && beat.state === 'stopped') { this.workers.delete(name); continue; }
      if (!sameQueues(beat.queues, queues)) continue;
      out.push({ name, hostname: beat.hostname, state: beat.state, running: beat.running.length, held: beat.held?.length ?? 0, gone: silent });
    }
    return out;
  }
}

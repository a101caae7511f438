import { controlQueue, QueueNotFoundError, type Broker } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';

/** A worker whose broker connection is gone: its control queue vanished at `since` and has not come back. */
export interface GoneWorker {
  name: string;
  /** When this scheduler first found the queue missing (its clock). */
  since: Date;
}

/**
 * Finds dead workers in seconds rather than a heartbeat timeout. Every worker consumes an
 * exclusive, auto-delete control queue on its own broker connection, and RabbitMQ deletes
 * that queue the moment the connection closes: a worker killed with SIGKILL, or whose host
 * went down, loses it at once (the kernel closes the socket, or RabbitMQ's AMQP heartbeat
 * notices a dead host). So, every `intervalMs`, the scheduler checks the control queue of
 * each active worker; one missing for `goneAfterMs` in a row while this scheduler stayed
 * connected is gone ({@link gone}).
 *
 * No false positives on a busy machine: nothing here depends on a timer firing on time
 * in the worker (a worker stalled for a minute by CPU starvation still holds its TCP
 * connection and its queue). What it cannot see: a worker that is alive but stuck (its
 * connection stays up). The heartbeat timeout still covers that case, and also any
 * worker whose queue this scheduler never saw (it must see the queue present once before
 * its absence counts, so a scheduler that starts after a worker died waits for the
 * heartbeat timeout). A worker whose own broker connection drops (a network blip between
 * it and RabbitMQ) loses its queue too; it reconnects well within `goneAfterMs` (reconnect
 * delays are capped at 2 s), and a worker that heartbeats after the queue went missing is
 * not taken for gone (see WorkerRepository.markGone).
 */
export class WorkerPresence {
  /** Workers whose control queue this scheduler has seen. */
  private readonly seen = new Set<string>();
  /** Workers whose queue was found missing: since when (ms). */
  private readonly missingSince = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> = Promise.resolve();
  private connected = true;

  constructor(
    private readonly broker: Broker,
    private readonly repos: Repositories,
    private readonly goneAfterMs: number,
    private readonly intervalMs = 500,
    private readonly clock: () => number = () => Date.now(),
  ) {
    broker.onStatus((status) => {
      // Queues cannot be checked while disconnected, and a broker restart deletes every
      // control queue: start over, workers recreate theirs when they reconnect.
      this.connected = status === 'connected';
      this.missingSince.clear();
      if (!this.connected) this.seen.clear();
    });
  }

  start(): void {
    if (this.goneAfterMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.checking = this.checking.then(() => this.check()).catch(() => undefined);
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  /** Whether this scheduler has seen `worker`'s control queue (so its disappearance would count). */
  sees(worker: string): boolean {
    return this.seen.has(worker);
  }

  /** Workers whose queue has been missing for `goneAfterMs`. */
  gone(): GoneWorker[] {
    const now = this.clock();
    return [...this.missingSince].filter(([, since]) => now - since >= this.goneAfterMs)
      .map(([name, since]) => ({ name, since: new Date(since) }));
  }

  /** Forgets workers the scheduler has now marked lost (they are not active any more). */
  forget(names: string[]): void {
    for (const name of names) {
      this.missingSince.delete(name);
      this.seen.delete(name);
    }
  }

  /** One round: the control queue of every worker the database has active or draining. */
  async check(): Promise<void> {
    if (!this.connected) return;
    const workers = (await this.repos.workers.list()).filter((w) => w.state === 'active' || w.state === 'draining' || w.state === 'stopping');
    const names = new Set(workers.map((w) => w.name));
    for (const name of [...this.missingSince.keys()]) if (!names.has(name)) this.missingSince.delete(name);
    for (const name of [...this.seen]) if (!names.has(name)) this.seen.delete(name);
    for (const { name } of workers) {
      const startedAt = this.clock();
      let present: boolean;
      try {
        await this.broker.queueStats(controlQueue(name).name);
        present = true;
      } catch (err) {
        // RabbitMQ answers a passive declare of another connection's exclusive queue with 405
        // RESOURCE_LOCKED: the queue is there. Anything else but 404: the broker went away mid-round.
        if ((err as { code?: unknown }).code === 405) present = true;
        else if (err instanceof QueueNotFoundError) present = false;
        else return;
      }
      if (!this.connected) return;
      if (present) {
        this.seen.add(name);
        this.missingSince.delete(name);
      } else if (this.seen.has(name) && !this.missingSince.has(name)) {
        this.missingSince.set(name, startedAt);
      }
    }
  }
}

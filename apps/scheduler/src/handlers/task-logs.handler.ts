import { LOGS_QUEUE, type Broker, type BrokerMessage, type ConsumerHandle } from '@swarmflow/messaging';
import type { LogBatchRow, TaskLogRepository } from '@swarmflow/persistence';
import type { SchedulerLogger } from '../services/scheduler-runner';
import { parseLogBatch } from './worker-event.schema';

const FLUSH_MS = 100;

function settle(action: () => void): void {
  try {
    action();
  } catch {
    // The broker redelivers what it did not see acked; storing a batch twice only repeats lines.
  }
}
const MAX_BATCHES = 500;
const RETRY_MAX_MS = 2000;

/**
 * The log sink: persists workers' log batches per task try. Batches are written in
 * groups and acked only after the insert committed, so no line is lost on a crash.
 */
export class TaskLogsHandler {
  private pending: { row: LogBatchRow; msg: BrokerMessage }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private consumer: ConsumerHandle | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Writes have been failing since then (a database outage); they are retried with backoff and logged once. */
  private failingSince: number | null = null;
  private failures = 0;

  constructor(private readonly broker: Broker, private readonly logs: TaskLogRepository, private readonly logger: SchedulerLogger) {}

  async start(): Promise<void> {
    this.consumer = await this.broker.consume<unknown>(LOGS_QUEUE, (msg) => this.onBatch(msg), { prefetch: MAX_BATCHES * 2 });
  }

  /** Stops deliveries, stores what arrived, then lets go of the queue (acks need a live consumer channel). */
  async stop(): Promise<void> {
    await this.consumer?.pause();
    await this.flush();
    if (this.timer) clearTimeout(this.timer); // a write that failed: its batches go back to the queue with the cancel
    this.timer = null;
    await this.consumer?.cancel();
  }

  private onBatch(msg: BrokerMessage<unknown>): void {
    const parsed = parseLogBatch(msg.body);
    if (!parsed.ok) {
      this.logger.warn(`dropping a malformed log batch: ${parsed.error}`);
      msg.ack();
      return;
    }
    const { tiId, tryNumber, seq, lines } = parsed.batch;
    this.pending.push({ row: { tiId, tryNumber, seq, lines }, msg });
    if (this.failingSince !== null) return; // the retry timer is set: it takes these too
    if (this.pending.length >= MAX_BATCHES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is pending; flushes run one after another. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.logs.append(batch.map((b) => b.row));
      } catch (err) {
        // Kept (unacked, in order) and retried with backoff; one line per outage, not one per try.
        this.failures++;
        if (this.failingSince === null) {
          this.failingSince = Date.now();
          this.logger.error(`could not store log batches, retrying every ${RETRY_MAX_MS / 1000}s at most: ${(err as Error).message}`);
        }
        this.pending.unshift(...batch);
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.flush(), Math.min(RETRY_MAX_MS, 100 * 2 ** Math.min(this.failures, 5)));
        return;
      }
      if (this.failingSince !== null) {
        this.logger.log(`storing log batches again after ${((Date.now() - this.failingSince) / 1000).toFixed(1)}s`);
        this.failingSince = null;
        this.failures = 0;
        if (this.pending.length > 0) this.timer ??= setTimeout(() => void this.flush(), 0);
      }
      // Stored: an ack that fails (channel closing) only means a harmless redelivery.
      for (const b of batch) settle(() => b.msg.ack());
    });
    return this.flushing;
  }
}

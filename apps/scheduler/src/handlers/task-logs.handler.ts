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

/**
 * The log sink: persists workers' log batches per task try. Batches are written in
 * groups and acked only after the insert committed, so no line is lost on a crash.
 */
export class TaskLogsHandler {
  private pending: { row: LogBatchRow; msg: BrokerMessage }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private consumer: ConsumerHandle | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly broker: Broker, private readonly logs: TaskLogRepository, private readonly logger: SchedulerLogger) {}

  async start(): Promise<void> {
    this.consumer = await this.broker.consume<unknown>(LOGS_QUEUE, (msg) => this.onBatch(msg), { prefetch: MAX_BATCHES * 2 });
  }

  /** Stops deliveries, stores what arrived, then lets go of the queue (acks need a live consumer channel). */
  async stop(): Promise<void> {
    await this.consumer?.pause();
    await this.flush();
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
        this.logger.error(`could not store ${batch.length} log batch(es), will retry: ${(err as Error).message}`);
        for (const b of batch) settle(() => b.msg.nack(true));
        return;
      }
      // Stored: an ack that fails (channel closing) only means a harmless redelivery.
      for (const b of batch) settle(() => b.msg.ack());
    });
    return this.flushing;
  }
}

import type { LogBatch } from '@swarmflow/core';
import { EXCHANGES, type Broker } from '@swarmflow/messaging';

export type LogStream = LogBatch['lines'][number]['stream'];

export interface TaskLogOptions {
  /** Longest a line waits before its batch is published. */
  flushMs: number;
  /** A batch is published as soon as it holds this many lines. */
  maxLines: number;
  /** Lines kept for the finished event's `logTail`. */
  tailLines: number;
  now: () => Date;
  /** A lost batch is logged, never fatal to the task. */
  onError: (err: unknown) => void;
  /** Applied to every line before it is kept or published (secret values → `***`). Default: none. */
  mask?: (line: string) => string;
  /** `seq` of the first batch. Default 1; a worker that re-adopts a running container starts above what its predecessor published. */
  firstSeq?: number;
}

/**
 * Batches the log lines of one task try onto `swarmflow.logs` (routing key
 * `log.<tiId>`), with `seq` increasing from 1. Batches are published one after the
 * other, so they reach the broker in `seq` order.
 */
export class TaskLogPublisher {
  private lines: LogBatch['lines'] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> = Promise.resolve();
  /** Batches handed to the broker and not settled yet. */
  private inFlight = 0;
  private readonly tailBuffer: string[] = [];

  constructor(
    private readonly broker: Broker,
    private readonly tiId: number,
    private readonly tryNumber: number,
    private readonly options: TaskLogOptions,
  ) {
    this.seq = (options.firstSeq ?? 1) - 1;
  }

  add(stream: LogStream, text: string): void {
    const line = this.options.mask ? this.options.mask(text) : text;
    this.lines.push({ at: this.options.now().toISOString(), stream, line });
    if (stream !== 'system') {
      this.tailBuffer.push(line);
      if (this.tailBuffer.length > this.options.tailLines) this.tailBuffer.shift();
    }
    if (this.lines.length >= this.options.maxLines) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** The last output lines (stdout and stderr, not system lines). */
  tail(): string[] {
    return [...this.tailBuffer];
  }

  /** Publishes what is buffered; resolves once every batch so far was published (or given up). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length > 0) {
      const batch: LogBatch = { tiId: this.tiId, tryNumber: this.tryNumber, seq: ++this.seq, lines: this.lines };
      this.lines = [];
      const send = (): Promise<void> => this.broker.publish(EXCHANGES.logs, `log.${this.tiId}`, batch).catch(this.options.onError);
      // At once when no batch is in flight (most tries have one), so that it goes out before a `task.finished` published next.
      const sent = this.inFlight === 0 ? send() : this.publishing.then(send);
      this.inFlight++;
      this.publishing = sent.then(() => {
        this.inFlight--;
      });
    }
    return this.publishing;
  }

  /**
   * Takes what is buffered as the try's last batch, unpublished, for `task.finished` to
   * carry; null when nothing is buffered. Batches published before it keep lower `seq`s.
   */
  takeFinal(): Pick<LogBatch, 'seq' | 'lines'> | null {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return null;
    const final = { seq: ++this.seq, lines: this.lines };
    this.lines = [];
    return final;
  }

  /** Drops what is buffered and stops the timer (the try is abandoned). */
  discard(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lines = [];
  }
}

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
  /** A batch is published as soon as its lines hold this many characters (each line counting 128 more). Default {@link DEFAULT_BATCH_CHARS}. */
  maxBatchChars?: number;
  /**
   * Output kept per try, in characters of stdout and stderr lines (each counted with its
   * newline). Past it, lines are counted and dropped, a system line says so at once and
   * another at the end says how much was dropped; the task runs on. Default {@link DEFAULT_LOG_LIMIT}.
   */
  maxChars?: number;
  /**
   * Told `true` when the lines buffered or being published hold more than
   * {@link BUFFER_HIGH_CHARS} (stop reading the task's output), `false` once they are back
   * under {@link BUFFER_LOW_CHARS}; each line counts its characters and 128 more (its object
   * and time). Without it, nothing limits what is held.
   */
  onPressure?: (full: boolean) => void;
}

/** Default per-try output limit: 100 MB (characters of output lines). */
export const DEFAULT_LOG_LIMIT = 100 * 1024 * 1024;
/** Default characters per batch: a few hundred KiB keep a message small for the broker and the sink. */
export const DEFAULT_BATCH_CHARS = 256 * 1024;
/** Held (buffered or being published) characters above which the task's output stops being read. */
export const BUFFER_HIGH_CHARS = 4 * 1024 * 1024;
/** …and under which it is read again. */
export const BUFFER_LOW_CHARS = 1024 * 1024;
/** Characters a line counts for beyond its text against the log limit: its newline. */
const LINE_OVERHEAD = 1;
/**
 * What a held line costs beyond its text, in the units of the buffer marks and the batch
 * size: its object and its time string take about this many bytes, so a stream of short
 * lines (`yes`) is held back by its memory, not by its few characters.
 */
const LINE_MEMORY = 128;

/**
 * Batches the log lines of one task try onto `swarmflow.logs` (routing key
 * `log.<tiId>`), with `seq` increasing from 1. Batches are published one after the
 * other, so they reach the broker in `seq` order.
 *
 * Memory is bounded: what it holds (the batch being filled and the batches not yet
 * confirmed) is counted, and `onPressure` tells the caller to stop reading the task's
 * output while it is over {@link BUFFER_HIGH_CHARS}; past the per-try limit (`maxChars`)
 * lines are dropped and counted, and the log says so.
 */
export class TaskLogPublisher {
  /**
   * The batch being filled, as columns: the line objects of the wire format are made only
   * when the batch is sent, so they die young instead of being promoted to the old
   * generation while the batch waits (the garbage that grew the heap on huge output).
   */
  private lines = new PendingLines();
  /** What `lines` cost: characters plus {@link LINE_MEMORY} each. */
  private lineChars = 0;
  /** The same, of the batches handed to the broker and not settled yet. */
  private publishingChars = 0;
  private pressure = false;
  /** Output characters kept so far, against `maxChars`. */
  private keptChars = 0;
  private droppedLines = 0;
  /** Batches published on `swarmflow.logs` and confirmed: their count and `seq` range. */
  private confirmed: { first: number; last: number; count: number } | null = null;
  private droppedChars = 0;
  private readonly maxChars: number;
  private readonly maxBatchChars: number;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> = Promise.resolve();
  /** Batches handed to the broker and not settled yet. */
  private inFlight = 0;
  private readonly tailBuffer: string[] = [];
  private atMs = Number.NaN;
  private atText = '';

  constructor(
    private readonly broker: Broker,
    private readonly tiId: number,
    private readonly tryNumber: number,
    private readonly options: TaskLogOptions,
  ) {
    this.seq = (options.firstSeq ?? 1) - 1;
    this.maxChars = options.maxChars ?? DEFAULT_LOG_LIMIT;
    this.maxBatchChars = options.maxBatchChars ?? DEFAULT_BATCH_CHARS;
  }

  add(stream: LogStream, text: string): void {
    const line = this.options.mask ? this.options.mask(text) : text;
    const chars = line.length + LINE_OVERHEAD;
    if (stream !== 'system') {
      if (this.droppedLines > 0 || this.keptChars + chars > this.maxChars) {
        this.drop(chars);
        return;
      }
      this.keptChars += chars;
      this.tailBuffer.push(line);
      if (this.tailBuffer.length > this.options.tailLines) this.tailBuffer.shift();
    }
    this.lines.push(this.at(), stream, line);
    this.lineChars += line.length + LINE_MEMORY;
    if (this.lines.length >= this.options.maxLines || this.lineChars >= this.maxBatchChars) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    if (!this.pressure && this.lineChars + this.publishingChars > BUFFER_HIGH_CHARS) this.setPressure(true);
  }

  /** The log says, once, that the limit was reached; the count is given at the end ({@link summarizeDropped}). */
  private drop(chars: number): void {
    if (this.droppedLines === 0) {
      this.add('system', `log limit of ${formatSize(this.maxChars)} reached: the rest of this try's output is discarded (the task keeps running)`);
    }
    this.droppedLines++;
    this.droppedChars += chars;
  }

  /** A system line with what was dropped past the limit, if anything was (call once, at the end). */
  summarizeDropped(): void {
    if (this.droppedLines === 0) return;
    this.add('system', `${this.droppedLines} line(s), ${this.droppedChars} character(s) of output were discarded past the log limit of ${formatSize(this.maxChars)}`);
  }

  /** Lines dropped past the limit so far. */
  get dropped(): { lines: number; chars: number } {
    return { lines: this.droppedLines, chars: this.droppedChars };
  }

  private setPressure(full: boolean): void {
    this.pressure = full;
    this.options.onPressure?.(full);
  }

  /**
   * The time of a line, as ISO text: one string per millisecond, shared by the lines of that
   * millisecond. A task printing short lines writes thousands per millisecond, and a string
   * each was most of the garbage that grew the worker's heap.
   */
  private at(): string {
    const now = this.options.now();
    const ms = now.getTime();
    if (ms !== this.atMs) {
      this.atMs = ms;
      this.atText = now.toISOString();
    }
    return this.atText;
  }

  /** The batches confirmed on `swarmflow.logs` so far (await {@link flush} first); null when none. */
  publishedBatches(): { first: number; last: number; count: number } | null {
    return this.confirmed === null ? null : { ...this.confirmed };
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
      const pending = this.lines;
      const seq = ++this.seq;
      const chars = this.lineChars;
      this.lines = new PendingLines();
      this.lineChars = 0;
      this.publishingChars += chars;
      const send = (): Promise<void> => {
        const batch: LogBatch = { tiId: this.tiId, tryNumber: this.tryNumber, seq, lines: pending.toLines() };
        return this.broker.publish(EXCHANGES.logs, `log.${this.tiId}`, batch).then(() => {
          const c = this.confirmed;
          this.confirmed = c === null ? { first: seq, last: seq, count: 1 } : { first: c.first, last: seq, count: c.count + 1 };
        }, this.options.onError);
      };
      // At once when no batch is in flight (most tries have one), so that it goes out before a `task.finished` published next.
      const sent = this.inFlight === 0 ? send() : this.publishing.then(send);
      this.inFlight++;
      this.publishing = sent.then(() => {
        this.inFlight--;
        this.publishingChars -= chars;
        if (this.pressure && this.publishingChars + this.lineChars < BUFFER_LOW_CHARS) this.setPressure(false);
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
    const final = { seq: ++this.seq, lines: this.lines.toLines() };
    this.lines = new PendingLines();
    this.lineChars = 0;
    return final;
  }

  /** Drops what is buffered and stops the timer (the try is abandoned). */
  discard(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lines = new PendingLines();
    this.lineChars = 0;
  }
}

/** Lines waiting for their batch, in columns (see TaskLogPublisher.lines). */
class PendingLines {
  private readonly ats: string[] = [];
  private readonly streams: LogStream[] = [];
  private readonly texts: string[] = [];

  get length(): number {
    return this.texts.length;
  }

  push(at: string, stream: LogStream, line: string): void {
    this.ats.push(at);
    this.streams.push(stream);
    this.texts.push(line);
  }

  toLines(): LogBatch['lines'] {
    return this.texts.map((line, i) => ({ at: this.ats[i], stream: this.streams[i], line }));
  }
}

function formatSize(chars: number): string {
  const mib = chars / (1024 * 1024);
  return mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${chars} characters`;
}

import { LineSplitter, MAX_LINE_LENGTH, type LineMask } from '../process/line-splitter';
import type { OutputStream } from '../process/process-executor';

const HEADER = 8;

/** A place in a container's log: the time of a frame (RFC 3339, fixed width) and how many frames of that time came up to it. */
export interface LogMark {
  time: string;
  count: number;
}

/** Docker's `since` (seconds) to read a log from `mark` on: a little before it (a double keeps about 0.1 µs); the skip does the rest. */
export function sinceOf(mark: LogMark): number {
  const seconds = Math.floor(Date.parse(`${mark.time.slice(0, 19)}Z`) / 1000);
  const fraction = Number(`0.${mark.time.slice(20, 29)}`);
  return Math.max(0, seconds + fraction - 0.000_01);
}

/**
 * Splits Docker's multiplexed log stream (containers without a TTY) into stdout and stderr
 * lines. Each frame is an 8-byte header (stream 1 = stdout, 2 = stderr; then the payload
 * length, big-endian, in bytes 4–7) and the payload; frames and lines may be cut anywhere
 * between chunks.
 */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly splitters: Record<OutputStream, LineSplitter>;
  /** With `timestamps`: the time of the last frame passed on (RFC 3339, fixed width), and how many had it. */
  private lastTime = '';
  private atLastTime = 0;
  /**
   * With `timestamps`: the latest frame time passed on, and how many frames had it. Docker
   * stamps stdout and stderr in two goroutines and writes them under a lock, so a log's
   * frames are not always in time order (up to ~12 ms apart seen here): a mark at the last
   * frame's time would hand later-stamped frames already passed on to the next reader again.
   */
  private maxTime = '';
  private atMaxTime = 0;
  /** With `timestamps`: frames up to this mark were passed on by an earlier reader (a worker that handed the container over): skipped. */
  private skip: { before: string; equal: number } | null = null;
  /** The mark given to {@link skipThrough}, as it was. */
  private skipMark: LogMark | null = null;

  /**
   * @param timestamps the log was asked for with `timestamps`: each frame starts with its
   *   time and a space, which are taken off (and remembered for {@link catchUp})
   * @param mask applied to each line before it is cut (see {@link LineSplitter})
   */
  constructor(onLine: (stream: OutputStream, line: string) => void, private readonly timestamps = false, mask: LineMask | null = null) {
    this.splitters = {
      stdout: new LineSplitter((line) => onLine('stdout', line), MAX_LINE_LENGTH, mask),
      stderr: new LineSplitter((line) => onLine('stderr', line), MAX_LINE_LENGTH, mask),
    };
  }

  write(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (data.length >= HEADER) {
      const size = data.readUInt32BE(4);
      if (data.length < HEADER + size) break;
      this.frame(data, size, this.skip);
      data = data.subarray(HEADER + size);
    }
    this.pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  /**
   * Docker's `since` (seconds) from which a {@link catchUp} reads: just before the time of
   * the last frame passed on; null when none was (or without `timestamps`).
   */
  resumeSince(): number | null {
    // A double keeps about 0.1 µs of this: ask from a little earlier, catchUp() skips what was seen.
    return this.lastTime === '' ? null : sinceOf({ time: this.lastTime, count: this.atLastTime });
  }

  /**
   * Where this reader is in the log: the time of the last frame passed on (RFC 3339, fixed
   * width, as Docker writes it) and how many frames had that time; when none was, the mark
   * of {@link skipThrough} or null (also without `timestamps`). A later reader given it ({@link skipThrough}) goes on from there.
   */
  mark(): LogMark | null {
    // Nothing passed on yet: as far as the earlier reader got.
    if (this.maxTime === '') return this.skipMark;
    // The latest time seen (see maxTime); an earlier reader may have got further within it.
    if (this.skipMark !== null && this.skipMark.time > this.maxTime) return this.skipMark;
    // At the earlier reader's time: its frames of that time count too.
    const before = this.skipMark !== null && this.skipMark.time === this.maxTime ? this.skipMark.count : 0;
    return { time: this.maxTime, count: before + this.atMaxTime };
  }

  /**
   * Frames up to `mark` (older, or as old and among the first `count` of that time) are
   * not passed on: the log is read again from {@link sinceOf}(mark) and what an earlier
   * reader passed on is left out, once.
   */
  skipThrough(mark: LogMark): void {
    this.skip = { before: mark.time, equal: mark.count };
    this.skipMark = { ...mark };
  }

  /**
   * Passes on the frames of `log` (the same log asked for again with `timestamps`, from
   * {@link resumeSince} or earlier) that come after the ones already passed on: Docker may
   * end a follow stream before it has logged a container's last output. A frame cut off at
   * the end of what was written so far is dropped first: `log` holds it whole.
   */
  catchUp(log: Buffer): void {
    this.pending = Buffer.alloc(0);
    // Nothing passed on yet: only what an earlier reader did (skipThrough), if anything, is left out.
    const skip = this.lastTime === '' ? this.skip : { before: this.lastTime, equal: this.atLastTime };
    let data = log;
    while (data.length >= HEADER) {
      const size = data.readUInt32BE(4);
      if (data.length < HEADER + size) break;
      this.frame(data, size, skip);
      data = data.subarray(HEADER + size);
    }
  }

  /** Emits the last partial lines (call once, when the stream ended). */
  end(): void {
    this.pending = Buffer.alloc(0);
    this.splitters.stdout.end();
    this.splitters.stderr.end();
  }

  /** One frame at the start of `data`; with `skip`, one seen already is not passed on. */
  private frame(data: Buffer, size: number, skip: { before: string; equal: number } | null): void {
    const stream: OutputStream = data[0] === 2 ? 'stderr' : 'stdout';
    let payload = data.subarray(HEADER, HEADER + size);
    if (this.timestamps) {
      const space = payload.indexOf(0x20);
      const time = payload.toString('latin1', 0, space < 0 ? payload.length : space);
      payload = payload.subarray(space < 0 ? payload.length : space + 1);
      if (skip !== null && (time < skip.before || (time === skip.before && skip.equal-- > 0))) return;
      // The mark's skip stays on past its first newer frame: an older one (out of time order,
      // see maxTime) may still follow, and the earlier reader passed it on.
      if (time === this.lastTime) this.atLastTime++;
      else {
        this.lastTime = time;
        this.atLastTime = 1;
      }
      if (time === this.maxTime) this.atMaxTime++;
      else if (time > this.maxTime) {
        this.maxTime = time;
        this.atMaxTime = 1;
      }
    }
    this.splitters[stream].write(payload);
  }
}

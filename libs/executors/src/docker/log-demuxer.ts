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
  /** Whole frames {@link write} has read (passed on or skipped): where this reader is in the log it was given. */
  private framesRead = 0;
  /** The first frames of the log not to pass on: an earlier reader passed them on ({@link skipFrames}). */
  private framesToSkip = 0;

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
      if (++this.framesRead > this.framesToSkip) this.frame(data, size, null);
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
   * How many frames of the log this reader has been through (passed on, or skipped as
   * {@link skipFrames} asked): a later reader of the same log, asked for with the same
   * `since`, skips that many ({@link skipFrames}) and goes on with the next frame, whatever
   * the frames' times. Docker serves a log from a given `since` in the same order every time
   * (the order it wrote it), so the count is exact where a time is not: a log's frames are
   * not in time order (stdout and stderr are stamped apart, ~12 ms seen).
   */
  framesThrough(): number {
    return Math.max(this.framesRead, this.framesToSkip);
  }

  /** The first `count` frames of the log are not passed on: an earlier reader of the log from the same `since` passed them on. */
  skipFrames(count: number): void {
    this.framesToSkip = count;
  }

  /**
   * Passes on the frames of `log` (the same log asked for again with `timestamps`, from
   * {@link resumeSince}, or when it is null from the `since` of the log given to
   * {@link write}) that come after the ones already passed on: Docker may
   * end a follow stream before it has logged a container's last output. A frame cut off at
   * the end of what was written so far is dropped first: `log` holds it whole.
   */
  catchUp(log: Buffer): void {
    this.pending = Buffer.alloc(0);
    // Nothing passed on yet: `log` is read from the stream's own `since` (resumeSince is null), and the frames it went through are left out.
    const skip = this.lastTime === '' ? null : { before: this.lastTime, equal: this.atLastTime };
    let skipCount = this.lastTime === '' ? this.framesThrough() : 0;
    let data = log;
    while (data.length >= HEADER) {
      const size = data.readUInt32BE(4);
      if (data.length < HEADER + size) break;
      if (skipCount > 0) skipCount--;
      else this.frame(data, size, skip);
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
      if (time === this.lastTime) this.atLastTime++;
      else {
        this.lastTime = time;
        this.atLastTime = 1;
      }
    }
    this.splitters[stream].write(payload);
  }
}

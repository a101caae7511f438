import { LineSplitter, MAX_LINE_LENGTH, type LineMask } from '../process/line-splitter';
import type { OutputStream } from '../process/process-executor';

const HEADER = 8;

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
      this.frame(data, size, null);
      data = data.subarray(HEADER + size);
    }
    this.pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  /**
   * Docker's `since` (seconds) from which a {@link catchUp} reads: just before the time of
   * the last frame passed on; null when none was (or without `timestamps`).
   */
  resumeSince(): number | null {
    if (this.lastTime === '') return null;
    const seconds = Math.floor(Date.parse(`${this.lastTime.slice(0, 19)}Z`) / 1000);
    const fraction = Number(`0.${this.lastTime.slice(20, 29)}`);
    // A double keeps about 0.1 µs of this: ask from a little earlier, catchUp() skips what was seen.
    return seconds + fraction - 0.000_01;
  }

  /**
   * Passes on the frames of `log` (the same log asked for again with `timestamps`, from
   * {@link resumeSince} or earlier) that come after the ones already passed on: Docker may
   * end a follow stream before it has logged a container's last output. A frame cut off at
   * the end of what was written so far is dropped first: `log` holds it whole.
   */
  catchUp(log: Buffer): void {
    this.pending = Buffer.alloc(0);
    const skip = { before: this.lastTime, equal: this.atLastTime };
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
      if (time === this.lastTime) this.atLastTime++;
      else {
        this.lastTime = time;
        this.atLastTime = 1;
      }
    }
    this.splitters[stream].write(payload);
  }
}

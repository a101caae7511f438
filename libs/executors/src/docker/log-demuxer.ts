import { LineSplitter } from '../process/line-splitter';
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
  /** Complete frames passed on so far. */
  private frames = 0;
  private readonly splitters: Record<OutputStream, LineSplitter>;

  constructor(onLine: (stream: OutputStream, line: string) => void) {
    this.splitters = {
      stdout: new LineSplitter((line) => onLine('stdout', line)),
      stderr: new LineSplitter((line) => onLine('stderr', line)),
    };
  }

  write(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (data.length >= HEADER) {
      const size = data.readUInt32BE(4);
      if (data.length < HEADER + size) break;
      const stream: OutputStream = data[0] === 2 ? 'stderr' : 'stdout';
      this.splitters[stream].write(data.subarray(HEADER, HEADER + size));
      this.frames++;
      data = data.subarray(HEADER + size);
    }
    this.pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  /**
   * Passes on the frames of `log` after the ones this demuxer has already passed on:
   * `log` is the same log read again from the same start (Docker gives one frame per log
   * entry in both modes), which may hold entries a follow stream ended before. A frame cut
   * off at the end of what was written so far is dropped first: `log` holds it whole.
   */
  catchUp(log: Buffer): void {
    this.pending = Buffer.alloc(0);
    let data = log;
    for (let skip = this.frames; skip > 0 && data.length >= HEADER; skip--) data = data.subarray(Math.min(data.length, HEADER + data.readUInt32BE(4)));
    this.write(data);
  }

  /** Emits the last partial lines (call once, when the stream ended). */
  end(): void {
    this.pending = Buffer.alloc(0);
    this.splitters.stdout.end();
    this.splitters.stderr.end();
  }
}

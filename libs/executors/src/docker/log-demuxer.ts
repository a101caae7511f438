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
      data = data.subarray(HEADER + size);
    }
    this.pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  /** Emits the last partial lines (call once, when the stream ended). */
  end(): void {
    this.pending = Buffer.alloc(0);
    this.splitters.stdout.end();
    this.splitters.stderr.end();
  }
}

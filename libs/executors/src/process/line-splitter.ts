import { StringDecoder } from 'node:string_decoder';

/** Longest line passed on, in UTF-16 code units; the rest of a longer line is counted, not kept. */
export const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Turns a byte stream into lines: keeps a partial line across chunks, decodes UTF-8
 * across chunk boundaries, drops a trailing `\r`, and caps each line at `maxLength`
 * (a marker says how much was cut) so one runaway line cannot exhaust the worker's memory.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private truncated = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLength = MAX_LINE_LENGTH,
  ) {}

  write(chunk: Buffer | string): void {
    this.split(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** Emits the last partial line, if any (call once, at the end of the stream). */
  end(): void {
    this.split(this.decoder.end());
    if (this.partial.length > 0 || this.truncated > 0) this.emitLine();
  }

  private split(text: string): void {
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline === -1) {
        this.append(text, start, text.length);
        return;
      }
      this.append(text, start, newline);
      this.emitLine();
      start = newline + 1;
    }
  }

  private append(text: string, from: number, to: number): void {
    const room = Math.max(0, this.maxLength - this.partial.length);
    const kept = Math.min(room, to - from);
    if (kept > 0) this.partial += text.slice(from, from + kept);
    this.truncated += to - from - kept;
  }

  private emitLine(): void {
    let line = this.partial.endsWith('\r') ? this.partial.slice(0, -1) : this.partial;
    if (this.truncated > 0) line += ` [… ${this.truncated} characters cut]`;
    this.partial = '';
    this.truncated = 0;
    this.emit(line);
  }
}

import { StringDecoder } from 'node:string_decoder';

/** Longest line passed on, in UTF-16 code units; the rest of a longer line is counted, not kept. */
export const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Hides secret values in a line (a task's log masker); `longest` is the length of the
 * longest text it replaces, which a line keeps beyond the cut until it is masked.
 */
export type LineMask = ((line: string) => string) & { readonly longest: number };

/**
 * Turns a byte stream into lines: keeps a partial line across chunks, decodes UTF-8
 * across chunk boundaries, drops a trailing `\r`, and caps each line at `maxLength`
 * (a marker says how much was cut) so one runaway line cannot exhaust the worker's memory.
 * With a `mask`, a line is masked before it is cut: a secret across the cut is hidden whole.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private truncated = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLength = MAX_LINE_LENGTH,
    private readonly mask: LineMask | null = null,
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
    const room = Math.max(0, this.maxLength + (this.mask?.longest ?? 0) - this.partial.length);
    const kept = Math.min(room, to - from);
    if (kept > 0) this.partial += text.slice(from, from + kept);
    this.truncated += to - from - kept;
  }

  private emitLine(): void {
    let line = this.partial.endsWith('\r') ? this.partial.slice(0, -1) : this.partial;
    let truncated = this.truncated;
    this.partial = '';
    this.truncated = 0;
    if (this.mask !== null) {
      line = this.mask(line);
      if (line.length > this.maxLength) {
        truncated += line.length - this.maxLength;
        line = line.slice(0, this.maxLength);
      }
    }
    if (truncated > 0) line += ` [… ${truncated} characters cut]`;
    this.emit(line);
  }
}

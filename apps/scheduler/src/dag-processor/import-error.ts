import { readFileSync } from 'node:fs';
import { DagValidationError } from '@swarmflow/core';

/** A compile error as esbuild (tsx's transform) words it, one per line of the message: `<path>:<line>:<column>: ERROR: <text>`. */
const COMPILE_ERROR = /^(.+):(\d+):(\d+): ERROR: (.+)$/;

/**
 * An import error as a user should read it: what is wrong and where, and no Node internals.
 * A compile error of a TypeScript file names its line and column and quotes the line; any
 * other error keeps its message and the stack frames in the file (at most 3).
 *
 * @param file the file as the DAGs folder names it (`etl/daily.ts`), which the message uses
 * @param source the file's text, to quote the line of a compile error (null: no quote)
 */
export function describeImportError(file: string, err: unknown, source: string | null): string {
  if (err instanceof DagValidationError) return err.message;
  const e = (err ?? {}) as Partial<Error>;
  const message = String(e.message ?? err);
  const compile = message.split('\n').map((line) => COMPILE_ERROR.exec(line.trim())).filter((m) => m !== null);
  if (compile.length > 0) {
    const lines = source?.split('\n') ?? [];
    const described = compile.map(([, , line, column, text]) => {
      const quoted = lines[Number(line) - 1];
      const quote = quoted === undefined ? '' : `\n  ${quoted}\n  ${' '.repeat(Number(column))}^`;
      return `${file}:${line}:${Number(column) + 1}: TypeScript syntax error: ${text}${quote}`;
    });
    return `${described.join('\n')}\nFix: correct the code at ${compile.length === 1 ? 'this line' : 'these lines'}.`;
  }
  const frames = (e.stack ?? '').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('at ') && l.includes(file)).slice(0, 3);
  const described = `${file}: ${e.name ?? 'Error'}: ${message}`.replace(/\n+/g, '\n  ');
  return frames.length ? `${described}\n  ${frames.join('\n  ')}` : described;
}

/** The file's text, or null when it cannot be read (then a compile error is not quoted). */
export function readSource(absPath: string): string | null {
  try {
    return readFileSync(absPath, 'utf8');
  } catch {
    return null;
  }
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { DagValidationError } from '@swarmflow/core';

/** A compile error as esbuild (tsx's transform) words it, one per line of the message: `<path>:<line>:<column>: ERROR: <text>`. */
const COMPILE_ERROR = /^(.+):(\d+):(\d+): ERROR: (.+)$/;
/** esbuild lists at most a few errors and ends the list with this line when there are more. */
const MORE_ERRORS = '...';
const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * An import error as a user should read it: what is wrong and where, and no Node internals.
 * A compile error names its file (the DAG file, or a module it imports), line and column,
 * and quotes the line; any other error keeps its message and the stack frames in the DAG
 * file (at most 3). `read` gives a file's text to quote (null: no quote).
 *
 * @param folder the DAGs folder
 * @param file the file as the DAGs folder names it (`etl/daily.ts`), which the message uses
 */
export function describeImportError(folder: string, file: string, err: unknown, read: (absPath: string) => string | null = readSource): string {
  if (err instanceof DagValidationError) return err.message;
  if (!(err instanceof Error)) return `${file}: the file threw ${inspect(err, { depth: 2, breakLength: Infinity })}, not an Error`;
  const messageLines = err.message.split('\n').map((line) => line.trim());
  const compile = messageLines.map((line) => COMPILE_ERROR.exec(line)).filter((m) => m !== null);
  if (compile.length > 0) {
    const described = compile.map(([, where, line, column, text]) => describeCompileError(folder, where, Number(line), Number(column), text, read));
    if (messageLines.includes(MORE_ERRORS)) described.push('(and more errors after these)');
    // A module the DAG file imports: its name leads the message, so say it is not the DAG file.
    const others = [...new Set(compile.map(([, where]) => displayName(folder, where)))].filter((name) => name !== file);
    const there = others.length ? ` (in ${others.join(', ')}, which ${file} imports)` : '';
    return `${described.join('\n')}\nFix: correct the syntax there${there}; the file is imported again at the next parse.`;
  }
  const abs = path.join(folder, file);
  const frames = (err.stack ?? '').split('\n').map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && (l.includes(`(${abs}:`) || l.startsWith(`at ${abs}:`))).slice(0, 3);
  // Where it threw: the first frame in the DAG file (`boom.ts:3`), else the first in the
  // folder (a helper module it imports: `_shared/config.ts:7, imported by boom.ts`).
  const line = (frame: string | undefined, at: string) => frame && new RegExp(`${escapeRegExp(at)}:(\\d+):\\d+\\)?$`).exec(frame)?.[1];
  // The first frame in the folder: where it threw, in the DAG file or in a helper module.
  const local = (err.stack ?? '').split('\n').map((l) => l.trim())
    .map((l) => /\(?([^()\s]+):(\d+):\d+\)?$/.exec(l))
    .find((m) => m && !m[1].includes('node_modules') && !path.relative(folder, m[1]).startsWith('..') && path.isAbsolute(m[1]));
  const helper = local && local[1] !== abs ? `${path.relative(folder, local[1])}:${local[2]}` : null;
  let where = file;
  const own = line(frames[0], abs);
  if (own) where = `${file}:${own}`;
  else if (helper) where = `${helper}, imported by ${file}`;
  const described = `${where}: ${err.name}: ${err.message}`.replace(/\n+/g, '\n  ');
  // Thrown in a helper, called from the DAG file's line: both lines, each named for its file.
  const thrownIn = own && helper ? [`thrown in ${helper}, a module ${file} imports`] : [];
  const details = [...thrownIn, ...frames];
  return details.length ? `${described}\n  ${details.join('\n  ')}` : described;
}

/**
 * `etl/daily.ts:2:47: TypeScript syntax error: Unexpected "}"`, then the line and a caret
 * under the column. esbuild counts lines from 1 and columns from 0 in UTF-8 bytes.
 */
function describeCompileError(folder: string, where: string, line: number, column: number, text: string, read: (absPath: string) => string | null): string {
  const name = displayName(folder, where);
  const quoted = read(where)?.split(/\r?\n/)[line - 1];
  const kind = TYPESCRIPT.test(where) ? 'TypeScript syntax error' : 'syntax error';
  if (quoted === undefined) return `${name}:${line}:${column + 1}: ${kind}: ${text}`;
  const before = Buffer.from(quoted).subarray(0, column).toString();
  // Tabs stay tabs, so the caret lines up however the terminal shows them.
  const indent = before.replace(/[^\t]/g, ' ');
  return `${name}:${line}:${before.length + 1}: ${kind}: ${text}\n  ${quoted}\n  ${indent}^`;
}

/** A path as the DAGs folder names it (`lib/util.ts`); a path outside the folder stays absolute. */
function displayName(folder: string, where: string): string {
  const relative = path.relative(folder, where);
  return relative.startsWith('..') || path.isAbsolute(relative) ? where : relative;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The file's text, or null when it cannot be read. */
function readSource(absPath: string): string | null {
  try {
    return readFileSync(absPath, 'utf8');
  } catch {
    return null;
  }
}

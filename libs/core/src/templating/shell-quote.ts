/**
 * Characters a word may hold and still mean itself to `/bin/sh` unquoted. A value made
 * only of these is inserted as is, so a command like `train --epochs {{ params.n }}`
 * stays a plain command the worker may exec without a shell (see `directArgv` in the
 * executors), exactly as before. `=` is left out: as a command's first word it would be
 * an assignment.
 */
const SAFE_WORD = /^[A-Za-z0-9_\-./,:@%+]+$/;

/** Where a value lands in a shell command, by the quotes the text around it opened. */
export type ShellQuoteContext = 'plain' | 'single' | 'double';

/**
 * `value` as text that `/bin/sh` reads back as exactly `value`, one word, no expansion:
 * - `plain` (unquoted, also inside `$( )` and backticks): as is when {@link SAFE_WORD},
 *   else in single quotes (`'` written `'\''`); the empty string is `''`.
 * - `single` (inside `'…'` the template wrote): only `'` needs care: `'\''`.
 * - `double` (inside `"…"`): `\`, `"`, `$` and `` ` `` backslash-escaped.
 */
export function shellQuote(value: string, context: ShellQuoteContext = 'plain'): string {
  switch (context) {
    case 'single':
      return value.replace(/'/g, `'\\''`);
    case 'double':
      return value.replace(/[\\"$`]/g, (c) => `\\${c}`);
    default:
      if (SAFE_WORD.test(value)) return value;
      return `'${value.replace(/'/g, `'\\''`)}'`;
  }
}

/** Where a value cannot be quoted safely: after an unpaired backslash, or a line break inside a here-document. */
export class UnquotableValueError extends Error {
  constructor(readonly index: number, readonly problem: string, readonly fix: string) {
    super(problem);
    this.name = 'UnquotableValueError';
  }
}

/**
 * Replaces each placeholder in `text` (found by `placeholder`, a global regex whose first
 * group is the index into `values`) with its value quoted for the place it sits in: the
 * shell's quoting state at that point of `text`, read as `/bin/sh` would read it.
 * - Nested `$( )` and backticks start a fresh unquoted context (inside double quotes too).
 * - In a `#` comment a value's line breaks become spaces, so it cannot end the comment.
 * - In a here-document's body a value is escaped for it (`\`, `$`, `` ` `` when the
 *   delimiter is unquoted, nothing when it is quoted) and may not hold a line break.
 * @throws UnquotableValueError after an unpaired backslash, or for a line break in a here-document.
 */
export function quotePlaceholders(text: string, placeholder: RegExp, values: readonly string[]): string {
  // `paren` is a `(` opened inside `$( )`: its `)` is not the one that closes the `$( )`.
  type Frame = 'plain' | 'single' | 'double' | 'subshell' | 'paren' | 'backtick' | 'comment' | 'heredoc';
  const stack: Frame[] = ['plain'];
  let out = '';
  let escaped = false; // the last character scanned was an unpaired backslash
  // Here-documents announced on the current line (`<<EOF`), read after its line break.
  const pending: { delimiter: string; quoted: boolean; tabs: boolean }[] = [];
  let heredoc: { delimiter: string; quoted: boolean; tabs: boolean } | null = null;
  let line = ''; // the here-document's line read so far
  let lineValue = -1; // the last value put on that line

  const advance = (chunk: string): void => {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const top = stack[stack.length - 1];
      const prev = i > 0 ? chunk[i - 1] : out.length > 0 ? out[out.length - 1] : ' ';
      if (top === 'heredoc') {
        if (c !== '\n') { line += c; continue; }
        const body = heredoc!.tabs ? line.replace(/^\t+/, '') : line;
        line = '';
        const value = lineValue;
        lineValue = -1;
        if (body === heredoc!.delimiter) {
          if (value >= 0) {
            throw new UnquotableValueError(value, `a {{ }} value completes the line "${body}" that ends its here-document`, 'pass the value in env or as an argument instead of in the here-document');
          }
          stack.pop();
          heredoc = null;
          if (pending.length) { heredoc = pending.shift()!; stack.push('heredoc'); }
        }
        continue;
      }
      if (escaped) {
        escaped = false;
        continue;
      }
      if (top === 'single') {
        if (c === "'") stack.pop();
      } else if (top === 'comment') {
        if (c === '\n') { stack.pop(); i--; } // the line break still starts pending here-documents
      } else if (c === '\\') {
        escaped = true;
      } else if (top === 'double') {
        if (c === '"') stack.pop();
        else if (c === '`') stack.push('backtick');
        else if (c === '$' && chunk[i + 1] === '(') { stack.push('subshell'); i++; }
      } else if (c === '\n' && pending.length) {
        heredoc = pending.shift()!;
        stack.push('heredoc');
      } else if (c === '#' && /\s|[;&|()]/.test(prev)) stack.push('comment');
      else if (c === '<' && chunk[i + 1] === '<' && chunk[i + 2] !== '<') {
        const m = /^<<(-?)[ \t]*(?:'([^']*)'|"([^"]*)"|([^\s;&|<>()]+))/.exec(chunk.slice(i));
        if (m) {
          const quoted = m[2] !== undefined || m[3] !== undefined || (m[4] ?? '').includes('\\');
          pending.push({ delimiter: (m[2] ?? m[3] ?? m[4]).replace(/\\/g, ''), quoted, tabs: m[1] === '-' });
          i += m[0].length - 1;
        }
      } else if (c === "'") stack.push('single');
      else if (c === '"') stack.push('double');
      else if (c === '`') {
        if (top === 'backtick') stack.pop();
        else stack.push('backtick');
      } else if (c === '$' && chunk[i + 1] === '(') { stack.push('subshell'); i++; }
      else if ((top === 'subshell' || top === 'paren') && c === '(') stack.push('paren');
      else if ((top === 'subshell' || top === 'paren') && c === ')') stack.pop();
    }
  };

  let last = 0;
  for (const match of text.matchAll(placeholder)) {
    const before = text.slice(last, match.index);
    advance(before);
    out += before;
    const index = Number(match[1]);
    const value = values[index];
    const top = stack[stack.length - 1];
    if (escaped && top !== 'heredoc') {
      throw new UnquotableValueError(index, 'a {{ }} value follows a backslash, which would take its first character literally', 'remove the backslash: values are quoted for the shell already');
    }
    if (top === 'comment') out += value.replace(/[\r\n]/g, ' ');
    else if (top === 'heredoc') {
      if (/[\r\n]/.test(value)) {
        throw new UnquotableValueError(index, 'a {{ }} value holding a line break is inside a here-document, where it could end the document', 'pass the value in env or as an argument instead of in the here-document');
      }
      const quoted = heredoc!.quoted ? value : value.replace(/[\\$`]/g, (ch) => `\\${ch}`);
      out += quoted;
      line += quoted;
      lineValue = index;
    } else out += shellQuote(value, top === 'single' || top === 'double' ? top : 'plain');
    last = match.index! + match[0].length;
  }
  advance(text.slice(last) + '\n'); // a last line equal to the delimiter ends the document too
  return out + text.slice(last);
}

/** What the database cannot store in text or JSON: a NUL character, or half of a surrogate pair. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The most of an import error's text that is stored; the rest is cut with a marker saying how much. */
export const MAX_ERROR_TEXT = 16 * 1024;

/**
 * `text` as it can be stored and shown: NUL as `\0`, a lone surrogate as U+FFFD, and at
 * most {@link MAX_ERROR_TEXT} characters (a longer text is cut, saying how much was left out).
 */
export function storableText(text: string, max = MAX_ERROR_TEXT): string {
  let clean = text
    .replace(/\u0000/g, '\\0')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (clean.length > max) {
    const marker = `\n… (${clean.length - max + 60} more characters cut: import errors are kept to ${max / 1024} KiB)`;
    clean = clean.slice(0, max - marker.length).replace(/[\uD800-\uDBFF]$/, '') + marker;
  }
  return clean;
}

/**
 * The path (`tasks[2].command`, `env["A\0"]`) of the first string or key in `value` that
 * the database cannot store, with what is wrong with it; null when everything can be.
 */
export function unstorableField(value: unknown, path = ''): { path: string; problem: string } | null {
  const problem = (s: string) => (s.includes('\u0000') ? 'a NUL character (\\0)' : 'half of a UTF-16 surrogate pair (invalid Unicode)');
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path: path || '(value)', problem: problem(value) } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableField(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const keyPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path ? `${path}.` : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
      if (UNSTORABLE.test(key)) return { path: keyPath, problem: `a key holding ${problem(key)}` };
      const found = unstorableField(v, keyPath);
      if (found) return found;
    }
  }
  return null;
}

/** What a secret value is replaced by in API answers, CLI output and logs. */
export const MASK = '***';

/**
 * A function that replaces every occurrence of each non-empty secret in a text by
 * {@link MASK}. Longer secrets win over secrets they contain (`abc123` is masked whole even
 * when `abc` is a secret too). Compile once and reuse for a stream of log lines.
 */
export function secretMasker(values: Iterable<string>): (text: string) => string {
  const distinct = [...new Set([...values].filter((v) => v !== ''))].sort((a, b) => b.length - a.length);
  if (distinct.length === 0) return (text) => text;
  // Alternation tries the branches in order at each position: longest first.
  const pattern = new RegExp(distinct.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, MASK);
}

/** Replaces every occurrence of each non-empty secret in `text` by `***`, longest secrets first. */
export function maskSecrets(text: string, values: Iterable<string>): string {
  return secretMasker(values)(text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Secret values shorter than this are not masked in logs: masking `a` would hide every `a`. */
export const MIN_MASKED_LENGTH = 4;

/** A log line masker: {@link secretMasker}'s function, and the length of the longest text it replaces. */
export type LogMask = ((text: string) => string) & { readonly longest: number };

const NO_MASK: LogMask = Object.defineProperty((text: string) => text, 'longest', { value: 0 }) as LogMask;

/**
 * The masker of a task try's log lines. Each secret is masked whole and, when it holds
 * several lines, line by line too (a log is read line by line, so a multi-line secret
 * shows up one line at a time); lines of it shorter than {@link MIN_MASKED_LENGTH} are
 * left alone (a `}` or an empty line). A secret shorter than that is not masked at all:
 * its name is returned in `tooShort`, for a warning in the log.
 */
export function logMasker(secrets: readonly { name: string; value: string }[]): { mask: LogMask; tooShort: string[] } {
  // Most tries mount no secret: one shared masker (a property defined on a new function per try cost ~5 µs).
  if (secrets.length === 0) return { mask: NO_MASK, tooShort: [] };
  const values: string[] = [];
  const tooShort: string[] = [];
  for (const { name, value } of secrets) {
    if (value.length < MIN_MASKED_LENGTH) {
      if (value !== '') tooShort.push(name);
      continue;
    }
    values.push(value);
    if (value.includes('\n')) {
      for (const line of value.split('\n')) {
        const text = line.endsWith('\r') ? line.slice(0, -1) : line;
        if (text.trim().length >= MIN_MASKED_LENGTH) values.push(text);
      }
    }
  }
  const mask = secretMasker(values) as LogMask;
  Object.defineProperty(mask, 'longest', { value: values.reduce((max, v) => Math.max(max, v.length), 0) });
  return { mask, tooShort: [...new Set(tooShort)] };
}

/**
 * A try's outputs with each string in them (values and keys, at any depth) passed through
 * `mask` — a try's {@link logMasker}, so that outputs hide the same secret values as its
 * log. Returns the same object when nothing changed.
 */
export function maskOutputs(outputs: Record<string, unknown>, mask: (text: string) => string): Record<string, unknown> {
  return maskValue(outputs, mask) as Record<string, unknown>;
}

function maskValue(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string') return mask(value);
  // A numeric secret (a PIN, an account number) written as a JSON number: masked as text.
  if (typeof value === 'number') {
    const text = String(value);
    const masked = mask(text);
    return masked === text ? value : masked;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => maskValue(item, mask));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  let changed = false;
  const seen = new Set<string>();
  const entries: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value)) {
    let k = mask(key);
    const v = maskValue(item, mask);
    if (k !== key || v !== item) changed = true;
    // Two keys masked to the same text keep both values apart.
    if (seen.has(k)) k = `${k}#${entries.length}`;
    seen.add(k);
    entries.push([k, v]);
  }
  // fromEntries defines own properties: a "__proto__" key stays a key.
  return changed ? Object.fromEntries(entries) : value;
}

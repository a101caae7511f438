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

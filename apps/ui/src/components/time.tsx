// Times in the user's zone, with UTC on hover; durations in words.
import { formatDuration } from './duration';

export { formatDuration };
const local = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatLocal(iso: string): string {
  return local.format(new Date(iso));
}

export function formatUtc(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A time in the user's zone; the UTC time is its tooltip. */
export function Time({ value, fallback = '—' }: { value: string | null | undefined; fallback?: string }) {
  if (!value) return <span className="muted">{fallback}</span>;
  return (
    <time dateTime={value} title={formatUtc(value)}>
      {formatLocal(value)}
    </time>
  );
}

/** From start to end (or to now, while it runs). */
export function Duration({ start, end, now = Date.now() }: { start: string | null; end: string | null; now?: number }) {
  if (!start) return <span className="muted">—</span>;
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  return <span title={end ? undefined : 'still running'}>{formatDuration(ms)}{end ? '' : '…'}</span>;
}

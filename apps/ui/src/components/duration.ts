// Durations in words (pure, so the unit project tests it).

/**
 * A duration in its largest two units: "420 ms", "4.2 s", "42 s", "4m 2s", "4h 2m", "4d 2h".
 * Rounds once, to the smallest unit shown, before splitting into units: 59.6 s is "1m 0s",
 * not "60 s", and 119.6 s "2m 0s", not "1m 60s". Negative (clock skew) and NaN show as 0 ms.
 */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) ms = 0;
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 100) return `${(tenths / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const m = Math.round(ms / 60_000);
  if (m < 24 * 60) return `${Math.floor(m / 60)}h ${m % 60}m`;
  const h = Math.round(ms / 3_600_000);
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

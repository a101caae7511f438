// Queue depth over time: a small SVG line chart per measure, one line per queue topic.
import { useMemo } from 'react';
import { formatLocal, formatUtc } from '../../components/time';
import type { QueueSample } from './types';

const PALETTE = ['#2f7ed8', '#d9822b', '#1a9e77', '#c2185b', '#7b61ff', '#6d8a00', '#b8860b', '#008b8b'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

export type Measure = 'ready' | 'unacked' | 'queued' | 'running';

/**
 * One line per queue topic of `measure` across the samples (oldest first). Lines differ by
 * colour and dash (not colour alone); hovering a point shows its time (local and UTC) and value.
 * Where more than one sample in a row is missing (no webserver was sampling, or the topic did
 * not exist), the line breaks: a gap is not drawn as a slope between the values either side.
 * The time axis spans the window asked for (`from` to `to`, the server's now), not the first to
 * the last sample: a topic that appeared ten minutes ago starts ten minutes from the right edge.
 */
export function DepthChart({ samples, measure, from, to, intervalSeconds = 15, width = 640, height = 180 }: {
  samples: QueueSample[]; measure: Measure; from: string; to: string; intervalSeconds?: number; width?: number; height?: number;
}) {
  const { series, times, max } = useMemo(() => {
    const times = [...new Set(samples.map((s) => s.at))].sort();
    const byQueue = new Map<string, Map<string, number>>();
    for (const s of samples) {
      const m = byQueue.get(s.queue) ?? new Map<string, number>();
      m.set(s.at, s[measure]);
      byQueue.set(s.queue, m);
    }
    const max = Math.max(1, ...samples.map((s) => s[measure]));
    return { series: [...byQueue.entries()].sort(([a], [b]) => a.localeCompare(b)), times, max };
  }, [samples, measure]);

  if (times.length === 0) {
    return <div className="empty small">No samples yet: the server records queue depths every 15 s while it runs (and keeps a day).</div>;
  }
  const pad = { l: 36, r: 8, t: 8, b: 22 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const t0 = Date.parse(from);
  const t1 = Math.max(t0 + 1, Date.parse(to));
  const x = (at: string) => pad.l + ((Date.parse(at) - t0) / (t1 - t0)) * w;
  const y = (v: number) => pad.t + h - (v / max) * h;
  const ticks = [0, Math.round(max / 2), max];
  return (
    <figure className="depth-chart" data-from={from} data-to={to}>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`Queue ${measure} over time, per queue topic`}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={width - pad.r} y1={y(v)} y2={y(v)} className="chart-grid" />
            <text x={pad.l - 4} y={y(v) + 4} textAnchor="end" className="chart-label">{v}</text>
          </g>
        ))}
        <text x={pad.l} y={height - 4} className="chart-label">{formatLocal(from)}</text>
        <text x={width - pad.r} y={height - 4} textAnchor="end" className="chart-label">{formatLocal(to)}</text>
        {series.map(([queue, points], i) => {
          const d = times.filter((t) => points.has(t)).map((t, j, at) => {
            const gap = j === 0 || Date.parse(t) - Date.parse(at[j - 1]!) > 2 * intervalSeconds * 1000;
            return `${gap ? 'M' : 'L'}${x(t).toFixed(1)},${y(points.get(t)!).toFixed(1)}`;
          }).join(' ');
          return (
            <g key={queue} data-queue={queue}>
              <path d={d} fill="none" stroke={PALETTE[i % PALETTE.length]} strokeWidth={2} strokeDasharray={DASHES[i % DASHES.length]} />
              {times.filter((t) => points.has(t)).map((t) => (
                <circle key={t} cx={x(t)} cy={y(points.get(t)!)} r={2.5} fill={PALETTE[i % PALETTE.length]}>
                  <title>{`${queue}: ${points.get(t)} ${measure} at ${formatLocal(t)} (${formatUtc(t)})`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption className="chart-legend">
        {series.map(([queue], i) => (
          <span key={queue}>
            <svg width="24" height="8" aria-hidden="true"><line x1="0" x2="24" y1="4" y2="4" stroke={PALETTE[i % PALETTE.length]} strokeWidth={2} strokeDasharray={DASHES[i % DASHES.length]} /></svg>
            {queue}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

// Every try across DAGs (GET /api/v1/tries): one row per try, an earlier try under its own
// worker, state and times, linked to that try on the try page; filtered by state, queue, worker, DAG and time,
// paged; the filters live in the URL (deep links). Live: reloads on task instance events.
import { useState, type FormEvent } from 'react';
import { get } from '../../api';
import { Empty, LoadError, Loading } from '../../components/common';
import { StateBadge } from '../../components/state';
import { formatDuration, Time } from '../../components/time';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import { Link, path, setQuery, useLocation } from '../../router';
import type { TriesPage } from './types';

const STATES = ['queued', 'running', 'success', 'failed', 'up_for_retry', 'skipped', 'upstream_failed', 'cached', 'scheduled', 'none', 'removed'];
const FILTERS = ['state', 'queue', 'worker', 'dag', 'since', 'until'] as const;
const PAGE = 25;

/** A datetime-local input's value as ISO (the browser's zone), or '' */
function toIso(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function TriesTable({ fixed = {} }: { fixed?: Partial<Record<(typeof FILTERS)[number], string>> }) {
  const location = useLocation();
  const value = (k: (typeof FILTERS)[number]) => fixed[k] ?? location.search.get(k) ?? '';
  const page = Math.max(1, Number(location.search.get('page') ?? '1') || 1);
  const query = new URLSearchParams();
  for (const k of FILTERS) if (value(k)) query.set(k, value(k));
  query.set('limit', String(PAGE));
  query.set('offset', String((page - 1) * PAGE));
  const key = query.toString();
  const tries = useLoad(() => get<TriesPage>(`/tries?${key}`), [key]);
  const reload = useThrottled(tries.reload, 1000);
  useEvents({ types: ['ti'] }, reload);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const field = (k: (typeof FILTERS)[number]) => draft[k] ?? (k === 'since' || k === 'until' ? toLocalInput(value(k)) : value(k));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const next: Record<string, string | null> = { page: null };
    for (const k of FILTERS) if (!(k in fixed)) next[k] = k === 'since' || k === 'until' ? toIso(field(k)) : field(k).trim();
    setDraft({});
    setQuery(next);
  };
  const total = tries.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE));

  return (
    <section aria-label="Tries">
      <form className="toolbar" onSubmit={apply} aria-label="Filter tries">
        {!('state' in fixed) && (
          <label>State{' '}
            <select value={field('state')} onChange={(e) => setDraft({ ...draft, state: e.target.value })}>
              <option value="">any</option>
              {STATES.map((s) => <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>)}
            </select>
          </label>
        )}
        {!('queue' in fixed) && <label>Queue <input value={field('queue')} onChange={(e) => setDraft({ ...draft, queue: e.target.value })} placeholder="default" size={10} /></label>}
        {!('worker' in fixed) && <label>Worker <input value={field('worker')} onChange={(e) => setDraft({ ...draft, worker: e.target.value })} size={14} /></label>}
        {!('dag' in fixed) && <label>DAG <input value={field('dag')} onChange={(e) => setDraft({ ...draft, dag: e.target.value })} size={14} /></label>}
        <label>From <input type="datetime-local" value={field('since')} onChange={(e) => setDraft({ ...draft, since: e.target.value })} /></label>
        <label>To <input type="datetime-local" value={field('until')} onChange={(e) => setDraft({ ...draft, until: e.target.value })} /></label>
        <button type="submit">Filter</button>
        <button type="button" className="ghost" onClick={() => { setDraft({}); setQuery(Object.fromEntries([...FILTERS.filter((k) => !(k in fixed)), 'page'].map((k) => [k, null]))); }}>Reset</button>
      </form>
      <LoadError load={tries} what="load the tries" />
      {!tries.data && tries.loading ? <Loading /> : null}
      {tries.data && tries.data.items.length === 0 ? (
        <Empty>No tries match these filters. Widen the time range or clear a filter; tries appear here as soon as the scheduler queues them.</Empty>
      ) : null}
      {tries.data && tries.data.items.length > 0 ? (
        <>
          <table className="table" data-testid="tries-table">
            <thead>
              <tr><th>State</th><th>DAG</th><th>Run</th><th>Task</th><th>Try</th><th>Queue</th><th>Worker</th><th>Started</th><th>Duration</th><th>Exit</th></tr>
            </thead>
            <tbody>
              {tries.data.items.map((t) => (
                <tr key={`${t.tiId}:${t.tryNumber}`} data-task={t.taskId} data-try={t.tryNumber} data-state={t.state}>
                  <td><StateBadge state={t.state} /></td>
                  <td><Link to={path('dags', t.dagId)}>{t.dagId}</Link></td>
                  <td><Link to={path('dags', t.dagId, 'runs', t.runId)}>{t.runId}</Link></td>
                  <td><Link to={path('dags', t.dagId, 'runs', t.runId, 'tasks', t.taskId)}>{t.taskId}</Link></td>
                  <td><Link to={`${path('dags', t.dagId, 'runs', t.runId, 'tasks', t.taskId)}?try=${t.tryNumber}`} title={`try ${t.tryNumber} of ${t.maxTries}`}>{t.tryNumber}/{t.maxTries}</Link></td>
                  <td>{t.queue}</td>
                  <td>{t.worker ? <Link to={path('workers', t.worker)}>{t.worker}</Link> : <span className="muted">—</span>}</td>
                  <td>{t.startedAt || !t.queuedAt ? <Time value={t.startedAt} /> : <span className="muted" title="not started yet: when it was queued">queued <Time value={t.queuedAt} /></span>}</td>
                  <td>{t.durationSeconds === null ? <span className="muted">—</span> : formatDuration(t.durationSeconds * 1000)}</td>
                  <td title={t.reason ?? undefined}>{t.exitCode ?? <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="toolbar" aria-label="Pages">
            <button type="button" disabled={page <= 1} onClick={() => setQuery({ page: String(page - 1) })}>← Newer</button>
            <span className="muted">Page {page} of {pages} · {total} tr{total === 1 ? 'y' : 'ies'}</span>
            <button type="button" disabled={page >= pages} onClick={() => setQuery({ page: String(page + 1) })}>Older →</button>
          </nav>
        </>
      ) : null}
    </section>
  );
}

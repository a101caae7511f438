// DAGs: search, tags, paused toggle, schedule, next run, the last runs' states, import errors flagged.
import { memo, useCallback, useEffect, useMemo, useState } from 'react';
import { apiPath, get, patch } from '../../api';
import type { DagSummaryDto, ImportErrorDto, RunRefDto } from '../../api-types';
import { useCan } from '../../auth';
import { Empty, ErrorBox, LoadError, Loading, PageTitle, PauseState } from '../../components/common';
import { StateBadge } from '../../components/state';
import { Time } from '../../components/time';
import { useWindowedRows } from '../../components/windowed-rows';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import { Link, path, setQuery, useLocation } from '../../router';

export function DagListPage() {
  const location = useLocation();
  const search = location.search.get('q') ?? '';
  const tag = location.search.get('tag');
  const show = location.search.get('show') ?? 'all';
  const dags = useLoad(() => get<DagSummaryDto[]>('/dags'), []);
  // Each DAG comes with its last runs (the API's recentRuns): one request, whatever the other DAGs run.
  // Every file that fails to import, those that never imported (no DAG on this list) included.
  const importErrors = useLoad(() => get<ImportErrorDto[]>('/import-errors'), []);
  const reload = useThrottled(() => { dags.reload(); importErrors.reload(); }, 1000);
  useEvents({ types: ['run', 'dag'] }, reload);
  const canWrite = useCan('operator');
  const [pausing, setPausing] = useState<string | null>(null);
  const [actionError, setActionError] = useState<Parameters<typeof ErrorBox>[0]['error']>(null);

  // "/" focuses the search, as on most sites' lists.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key !== '/' || target.closest('input, textarea, select, [contenteditable]')) return;
      e.preventDefault();
      document.querySelector<HTMLInputElement>('input[aria-label="Search DAGs"]')?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const allTags = useMemo(() => [...new Set((dags.data ?? []).flatMap((d) => d.tags))].sort(), [dags.data]);
  // The count is GET /import-errors' (files that never imported have no DAG to flag); until it answers, '…':
  // the DAGs' flags alone would undercount. If it fails, the flagged DAGs.
  const errors = importErrors.data?.length ?? (importErrors.error ? (dags.data ?? []).filter((d) => d.importError).length : null);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (dags.data ?? []).filter((d) =>
      (!q || d.dagId.toLowerCase().includes(q) || (d.description ?? '').toLowerCase().includes(q) || d.tags.some((t) => t.toLowerCase().includes(q))) &&
      (!tag || d.tags.includes(tag)) &&
      (show === 'all' || (show === 'paused' ? d.isPaused : show === 'active' ? !d.isPaused : Boolean(d.importError))),
    );
  }, [dags.data, search, tag, show]);

  const reloadDags = dags.reload;
  const togglePause = useCallback(async (dag: DagSummaryDto) => {
    setPausing(dag.dagId);
    setActionError(null);
    try {
      await patch(apiPath('dags', dag.dagId), { isPaused: !dag.isPaused });
      reloadDags();
    } catch (err) {
      setActionError(err as never);
    } finally {
      setPausing(null);
    }
  }, [reloadDags]);

  return (
    <>
      <PageTitle actions={<Link to="/import-errors" className={errors ? 'button danger' : 'button'} data-testid="import-errors-link">Import errors{errors === null ? ' (…)' : errors ? ` (${errors})` : ''}</Link>}>DAGs</PageTitle>
      <div className="toolbar">
        <input type="search" placeholder="Search DAGs, descriptions, tags… (press /)" aria-label="Search DAGs" value={search} onChange={(e) => setQuery({ q: e.target.value })} style={{ minWidth: 340 }} />
        <select aria-label="Show" value={show} onChange={(e) => setQuery({ show: e.target.value === 'all' ? null : e.target.value })}>
          <option value="all">All</option>
          <option value="active">Active</option>
          <option value="paused">Paused</option>
          <option value="errors">With import errors</option>
        </select>
        <span className="muted small">Tags:</span>
        {allTags.map((t) => (
          <button key={t} type="button" className={`tag${t === tag ? ' selected' : ''}`} aria-pressed={t === tag} onClick={() => setQuery({ tag: t === tag ? null : t })}>
            {t}
          </button>
        ))}
        <span className="muted small" style={{ marginLeft: 'auto' }}>{dags.data ? `${shown.length} of ${dags.data.length}` : ''}</span>
      </div>
      <LoadError load={dags} what="list the DAGs" />
      <ErrorBox error={actionError} what="pause or unpause" />
      {dags.data === undefined ? (
        dags.error ? null : <Loading />
      ) : dags.data.length === 0 ? (
        <Empty>No DAGs yet. Put a DAG file in the DAGs folder (<code>--dags</code> or <code>SWARMFLOW_DAGS_FOLDER</code>); it is parsed within seconds.</Empty>
      ) : shown.length === 0 ? (
        <Empty>No DAG matches. <button type="button" onClick={() => setQuery({ q: null, tag: null, show: null })}>Clear the filters</button></Empty>
      ) : (
        <DagTable dags={shown} canWrite={canWrite} pausing={pausing} togglePause={togglePause} />
      )}
    </>
  );
}

/** Row height of the DAG table (CSS: .dag-table tbody tr), until a rendered row is measured. */
const DAG_ROW = 51;

/**
 * The DAGs, one row each. A long list renders only the rows in or near the view (windowed
 * over the page's scroll; the others are spacers), each row memoised: 1,000 DAGs render in
 * the time of a few dozen.
 */
function DagTable({ dags, canWrite, pausing, togglePause }: {
  dags: DagSummaryDto[]; canWrite: boolean; pausing: string | null; togglePause: (dag: DagSummaryDto) => void;
}) {
  const rows = useWindowedRows<HTMLTableElement>(dags.length, { pitch: DAG_ROW, from: 100, overscan: 10, scroller: 'window', measure: 'tbody tr[data-dag]' });
  return (
    <table className="table dag-table" data-testid="dag-table" ref={rows.ref} data-rows={`${rows.start}-${rows.end}`}>
      <colgroup>
        <col style={{ width: 80 }} /><col /><col style={{ width: 130 }} /><col style={{ width: 180 }} /><col style={{ width: 150 }} /><col style={{ width: '22%' }} />
      </colgroup>
      <thead>
        <tr>
          <th>Active</th>
          <th>DAG</th>
          <th>Schedule</th>
          <th>Next run</th>
          <th>Last runs</th>
          <th>Tags</th>
        </tr>
      </thead>
      <tbody>
        {rows.start > 0 ? <tr aria-hidden="true" className="spacer" style={{ height: rows.start * DAG_ROW }} /> : null}
        {dags.slice(rows.start, rows.end).map((dag) => (
          <DagRow key={dag.dagId} dag={dag} canWrite={canWrite} pausing={pausing === dag.dagId} togglePause={togglePause} />
        ))}
        {rows.end < dags.length ? <tr aria-hidden="true" className="spacer" style={{ height: (dags.length - rows.end) * DAG_ROW }} /> : null}
      </tbody>
    </table>
  );
}

const DagRow = memo(function DagRow({ dag, canWrite, pausing, togglePause }: {
  dag: DagSummaryDto; canWrite: boolean; pausing: boolean; togglePause: (dag: DagSummaryDto) => void;
}) {
  // An older server sends only lastRun.
  const runs: RunRefDto[] = dag.recentRuns ?? (dag.lastRun ? [dag.lastRun] : []);
  return (
    <tr data-dag={dag.dagId}>
      <td>
        {canWrite ? (
          <label className="inline switch" title={dag.isPaused ? 'Paused: no new runs, no new tasks' : 'Active'}>
            <input
              type="checkbox" role="switch" checked={!dag.isPaused} disabled={pausing}
              aria-label={`${dag.isPaused ? 'Unpause' : 'Pause'} ${dag.dagId}`} onChange={() => togglePause(dag)}
            />
            <span className="small muted">{dag.isPaused ? 'paused' : 'on'}</span>
          </label>
        ) : <PauseState paused={dag.isPaused} />}
      </td>
      <td className="dag-name">
        <Link to={path('dags', dag.dagId)}><strong>{dag.dagId}</strong></Link>
        {dag.importError ? (
          <Link to={`/import-errors?file=${encodeURIComponent(dag.fileloc)}`} className="import-flag" title={dag.importError.message}>
            {' '}⚠ import error
          </Link>
        ) : null}
        <div className="muted small" title={dag.description ?? undefined}>{dag.description ?? '\u00a0'}</div>
      </td>
      <td>{dag.schedule ? <code>{dag.schedule}</code> : <span className="muted" title="No schedule: it runs only when triggered">manual</span>}</td>
      <td><Time value={dag.nextRun} fallback={dag.isPaused ? 'paused' : '—'} /></td>
      <td>
        <span className="recent-runs">
          {runs.map((r) => (
            <Link key={r.runId} to={path('dags', dag.dagId, 'runs', r.runId)} title={`${r.runId}: ${r.state}`}>
              <StateBadge state={r.state} compact />
            </Link>
          ))}
          {runs.length === 0 ? <span className="muted small">no runs</span> : null}
        </span>
      </td>
      <td className="dag-tags">
        {dag.tags.map((t) => (
          <button key={t} type="button" className="tag" onClick={() => setQuery({ tag: t })}>{t}</button>
        ))}
      </td>
    </tr>
  );
});

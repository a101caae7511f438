// One DAG: grid (runs × tasks), graph (dagre, live states), definition of a version, runs with filters.
import { useEffect, useMemo, useState } from 'react';
import { apiPath, get, patch, type ApiError } from '../../api';
import type { DagDetailDto, GridDto, RunDto } from '../../api-types';
import { Can, useCan } from '../../auth';
import { Empty, ErrorBox, LoadError, Loading, PageTitle, PauseState } from '../../components/common';
import { DagGraph } from '../../components/dag-graph';
import { RunGrid } from '../../components/grid';
import { delegateLinkClicks } from '../../components/nav-clicks';
import { StateBadge } from '../../components/state';
import { Duration, Time } from '../../components/time';
import { useEvents, type ConnectionState } from '../../events';
import { prefetch, takePrefetched, useLoad, useThrottled } from '../../hooks';
import { Link, path, setQuery, useLocation } from '../../router';

const TABS = [
  { id: 'grid', label: 'Grid' },
  { id: 'graph', label: 'Graph' },
  { id: 'runs', label: 'Runs' },
  { id: 'definition', label: 'Definition' },
] as const;

/**
 * Where to go from a page whose DAG, run or task does not exist, by the API's 404 reason: the
 * DAGs for a missing DAG, the DAG's runs for a missing run, the run's tasks for a missing task.
 */
export function elsewhereThan(error: ApiError | null, dagId: string, runId?: string): { to: string; label: string } | undefined {
  if (error?.status !== 404) return undefined;
  if (error.reason === 'dag_not_found' || runId === undefined) return { to: '/dags', label: 'Go to the DAGs' };
  if (error.reason === 'run_not_found') return { to: `${path('dags', dagId)}?tab=runs`, label: `See the runs of ${dagId}` };
  return { to: path('dags', dagId, 'runs', runId), label: `See the tasks of run ${runId}` };
}

/**
 * Reloads on live events of this DAG (coalesced); while the live feed is down, every few
 * seconds instead, so the page never shows a stale state for long.
 */
export function useLiveReload(filter: { dagId: string; runId?: string }, reload: () => void, everyMsWhenOffline = 3000): ConnectionState {
  const throttled = useThrottled(reload, 300);
  const connection = useEvents({ types: ['ti', 'run'], ...filter }, throttled);
  const live = connection === 'open';
  useEffect(() => {
    if (live) return;
    const timer = window.setInterval(reload, everyMsWhenOffline);
    return () => window.clearInterval(timer);
  }, [live, reload, everyMsWhenOffline]);
  return connection;
}

/** The grid's API path: its first answer is fetched together with the DAG's (prefetch). */
const gridPath = (dagId: string, limit: number) => `${apiPath('dags', dagId, 'grid')}?limit=${limit}`;
const gridLimit = (search: URLSearchParams) => Number(search.get('runs') ?? 25);

export function DagPage({ dagId, tab }: { dagId: string; tab: string }) {
  const search = useLocation().search;
  const firstGrid = tab === 'grid' ? gridPath(dagId, gridLimit(search)) : null;
  useState(() => firstGrid && prefetch(firstGrid, () => get<GridDto>(firstGrid)));
  const dag = useLoad(() => get<DagDetailDto>(apiPath('dags', dagId)), [dagId]);
  // Paused elsewhere (CLI, API, another tab), a new version, its file broken or fixed: the server's `dag` events.
  const reloadDag = useThrottled(dag.reload, 500);
  useEvents({ types: ['dag'] }, (e) => {
    if (e.type === 'resync' || e.data.dagId === dagId || e.data.dagId === null) reloadDag();
  });
  const canWrite = useCan('operator');
  const [pauseError, setPauseError] = useState<Parameters<typeof ErrorBox>[0]['error']>(null);
  const togglePause = async () => {
    if (!dag.data) return;
    try {
      await patch(apiPath('dags', dagId), { isPaused: !dag.data.isPaused });
      setPauseError(null);
      dag.reload();
    } catch (err) {
      setPauseError(err as never);
    }
  };
  return (
    <>
      <div className="crumbs"><Link to="/dags">DAGs</Link> /</div>
      <PageTitle
        actions={
          <>
            {dag.data ? (
              canWrite ? (
                <label className="inline switch">
                  <input type="checkbox" role="switch" checked={!dag.data.isPaused} onChange={togglePause} aria-label={dag.data.isPaused ? 'Unpause' : 'Pause'} />
                  {dag.data.isPaused ? 'paused' : 'active'}
                </label>
              ) : <PauseState paused={dag.data.isPaused} />
            ) : null}
            {dag.data || !dag.error ? (
              <Can role="operator">
                <Link to={path('dags', dagId, 'trigger')} className="button primary">▶ Trigger</Link>
              </Can>
            ) : null}
          </>
        }
      >
        {dagId}
      </PageTitle>
      <LoadError load={dag} what={`load DAG ${dagId}`} elsewhere={elsewhereThan(dag.error, dagId)} />
      <ErrorBox error={pauseError} what="pause or unpause" />
      {dag.data ? (
        <>
          {dag.data.description ? <p className="muted" style={{ marginTop: 0 }}>{dag.data.description}</p> : null}
          {dag.data.importError ? (
            <div className="warn-box">
              ⚠ Its file <code>{dag.data.fileloc}</code> fails to import; the last version that imported is shown and runs.{' '}
              <Link to={`/import-errors?file=${encodeURIComponent(dag.data.fileloc)}`}>See the error</Link>
            </div>
          ) : null}
          <div className="muted small" style={{ marginBottom: 8 }}>
            Schedule {dag.data.schedule ? <code>{dag.data.schedule}</code> : 'manual'} · next run <Time value={dag.data.nextRun} /> · tags {dag.data.tags.join(', ') || '—'} ·
            file <code>{dag.data.fileloc}</code>
          </div>
          <nav className="tabs" aria-label="DAG views">
            {TABS.map((t) => (
              <Link key={t.id} to={`${path('dags', dagId)}?tab=${t.id}`} className={tab === t.id ? 'active' : undefined} aria-current={tab === t.id ? 'page' : undefined}>
                {t.label}
              </Link>
            ))}
          </nav>
          {tab === 'graph' ? <GraphTab dag={dag.data} /> :
            tab === 'runs' ? <RunsTab dagId={dagId} latest={dag.data.latestVersion} /> :
            tab === 'definition' ? <DefinitionTab dag={dag.data} /> :
            <GridTab dag={dag.data} />}
        </>
      ) : dag.error ? null : <Loading />}
    </>
  );
}

function GridTab({ dag }: { dag: DagDetailDto }) {
  const limit = gridLimit(useLocation().search);
  const grid = useLoad(() => {
    const at = gridPath(dag.dagId, limit);
    return takePrefetched<GridDto>(at) ?? get<GridDto>(at);
  }, [dag.dagId, limit]);
  useLiveReload({ dagId: dag.dagId }, grid.reload);
  const taskIds = useMemo(() => {
    const ids = dag.tasks.map((t) => t.taskId);
    // Tasks of older versions that the current one no longer has, after the current ones.
    const known = new Set(ids);
    for (const run of grid.data?.runs ?? []) {
      for (const ti of run.taskInstances) {
        if (!known.has(ti.taskId)) {
          known.add(ti.taskId);
          ids.push(ti.taskId);
        }
      }
    }
    return ids;
  }, [dag.tasks, grid.data]);
  return (
    <>
      <div className="toolbar">
        <label className="inline">
          Runs
          <select value={limit} onChange={(e) => setQuery({ runs: e.target.value })}>
            {[10, 25, 50, 100].map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <Legend />
      </div>
      <LoadError load={grid} what="load the grid" />
      {grid.data ? (
        <div onClick={delegateLinkClicks}>
          <RunGrid dagId={dag.dagId} taskIds={taskIds} runs={grid.data.runs} />
        </div>
      ) : grid.error ? null : <Loading />}
    </>
  );
}

export function Legend() {
  return (
    <span className="legend" aria-label="Legend">
      {['success', 'cached', 'running', 'queued', 'scheduled', 'up_for_retry', 'failed', 'upstream_failed', 'skipped', 'removed', 'none'].map((s) => <StateBadge key={s} state={s} />)}
    </span>
  );
}

function GraphTab({ dag }: { dag: DagDetailDto }) {
  const runParam = useLocation().search.get('run');
  const grid = useLoad(() => get<GridDto>(`${apiPath('dags', dag.dagId, 'grid')}?limit=25`), [dag.dagId]);
  useLiveReload({ dagId: dag.dagId }, grid.reload);
  const runs = grid.data?.runs ?? [];
  const run = runs.find((r) => r.runId === runParam) ?? runs[0] ?? null;
  // A run pinned to an older version is drawn with that version's tasks and edges, as it runs them.
  const pinned = run && run.versionHash !== dag.latestVersion ? run.versionHash : null;
  const version = useLoad(
    () => (pinned ? get<DagDetailDto>(apiPath('dags', dag.dagId, 'versions', pinned)) : Promise.resolve(null)), [dag.dagId, pinned],
  );
  // The run, and so the version to draw, is known once the grid answers: until then nothing is drawn (the
  // latest version's tasks, drawn meanwhile, are not those of a run pinned to an older one). Without the
  // grid (it failed), the latest version, without states.
  const tasks = grid.data === undefined ? (grid.error ? dag.tasks : undefined) : pinned ? version.data?.tasks : dag.tasks;
  return (
    <>
      <div className="toolbar">
        <label className="inline">
          Run
          <select value={run?.runId ?? ''} onChange={(e) => setQuery({ run: e.target.value })} disabled={runs.length === 0}>
            {runs.length === 0 ? <option value="">{grid.data ? 'no runs yet' : grid.error ? 'runs not loaded' : 'loading the runs…'}</option> : null}
            {runs.map((r) => <option key={r.runId} value={r.runId}>{r.runId} ({r.state})</option>)}
          </select>
        </label>
        {run ? <StateBadge state={run.state} /> : null}
        {pinned ? (
          <span className="muted small" data-testid="graph-version">
            this run is pinned to an older version (<Link to={`${path('dags', dag.dagId)}?tab=definition&version=${pinned}`}><code>{pinned.slice(0, 10)}</code></Link>): the graph shows it
          </span>
        ) : null}
        <Legend />
      </div>
      <LoadError load={grid} what="load the runs" />
      <ErrorBox error={pinned ? version.error : null} what="load the run's version" />
      {tasks ? (
        <DagGraph dagId={dag.dagId} tasks={tasks} runId={run?.runId ?? null} instances={run?.taskInstances ?? []} />
      ) : version.error ? null : <Loading />}
    </>
  );
}

const RUN_STATES = ['queued', 'running', 'success', 'failed'];

export function RunsTable({ runs, showDag = false, latest }: { runs: RunDto[]; showDag?: boolean; latest?: string }) {
  return (
    <table className="table" data-testid="runs-table">
      <thead>
        <tr>
          <th>State</th>
          {showDag ? <th>DAG</th> : null}
          <th>Run</th>
          <th>Type</th>
          <th>Logical date</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Version</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={`${r.dagId}/${r.runId}`}>
            <td><StateBadge state={r.state} /></td>
            {showDag ? <td><Link to={path('dags', r.dagId)}>{r.dagId}</Link></td> : null}
            <td><Link to={path('dags', r.dagId, 'runs', r.runId)}>{r.runId}</Link></td>
            <td>{r.runType}</td>
            <td><Time value={r.logicalDate} /></td>
            <td><Time value={r.startedAt} /></td>
            <td><Duration start={r.startedAt} end={r.endedAt} /></td>
            <td>
              <Link to={`${path('dags', r.dagId)}?tab=definition&version=${r.versionHash}`}><code>{r.versionHash.slice(0, 10)}</code></Link>
              {latest && r.versionHash !== latest ? <span className="muted small"> (older)</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RunsTab({ dagId, latest }: { dagId: string; latest: string }) {
  const search = useLocation().search;
  const state = search.get('state') ?? '';
  const limit = search.get('limit') ?? '100';
  const q = search.get('q') ?? '';
  // The API filters, over all the DAG's runs (not only the newest `limit`).
  const runs = useLoad(() => get<RunDto[]>(`${apiPath('dags', dagId, 'runs')}?${runsQuery({ state, limit, q })}`), [dagId, state, limit, q.trim()]);
  useLiveReload({ dagId }, runs.reload);
  const shown = runs.data ?? [];
  return (
    <>
      <RunFilters state={state} limit={limit} q={q} />
      <LoadError load={runs} what="list the runs" />
      {runs.data === undefined ? (runs.error ? null : <Loading />) : shown.length === 0 ? (
        state || q.trim() ? <NoRunMatches /> : (
          <Empty>No runs yet. <Can role="operator"><Link to={path('dags', dagId, 'trigger')}>Trigger one</Link>.</Can></Empty>
        )
      ) : <RunsTable runs={shown} latest={latest} />}
    </>
  );
}

/** The query string of a runs list: state, search (`q`, matched by the API) and how many. */
export function runsQuery({ state, limit, q }: { state: string; limit: string; q: string }): string {
  const params = new URLSearchParams({ limit });
  if (state) params.set('state', state);
  if (q.trim()) params.set('q', q.trim());
  return params.toString();
}

/** A runs list whose filters match nothing (there may be runs). */
export function NoRunMatches() {
  return <Empty>No run matches these filters. <button type="button" onClick={() => setQuery({ q: null, state: null })}>Clear the filters</button></Empty>;
}

export function RunFilters({ state, limit, q }: { state: string; limit: string; q: string }) {
  return (
    <div className="toolbar">
      <input type="search" placeholder="Run id, DAG id or run type…" aria-label="Filter runs" value={q} onChange={(e) => setQuery({ q: e.target.value })} />
      <select aria-label="State" value={state} onChange={(e) => setQuery({ state: e.target.value })}>
        <option value="">Any state</option>
        {RUN_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
      </select>
      <select aria-label="How many" value={limit} onChange={(e) => setQuery({ limit: e.target.value })}>
        {['25', '100', '500', '1000'].map((n) => <option key={n} value={n}>newest {n}</option>)}
      </select>
    </div>
  );
}

function DefinitionTab({ dag }: { dag: DagDetailDto }) {
  const requested = useLocation().search.get('version') ?? dag.latestVersion;
  const version = useLoad(
    () => (requested === dag.latestVersion ? Promise.resolve(dag) : get<DagDetailDto>(apiPath('dags', dag.dagId, 'versions', requested))),
    // Not the DAG object: a live reload of the same version must not blank the tab.
    [dag.dagId, dag.latestVersion, requested],
  );
  const shown = version.data;
  return (
    <>
      <p className="small">
        Version <code>{requested}</code> {requested === dag.latestVersion ? '(the latest)' : <>— an older one; <Link to={`${path('dags', dag.dagId)}?tab=definition`}>show the latest</Link></>}. From{' '}
        <code>{dag.fileloc}</code>; a run runs the version it was created with.
      </p>
      <LoadError load={version} what="load this version" />
      {shown ? (
        <>
          <h2 className="h2">Params</h2>
          {Object.keys(shown.params).length === 0 ? <p className="muted">None.</p> : (
            <table className="table" style={{ marginBottom: 16 }}>
              <thead><tr><th>Name</th><th>Type</th><th>Default</th><th>Allowed</th><th>Description</th></tr></thead>
              <tbody>
                {Object.entries(shown.params).map(([name, p]) => (
                  <tr key={name}>
                    <td><code>{name}</code></td><td>{p.type}</td><td><code>{JSON.stringify(p.default)}</code></td>
                    <td className="small">{[p.enum ? `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}` : null, p.minimum !== undefined ? `≥ ${p.minimum}` : null, p.maximum !== undefined ? `≤ ${p.maximum}` : null, p.pattern ? `/${p.pattern}/` : null].filter(Boolean).join(' · ') || '—'}</td>
                    <td>{p.description ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2 className="h2">Tasks</h2>
          <table className="table" style={{ marginBottom: 16 }}>
            <thead><tr><th>Task</th><th>Kind</th><th>Command / image</th><th>Upstream</th><th>Queue</th><th>Retries</th><th>Trigger rule</th></tr></thead>
            <tbody>
              {shown.tasks.map((t) => (
                <tr key={t.taskId}>
                  <td><code>{t.taskId}</code></td>
                  <td>{t.kind}</td>
                  <td className="small"><code>{t.docker ? `${t.docker.image} ` : ''}{Array.isArray(t.command) ? t.command.join(' ') : t.command}</code></td>
                  <td className="small">{t.upstream.join(', ') || '—'}</td>
                  <td>{t.queue}</td>
                  <td>{t.retries}</td>
                  <td className="small">{t.triggerRule}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details>
            <summary>As JSON</summary>
            <pre data-testid="definition-json">{JSON.stringify({ dagId: shown.dagId, schedule: shown.schedule, catchup: shown.catchup, maxActiveRuns: shown.maxActiveRuns, maxActiveTasks: shown.maxActiveTasks, params: shown.params, tasks: shown.tasks }, null, 2)}</pre>
          </details>
        </>
      ) : version.error ? null : <Loading />}
    </>
  );
}

// The Flower-like workers dashboard: every worker (state, queues, slots, GPUs, running tries
// linked to their runs, processed/failed, heartbeat age, version, uptime) with drain,
// shutdown and resume for operators; the queue topics (ready, unacked, consumers) with their
// depth over time; and every try across DAGs. Live through the events feed.
import { useEffect, useMemo, useState } from 'react';
import './workers.css';
import { ApiError, apiPath, get, post } from '../../api';
import { useCan } from '../../auth';
import { Empty, ErrorBox, LoadError, Loading, PageTitle } from '../../components/common';
import { formatDuration, Time } from '../../components/time';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import type { RouteDef } from '../../router';
import { Link, path, setQuery, useLocation } from '../../router';
import { DepthChart, type Measure } from './depth-chart';
import { TriesTable } from './tries-table';
import type { QueueDto, QueueHistory, TriesPage, TryRow, WorkerCommandResultDto, WorkerDto } from './types';

const WORKER_ICON: Record<string, string> = { active: '▶', draining: '‖', stopping: '■', stopped: '□', lost: '⚠' };
const WORKER_HINT: Record<string, string> = {
  active: 'takes work',
  draining: 'takes no new task, finishes the running ones, stays up (resume makes it active)',
  stopping: 'takes no new task, exits once the running ones are reported',
  stopped: 'has exited',
  lost: 'no heartbeat for too long: its tries were failed or queued again',
};

/** A worker's state: icon + word + colour. */
export function WorkerState({ state }: { state: string }) {
  return (
    <span className={`state wstate-${state}`} title={WORKER_HINT[state] ?? state} data-worker-state={state}>
      <span aria-hidden="true" className="state-icon">{WORKER_ICON[state] ?? '?'}</span>
      <span>{state}</span>
    </span>
  );
}

/** Seconds ticking up from a time, re-rendered every second. */
function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

function Slots({ used, total }: { used: number; total: number }) {
  const free = Math.max(0, total - used);
  return (
    <span className="slots" title={`${used} of ${total} slots used, ${free} free`}>
      <meter min={0} max={Math.max(1, total)} value={used} aria-label={`${used} of ${total} slots used`} /> {used}/{total}
      <span className="muted small"> ({free} free)</span>
    </span>
  );
}

function WorkerActions({ worker, onDone }: { worker: WorkerDto; onDone: (message: string | ApiError) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const send = async (command: 'drain' | 'shutdown' | 'resume') => {
    setBusy(command);
    try {
      const res = await post<WorkerCommandResultDto>(apiPath('workers', worker.name, command));
      onDone(res.message);
    } catch (err) {
      onDone(err as ApiError);
    } finally {
      setBusy(null);
      setConfirming(false);
    }
  };
  if (worker.state === 'stopped' || worker.state === 'lost') return <span className="muted small">—</span>;
  return (
    <span className="row-actions">
      {worker.state === 'active' ? (
        <button type="button" disabled={busy !== null} onClick={() => send('drain')} aria-label={`Drain ${worker.name}`}>Drain</button>
      ) : null}
      {worker.state === 'draining' ? (
        <button type="button" disabled={busy !== null} onClick={() => send('resume')} aria-label={`Resume ${worker.name}`}>Resume</button>
      ) : null}
      {worker.state !== 'stopping' ? (
        confirming ? (
          <button type="button" className="danger" disabled={busy !== null} onClick={() => send('shutdown')} aria-label={`Confirm shutdown of ${worker.name}`}>Confirm shutdown</button>
        ) : (
          <button type="button" className="ghost" disabled={busy !== null} onClick={() => setConfirming(true)} aria-label={`Shut down ${worker.name}`}>Shut down…</button>
        )
      ) : null}
    </span>
  );
}

/**
 * A worker as loaded, with when the browser received it: its heartbeat age and uptime are the
 * server's (heartbeatAgeSeconds, uptimeSeconds) plus the time since, so a browser whose clock
 * is off still shows them right.
 */
type LoadedWorker = WorkerDto & { receivedAt: number };
const received = (w: WorkerDto, at = Date.now()): LoadedWorker => ({ ...w, receivedAt: at });

function useWorkersData() {
  const workers = useLoad(async () => (await get<WorkerDto[]>('/workers')).map((w) => received(w)), []);
  const running = useLoad(() => get<TriesPage>('/tries?state=running&limit=500'), []);
  const reloadWorkers = useThrottled(workers.reload, 300);
  const reloadRunning = useThrottled(running.reload, 500);
  useEvents({ types: ['worker', 'ti'] }, (e) => {
    if (e.type === 'worker' || e.type === 'resync') reloadWorkers();
    if (e.type === 'ti' || e.type === 'resync') reloadRunning();
  });
  // Null until the running tries are in: the rows come from another request, and a worker is
  // not said to be idle because that one has not answered yet.
  const runningByWorker = useMemo(() => {
    if (!running.data) return null;
    const map = new Map<string, TryRow[]>();
    for (const t of running.data.items) {
      if (!t.worker) continue;
      map.set(t.worker, [...(map.get(t.worker) ?? []), t]);
    }
    return map;
  }, [running.data]);
  return { workers, runningByWorker, runningError: running.error };
}

/** A worker's running tries; `null`: not known (still loading, or `error`). */
function RunningTries({ tries, error }: { tries: TryRow[] | null; error: ApiError | null }) {
  if (tries === null) return error ? <span className="muted" title={error.message}>unknown</span> : <span className="muted" aria-busy="true">…</span>;
  if (tries.length === 0) return <span className="muted">idle</span>;
  return (
    <ul className="inline-list">
      {tries.map((t) => (
        <li key={t.tiId}>
          <Link to={path('dags', t.dagId, 'runs', t.runId, 'tasks', t.taskId)} title={`${t.dagId} / ${t.runId}, try ${t.tryNumber}`}>{t.dagId}.{t.taskId}</Link>
          {' '}<Link to={path('dags', t.dagId, 'runs', t.runId)} className="muted small">run</Link>
        </li>
      ))}
    </ul>
  );
}

function WorkersTable({ workers, runningByWorker, runningError, now }: {
  workers: LoadedWorker[]; runningByWorker: Map<string, TryRow[]> | null; runningError: ApiError | null; now: number;
}) {
  const canAct = useCan('operator');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const done = (m: string | ApiError) => {
    if (m instanceof ApiError) { setError(m); setNotice(null); } else { setNotice(m); setError(null); }
  };
  if (workers.length === 0) {
    return <Empty>No worker has reported yet. Start one with <code>swarmflow worker --queues default</code> (standalone runs one for you); it appears here with its first heartbeat.</Empty>;
  }
  return (
    <>
      {notice ? <div className="card small" role="status">{notice}</div> : null}
      <ErrorBox error={error} what="send the command" />
      <div className="table-scroll">
        <table className="table" data-testid="workers-table">
          <thead>
            <tr>
              <th>Worker</th><th>State</th><th>Queues</th><th>Slots</th><th>GPUs</th><th>Running</th><th>Processed</th><th>Failed</th>
              <th>Heartbeat</th><th>Version</th><th>Uptime</th>{canAct ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => {
              const since = Math.max(0, now - w.receivedAt);
              const age = Math.round(w.heartbeatAgeSeconds + since / 1000);
              const up = w.uptimeSeconds === null ? null : w.uptimeSeconds * 1000 + since;
              return (
                <tr key={w.name} data-worker={w.name}>
                  <td><Link to={path('workers', w.name)}>{w.name}</Link><div className="muted small">{w.hostname}</div></td>
                  <td><WorkerState state={w.state} /></td>
                  <td>{w.queues.map((q) => <span key={q} className="tag">{q}</span>)}</td>
                  <td><Slots used={w.running.length} total={w.concurrency} /></td>
                  <td>{w.gpus}</td>
                  <td><RunningTries tries={runningByWorker ? runningByWorker.get(w.name) ?? [] : null} error={runningError} /></td>
                  <td>{w.processed}</td>
                  <td>{w.failed}</td>
                  <td title={`last heartbeat ${new Date(w.lastHeartbeatAt).toISOString()}`}><span className={age > 30 ? 'warn-text' : ''}>{age} s ago</span></td>
                  <td>{w.version ?? <span className="muted">—</span>}</td>
                  <td>{up === null ? <span className="muted">—</span> : formatDuration(up)}</td>
                  {canAct ? <td><WorkerActions worker={w} onDone={done} /></td> : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

const MEASURES: { key: Measure; label: string }[] = [
  { key: 'ready', label: 'Ready (in the broker)' },
  { key: 'unacked', label: 'Unacked (held by workers)' },
  { key: 'queued', label: 'Queued tries' },
  { key: 'running', label: 'Running tries' },
];

function Queues() {
  const location = useLocation();
  const measure = (location.search.get('measure') as Measure | null) ?? 'ready';
  const minutes = Number(location.search.get('minutes') ?? '60') || 60;
  const queues = useLoad(() => get<QueueDto[]>('/queues'), []);
  const history = useLoad(() => get<QueueHistory>(`/queues/history?minutes=${minutes}`), [minutes]);
  const reloadQueues = useThrottled(queues.reload, 1000);
  useEvents({ types: ['worker', 'ti'] }, reloadQueues);
  useEffect(() => {
    const t = window.setInterval(history.reload, 15_000);
    return () => window.clearInterval(t);
  }, [history.reload]);
  return (
    <section aria-labelledby="queues-title" className="card">
      <h2 id="queues-title">Queue topics</h2>
      {queues.error?.reason === 'no_broker' ? (
        <div className="warn-box">This webserver has no broker connection (SWARMFLOW_AMQP_URL), so it cannot read queue depths.</div>
      ) : <LoadError load={queues} what="read the queues" />}
      {!queues.data && queues.loading ? <Loading /> : null}
      {queues.data && queues.data.length === 0 ? <Empty>No queue topic yet: topics appear when a worker serves one or a task is queued to one.</Empty> : null}
      {queues.data && queues.data.length > 0 ? (
        <table className="table" data-testid="queues-table">
          <thead><tr><th>Topic</th><th>Ready</th><th>Unacked</th><th>Consumers</th><th>Workers</th><th></th></tr></thead>
          <tbody>
            {queues.data.map((q) => (
              <tr key={q.queue} data-queue={q.queue}>
                <td>{q.queue}{q.declared ? null : <span className="muted small"> (not declared yet)</span>}</td>
                <td>{q.ready}</td>
                <td>{q.unacked}</td>
                <td>{q.consumers}</td>
                <td>{q.workers.map((w) => <Link key={w.name} to={path('workers', w.name)} className="tag">{w.name} · {w.state}</Link>)}</td>
                <td><a href={`/queues/queue/${encodeURIComponent(q.queue)}`}>jobs in bull-board</a> · <Link to={`/workers/tries?queue=${encodeURIComponent(q.queue)}`}>tries</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div className="toolbar">
        <label>Chart{' '}
          <select value={measure} onChange={(e) => setQuery({ measure: e.target.value })}>
            {MEASURES.map((m) => <option key={m.key} value={m.key}>{m.label}</option>)}
          </select>
        </label>
        <label>Over{' '}
          <select value={String(minutes)} onChange={(e) => setQuery({ minutes: e.target.value })}>
            {[15, 60, 360, 1440].map((m) => <option key={m} value={m}>{m < 60 ? `${m} min` : `${m / 60} h`}</option>)}
          </select>
        </label>
      </div>
      <LoadError load={history} what="read the queue history" />
      {history.data ? <DepthChart samples={history.data.samples} measure={measure} from={history.data.from} to={history.data.to} intervalSeconds={history.data.intervalSeconds} /> : null}
    </section>
  );
}

function Tabs({ active }: { active: 'workers' | 'tries' }) {
  return (
    <nav className="tabs" aria-label="Dashboard">
      <Link to="/workers" className={active === 'workers' ? 'active' : ''}>Workers and queues</Link>
      <Link to="/workers/tries" className={active === 'tries' ? 'active' : ''}>All tries</Link>
      <a href="/queues">bull-board</a>
    </nav>
  );
}

function WorkersPage() {
  const { workers, runningByWorker, runningError } = useWorkersData();
  const now = useNow();
  return (
    <>
      <PageTitle>Workers</PageTitle>
      <Tabs active="workers" />
      <LoadError load={workers} what="load the workers" />
      {!workers.data && workers.loading ? <Loading /> : null}
      {workers.data ? <WorkersTable workers={workers.data} runningByWorker={runningByWorker} runningError={runningError} now={now} /> : null}
      <Queues />
    </>
  );
}

function TriesPageView() {
  return (
    <>
      <PageTitle>All tries</PageTitle>
      <Tabs active="tries" />
      <p className="muted small">Every task try across DAGs, newest first; kept in the database, so it survives restarts.</p>
      <TriesTable />
    </>
  );
}

function WorkerPage({ name }: { name: string }) {
  const worker = useLoad(async () => received(await get<WorkerDto>(apiPath('workers', name))), [name]);
  const { runningByWorker, runningError } = useWorkersData();
  const reload = useThrottled(worker.reload, 300);
  useEvents({ types: ['worker'] }, (e) => {
    if (e.type === 'resync' || e.data.name === name) reload();
  });
  const now = useNow();
  return (
    <>
      <div className="crumbs"><Link to="/workers">Workers</Link> /</div>
      <PageTitle>{name}</PageTitle>
      <LoadError load={worker} what={`load worker ${name}`} elsewhere={{ to: '/workers', label: 'See the workers' }} />
      {!worker.data && worker.loading ? <Loading /> : null}
      {worker.data ? <WorkersTable workers={[worker.data]} runningByWorker={runningByWorker} runningError={runningError} now={now} /> : null}
      {worker.data ? (
        <dl className="kv card">
          <dt>Host</dt><dd>{worker.data.hostname}</dd>
          <dt>First seen</dt><dd><Time value={worker.data.firstSeenAt} /></dd>
          <dt>Started</dt><dd><Time value={worker.data.startedAt} /></dd>
          <dt>Unacked messages</dt><dd>{Object.entries(worker.data.unacked).map(([q, n]) => `${q}: ${n}`).join(', ') || '—'}</dd>
        </dl>
      ) : null}
      <h2>Tries on {name}</h2>
      <TriesTable fixed={{ worker: name }} />
    </>
  );
}

/** Routes under /workers (deep links of the dashboard). */
export const workerRoutes: RouteDef[] = [
  { path: '/workers', render: () => <WorkersPage /> },
  { path: '/workers/tries', render: () => <TriesPageView /> },
  { path: '/workers/:name', render: (p) => <WorkerPage name={p.name!} /> },
];

// A task try (the latest, or an earlier one picked in the tabs): state, timings, worker, container/GPU details (from the container's start, so
// while the try runs), exit code and reason, earlier tries, the live log; actions clear
// (downstream/upstream, with a preview), mark, kill.
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, apiPath, get, post } from '../../api';
import type { ClearResultDto, KillResultDto, MarkResultDto } from '@swarmflow/contracts';
import type { DagDetailDto, TaskArtifactsDto, TaskInstanceDetailDto, TaskSpecDto } from '../../api-types';
import { Can } from '../../auth';
import { ErrorBox, LoadError, Loading, PageTitle } from '../../components/common';
import { LogView } from '../../components/log-view';
import { StateBadge, stateLabel } from '../../components/state';
import { Duration, Time } from '../../components/time';
import { useLoad } from '../../hooks';
import { canGoBack, Link, navigate, path } from '../../router';
import { typingIn } from '../../components/shortcuts';
import { elsewhereThan, useLiveReload } from './dag';

export function TaskPage({ dagId, runId, taskId, tryNumber }: { dagId: string; runId: string; taskId: string; tryNumber: string | null }) {
  const tiPath = apiPath('dags', dagId, 'runs', runId, 'tasks', taskId);
  const ti = useLoad(() => get<TaskInstanceDetailDto>(tiPath), [tiPath]);
  const run = useLoad(() => get<{ versionHash: string }>(apiPath('dags', dagId, 'runs', runId)), [dagId, runId]);
  const version = useLoad(
    () => (run.data ? get<DagDetailDto>(apiPath('dags', dagId, 'versions', run.data.versionHash)) : Promise.resolve(undefined)),
    [dagId, run.data?.versionHash],
  );
  useLiveReload({ dagId, runId }, ti.reload);
  // Escape: back to where the user came from (the grid puts the focus on this cell again), or to the DAG's grid.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || typingIn(e.target)) return;
      e.preventDefault();
      if (canGoBack()) window.history.back();
      else navigate(`${path('dags', dagId)}?tab=grid`);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dagId]);
  const spec = version.data?.tasks.find((t) => t.taskId === taskId);
  const latest = ti.data ? latestTryOf(ti.data) : 1;
  const shownTry = tryNumber ? Number(tryNumber) : latest;
  // The tries that ran (or will), then the cache hit when the latest is one: 0, no try.
  const tabs = latest === 0 ? [...Array.from({ length: ti.data!.tryNumber }, (_, i) => i + 1), 0] : Array.from({ length: latest }, (_, i) => i + 1);
  const base = path('dags', dagId, 'runs', runId, 'tasks', taskId);

  return (
    <>
      <div className="crumbs">
        <Link to="/dags">DAGs</Link> / <Link to={path('dags', dagId)}>{dagId}</Link> / <Link to={path('dags', dagId, 'runs', runId)}>{runId}</Link> /
      </div>
      <PageTitle actions={ti.data && version.data ? <Can role="operator"><TaskActions ti={ti.data} dag={version.data} onDone={ti.reload} /></Can> : null}>
        {taskId} {ti.data ? <StateBadge state={ti.data.state} /> : null}
      </PageTitle>
      <LoadError load={ti} what="load the task" elsewhere={elsewhereThan(ti.error, dagId, runId)} />
      {ti.data ? (
        <div className="layout-2">
          <section className="card">
            <Details ti={ti.data} spec={spec} tryNumber={shownTry} latest={latest} />
            <TryResults ti={ti.data} tryNumber={shownTry} latest={latest} />
          </section>
          <section>
            <div className="try-tabs" aria-label="Tries">
              {tabs.map((n) => (
                <Link key={n} to={n === latest ? base : `${base}?try=${n}`} className={n === shownTry ? 'active' : undefined} aria-current={n === shownTry ? 'page' : undefined}>
                  {n === 0 ? 'Cached, no try' : `Try ${n}`}{n === latest ? ' (latest)' : ''}
                </Link>
              ))}
            </div>
            {shownTry === 0 && latest === 0 ? (
              <div className="empty" data-testid="no-try-log">No try ran, so there is no log: it was cached, and its outputs are those of the try it was cached from.</div>
            ) : ti.data.tryNumber === 0 ? (
              <div className="empty">Not started yet: {stateLabel(ti.data.state)}{ti.data.reason ? ` — ${ti.data.reason}` : ''}. Its log appears here when it runs.</div>
            ) : (
              <LogView key={`${shownTry}`} dagId={dagId} runId={runId} taskId={taskId} tryNumber={shownTry} />
            )}
            <History ti={ti.data} tryNumber={shownTry} latest={latest} />
          </section>
        </div>
      ) : ti.error ? null : <Loading />}
    </>
  );
}

/**
 * The try the page shows as the latest: 0 when the task ended `cached` with no try of its own
 * (the scheduler found an identical try that succeeded and took over its outputs; nothing was
 * queued, so the API's tryNumber stays 0, or stays the try a clear left), else its try number
 * (1 before its first try). A worker-confirmed hit is a try of its own (queued, ran nothing).
 */
function latestTryOf(ti: TaskInstanceDetailDto): number {
  const last = ti.history[ti.history.length - 1];
  const hitWithoutTry = ti.state === 'cached' && (ti.tryNumber === 0 || (last?.from === 'none' && last.to === 'cached'));
  return hitWithoutTry ? 0 : Math.max(ti.tryNumber, 1);
}

/** A link to the try a cached task took its outputs from. */
function CachedFromLink({ ti }: { ti: TaskInstanceDetailDto }) {
  const from = ti.cachedFrom;
  if (!from) return <span className="muted">a try whose record is gone</span>;
  return (
    <>
      <Link to={`${path('dags', from.dagId, 'runs', from.runId, 'tasks', from.taskId)}?try=${from.tryNumber}`}>
        {from.runId} / {from.taskId}, try {from.tryNumber}
      </Link>
      {from.dagId !== ti.dagId ? <span className="muted small"> (DAG {from.dagId})</span> : null}
    </>
  );
}

function Details({ ti, spec, tryNumber, latest }: { ti: TaskInstanceDetailDto; spec: TaskSpecDto | undefined; tryNumber: number; latest: number }) {
  const docker = spec?.docker;
  const result = ti.tries.find((t) => t.tryNumber === tryNumber);
  // The container as the try's end reported it, else as its worker reported it once started (a running try).
  const started = ti.containers?.find((c) => c.tryNumber === tryNumber);
  const container = result?.containerId
    ? { id: result.containerId, image: result.image, imageDigest: result.imageDigest, gpuDevices: result.gpuDevices ?? null, runtime: result.runtime ?? null }
    : started ? { id: started.containerId, image: started.image, imageDigest: started.imageDigest, gpuDevices: started.gpuDevices, runtime: started.runtime } : null;
  const isLatest = tryNumber === latest;
  const noTry = isLatest && latest === 0;
  // The latest try is the task instance's own row; an earlier try is read from what the API
  // keeps per try: its transitions (state, times, reason, worker, exit code) and its container.
  const shown = isLatest ? latestTry(ti) : earlierTry(ti, tryNumber);
  const notRecorded = <span className="muted">not recorded (the try ran before this version of Swarmflow)</span>;
  return (
    <dl className="kv" data-testid="task-details">
      {!isLatest ? <><dt>Shown</dt><dd className="muted small">try {tryNumber} of {ti.maxTries}, from its transitions (the latest is {latest === 0 ? 'a cache hit, no try' : `try ${latest}`})</dd></> : null}
      <dt>State</dt><dd>{shown.state ? <StateBadge state={shown.state} /> : '—'}</dd>
      <dt>Try</dt>
      {noTry ? <dd data-testid="no-try">no try ran: cached from <CachedFromLink ti={ti} /></dd> : <dd>{tryNumber} of {ti.maxTries}</dd>}
      {noTry ? (
        // Nothing was queued, started or ran: only when the cache hit was found, and why.
        <><dt>Cached at</dt><dd><Time value={shown.endedAt} /></dd></>
      ) : (
        <>
          <dt>Queued</dt><dd><Time value={shown.queuedAt} /></dd>
          <dt>Started</dt><dd><Time value={shown.startedAt} /></dd>
          <dt>Ended</dt><dd><Time value={shown.endedAt} /></dd>
          <dt>Duration</dt><dd><Duration start={shown.startedAt} end={shown.endedAt} /></dd>
          {isLatest && ti.nextRetryAt ? <><dt>Next retry</dt><dd><Time value={ti.nextRetryAt} /></dd></> : null}
          <dt>Exit code</dt><dd>{shown.exitCode ?? (shown.unrecorded ? notRecorded : '—')}</dd>
        </>
      )}
      <dt>Reason</dt><dd>{shown.reason ?? '—'}</dd>
      {noTry ? null : (
        <>
          <dt>Worker</dt>
          <dd>
            {shown.worker ? <Link to={path('workers', shown.worker)}>{shown.worker}</Link> : shown.unrecorded ? notRecorded : '—'}
            {shown.hostname ? <span className="muted"> on {shown.hostname}</span> : null}
          </dd>
        </>
      )}
      <dt>Queue / pool</dt><dd>{ti.queue} / {ti.pool}</dd>
      {spec ? (
        <>
          <dt>Kind</dt><dd>{spec.kind}</dd>
          <dt>Command</dt><dd><code>{Array.isArray(spec.command) ? spec.command.join(' ') : spec.command || '(image default)'}</code></dd>
          <dt>Timeout</dt><dd>{spec.timeoutMs ? `${spec.timeoutMs / 1000} s` : 'none'}</dd>
        </>
      ) : null}
      {docker ? (
        <>
          <dt>Image</dt><dd><code>{docker.image}</code></dd>
          <dt>Resources</dt>
          <dd>{[docker.cpus ? `${docker.cpus} CPU` : null, docker.memoryBytes ? `memory ${Math.round(docker.memoryBytes / 1048576)} MiB` : null].filter(Boolean).join(', ') || 'no limits'}</dd>
          <dt>GPUs</dt><dd>{docker.gpus ? `${docker.gpus} (${docker.gpuMode}${docker.runtime ? `, runtime ${docker.runtime}` : ''})` : 'none'}</dd>
          <dt>Network</dt><dd>{docker.network ?? 'default'}</dd>
        </>
      ) : null}
      {docker || container || result?.image ? (
        <>
          <dt className="kv-section">{noTry ? 'Image of the cached try' : `Container of try ${tryNumber}`}</dt><dd className="kv-section" />
          {container ? (
            <>
              <dt>Container id</dt><dd><code title={container.id} data-testid="container-id">{container.id.slice(0, 12)}</code></dd>
              {container.image ? <><dt>Image ran</dt><dd><code data-testid="try-image">{container.image}</code></dd></> : null}
              <dt>Image digest</dt><dd>{container.imageDigest ? <code className="digest" title={container.image ?? undefined}>{container.imageDigest}</code> : '—'}</dd>
              <dt>GPU devices</dt><dd>{container.gpuDevices && container.gpuDevices.length > 0 ? container.gpuDevices.join(', ') : 'none'}</dd>
              <dt>Runtime</dt><dd>{container.runtime ?? 'Docker default'}</dd>
            </>
          ) : result?.imageDigest ? (
            <>
              {result.image ? <><dt>Image ran</dt><dd><code data-testid="try-image">{result.image}</code></dd></> : null}
              <dt>Image digest</dt><dd><code className="digest" title={result.image ?? undefined}>{result.imageDigest}</code></dd>
            </>
          ) : (
            <><dt>Details</dt><dd className="muted">{isLatest && (ti.state === 'running' || ti.state === 'queued') ? 'shown once its container has started (the worker reports them then)' : 'not recorded for this try (it never started a container, or ran on an older worker)'}</dd></>
          )}
        </>
      ) : null}
    </dl>
  );
}

/** `1536` → `1.5 KiB`. */
function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/**
 * What the shown try left (issue 17): its outputs (what it wrote to $SWARMFLOW_OUTPUT), the
 * try it was cached from (a `cached` task ran nothing), and its artefacts when the server has
 * an artefacts store.
 */
function TryResults({ ti, tryNumber, latest }: { ti: TaskInstanceDetailDto; tryNumber: number; latest: number }) {
  const isLatest = tryNumber === latest;
  const result = ti.tries.find((t) => t.tryNumber === tryNumber);
  const outputs = isLatest ? ti.outputs : result?.outputs ?? null;
  const cachedFrom = isLatest && ti.state === 'cached' ? ti.cachedFrom : null;
  const ended = isLatest ? ti.endedAt !== null || ti.state === 'cached' : true;
  const tiPath = apiPath('dags', ti.dagId, 'runs', ti.runId, 'tasks', ti.taskId);
  // The latest try without `try=`: for a cached task the API lists its source try's artefacts.
  const artifacts = useLoad(
    () => (ended && (ti.tryNumber > 0 || ti.state === 'cached') ? get<TaskArtifactsDto>(`${tiPath}/artifacts${isLatest ? '' : `?try=${tryNumber}`}`) : Promise.resolve(null)),
    [tiPath, tryNumber, isLatest, ended, ti.state],
  );
  const noStore = artifacts.error?.reason === 'no_artifacts_store';
  return (
    <dl className="kv" data-testid="try-results">
      <dt className="kv-section">{tryNumber === 0 ? 'Results (cached, no try ran)' : `Results of try ${tryNumber}`}</dt><dd className="kv-section" />
      {cachedFrom ? <><dt>Cached from</dt><dd data-testid="cached-from"><CachedFromLink ti={ti} /></dd></> : null}
      <dt>Outputs</dt>
      <dd>
        {outputs ? <pre className="outputs" data-testid="try-outputs">{JSON.stringify(outputs, null, 2)}</pre> : <span className="muted">none{ended ? '' : ' yet'}</span>}
      </dd>
      <dt>Artefacts</dt>
      <dd data-testid="try-artifacts">
        {artifacts.data ? (
          artifacts.data.artifacts.length === 0 ? <span className="muted">none</span> : (
            <ul className="artifacts small">
              {artifacts.data.artifacts.map((a) => (
                <li key={a.name}>
                  {/^https?:/.test(a.url) ? <a href={a.url} rel="noreferrer">{a.name}</a> : <code title={a.url}>{a.name}</code>}{' '}
                  <span className="muted">{formatSize(a.size)}</span>
                </li>
              ))}
            </ul>
          )
        ) : noStore ? <span className="muted small">no artefacts store on this server (SWARMFLOW_ARTIFACTS_URL)</span>
          : artifacts.error ? <span className="muted small">{artifacts.error.message}</span>
          : artifacts.data === null ? <span className="muted">{ended ? 'none' : 'listed once the try ends'}</span> : <span className="muted">…</span>}
      </dd>
    </dl>
  );
}

/** What the details show of one try. */
interface TryView {
  state: TaskInstanceDetailDto['state'] | null;
  queuedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  reason: string | null;
  worker: string | null;
  hostname: string | null;
  exitCode: number | null;
  /** The try started, but its transitions were recorded before they kept its worker and exit code. */
  unrecorded: boolean;
}

function latestTry(ti: TaskInstanceDetailDto): TryView {
  return {
    state: ti.state, queuedAt: ti.queuedAt, startedAt: ti.startedAt, endedAt: ti.endedAt, reason: ti.reason, worker: ti.worker, hostname: ti.hostname,
    exitCode: ti.exitCode, unrecorded: false,
  };
}

/** States a try's transition ends it in. */
const TRY_ENDS = new Set<string>(['success', 'failed', 'up_for_retry', 'skipped', 'cached']);

/**
 * An earlier try: its state, times, reason, worker and exit code from its transitions (each
 * keeps the worker and exit code the step left); a container try's worker also from its container.
 */
function earlierTry(ti: TaskInstanceDetailDto, tryNumber: number): TryView {
  // A cache hit after a clear keeps the cleared try's number, but is no part of that try.
  const rows = ti.history.filter((h) => h.tryNumber === tryNumber && !(h.from === 'none' && h.to === 'cached'));
  const last = rows[rows.length - 1];
  const ended = [...rows].reverse().find((h) => h.from === 'running' && h.to !== 'running');
  // The step that ended the try (from running, or from queued: an end reported before its start, a kill).
  const end = [...rows].reverse().find((h) => (h.from === 'running' || h.from === 'queued') && TRY_ENDS.has(h.to));
  // What the try ended as (a user's later mark included), not the clear or retry that followed it.
  const outcome = [...rows].reverse().find((h) => TRY_ENDS.has(h.to));
  const reasoned = [...rows].reverse().find((h) => h.reason !== null);
  const ran = [...rows].reverse().find((h) => h.worker != null);
  const started = rows.some((h) => h.to === 'running');
  const worker = ran?.worker ?? ti.containers?.find((c) => c.tryNumber === tryNumber)?.worker ?? null;
  return {
    state: outcome?.to ?? last?.to ?? null,
    queuedAt: rows.find((h) => h.to === 'queued')?.at ?? null,
    startedAt: [...rows].reverse().find((h) => h.to === 'running')?.at ?? null,
    endedAt: (end ?? ended)?.at ?? null,
    // Why it ended (or was marked), not the clear or start step after or before it; a try that has not ended: its latest reason.
    reason: outcome ? outcome.reason : reasoned?.reason ?? null,
    worker,
    hostname: ran?.hostname ?? null,
    exitCode: end?.exitCode ?? null,
    // A started try always has its worker in its steps since they are recorded: none means older rows.
    unrecorded: started && !ran,
  };
}

function History({ ti, tryNumber, latest }: { ti: TaskInstanceDetailDto; tryNumber: number; latest: number }) {
  // The cache hit with no try: its steps since the last clear (all of them when it never ran).
  const sinceClear = ti.history.reduce((at, h, i) => (h.to === 'none' ? i : at), 0);
  const rows = tryNumber === 0 && latest === 0 ? ti.history.slice(sinceClear)
    : ti.history.filter((h) => h.tryNumber === tryNumber || (tryNumber === latest && h.tryNumber > tryNumber));
  if (rows.length === 0) return null;
  return (
    <>
      <h2 className="h2">{tryNumber === 0 ? 'Transitions (cached, no try ran)' : `Transitions of try ${tryNumber}`}</h2>
      <table className="table">
        <thead><tr><th>At</th><th>From</th><th>To</th><th>Reason</th></tr></thead>
        <tbody>
          {rows.map((h, i) => (
            <tr key={i}><td><Time value={h.at} /></td><td>{stateLabel(h.from)}</td><td><StateBadge state={h.to} /></td><td className="small">{h.reason ?? ''}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Tasks upstream of `taskId` (its ancestors), in the DAG's order. */
function ancestors(tasks: TaskSpecDto[], taskId: string): string[] {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const seen = new Set<string>();
  const visit = (id: string) => {
    for (const up of byId.get(id)?.upstream ?? []) if (!seen.has(up)) { seen.add(up); visit(up); }
  };
  visit(taskId);
  return tasks.map((t) => t.taskId).filter((id) => seen.has(id));
}

/** What a clear of the task (with its downstream and/or upstream if asked) would reset: the API's dry run of the same call. */
function previewClear(ti: TaskInstanceDetailDto, opts: { downstream: boolean; upstream: boolean }): Promise<ClearResultDto> {
  return post<ClearResultDto>(`${apiPath('dags', ti.dagId, 'runs', ti.runId, 'tasks', ti.taskId)}/clear`, { ...opts, dryRun: true });
}

type Dialog = null | 'clear' | 'success' | 'failed' | 'kill';

function TaskActions({ ti, dag, onDone }: { ti: TaskInstanceDetailDto; dag: DagDetailDto; onDone: () => void }) {
  const [dialog, setDialog] = useState<Dialog>(null);
  const [downstream, setDownstream] = useState(true);
  const [upstream, setUpstream] = useState(false);
  const [preview, setPreview] = useState<{ tasks: { taskId: string; state: string }[]; busy: string[] } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tiPath = apiPath('dags', ti.dagId, 'runs', ti.runId, 'tasks', ti.taskId);
  const ups = useMemo(() => ancestors(dag.tasks, ti.taskId), [dag.tasks, ti.taskId]);
  const active = ti.state === 'running' || ti.state === 'queued' || ti.state === 'up_for_retry';
  // Escape closes the dialog (before the page's own Escape, which goes back).
  useEffect(() => {
    if (!dialog) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      e.preventDefault();
      setDialog(null);
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [dialog]);

  // Each open or toggle asks for a new preview; an answer to an earlier one (with the old
  // selection) may arrive after it, and must not replace it.
  const previewAsked = useRef(0);
  const open = async (d: Dialog, opts = { downstream, upstream }) => {
    const asked = ++previewAsked.current;
    setDialog(d);
    setError(null);
    setMessage(null);
    setPreview(null);
    if (d === 'kill' || d === null) return;
    try {
      if (d === 'clear') {
        const res = await previewClear(ti, opts);
        if (asked !== previewAsked.current) return;
        setPreview({
          tasks: (res.taskInstances ?? []).map((t) => ({ taskId: t.taskId, state: stateLabel(t.state) })), busy: (res.busy ?? []).map((b) => b.taskId),
        });
      } else {
        const res = await post<MarkResultDto>(`${tiPath}/mark`, { state: d, downstream: opts.downstream, upstream: opts.upstream, dryRun: true });
        if (asked !== previewAsked.current) return;
        setPreview({ tasks: res.changes.map((c) => ({ taskId: c.taskId, state: `${stateLabel(c.from)} → ${stateLabel(c.to)}` })), busy: [] });
      }
    } catch (err) {
      if (asked === previewAsked.current) setError(err as ApiError);
    }
  };

  // As in Airflow: a clear takes the downstream along by default, a mark only the task itself.
  const start = (d: 'clear' | 'success' | 'failed') => {
    const opts = { downstream: d === 'clear', upstream: false };
    setDownstream(opts.downstream);
    setUpstream(opts.upstream);
    void open(d, opts);
  };

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      if (dialog === 'clear') {
        // One call: the task, its upstream and downstream are cleared together, or none of them.
        const { cleared } = await post<ClearResultDto>(`${tiPath}/clear`, { downstream, upstream });
        setMessage(`Cleared ${cleared.join(', ')}: they run again.`);
      } else if (dialog === 'kill') {
        const res = await post<KillResultDto>(`${tiPath}/kill`);
        setMessage(res.ended ? 'Stopped: the try ended failed.' : `Kill sent to ${res.sentTo}.`);
      } else if (dialog === 'success' || dialog === 'failed') {
        const res = await post<MarkResultDto>(`${tiPath}/mark`, { state: dialog, downstream, upstream });
        setMessage(`Marked ${dialog}: ${res.changes.map((c) => c.taskId).join(', ') || 'nothing to change'}.`);
      }
      setDialog(null);
      onDone();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const toggles = (
    <div className="toolbar">
      <label className="inline"><input type="checkbox" checked={downstream} onChange={(e) => { setDownstream(e.target.checked); void open(dialog, { downstream: e.target.checked, upstream }); }} /> with downstream</label>
      <label className="inline"><input type="checkbox" checked={upstream} disabled={ups.length === 0} onChange={(e) => { setUpstream(e.target.checked); void open(dialog, { downstream, upstream: e.target.checked }); }} /> with upstream{ups.length ? ` (${ups.length})` : ' (none)'}</label>
    </div>
  );

  return (
    <div className="task-actions">
      <div className="toolbar" style={{ marginBottom: 0 }}>
        <button type="button" onClick={() => start('clear')}>↻ Clear…</button>
        <button type="button" onClick={() => start('success')}>✓ Mark success…</button>
        <button type="button" onClick={() => start('failed')}>✗ Mark failed…</button>
        <button type="button" className="danger" onClick={() => open('kill')} disabled={!active} title={active ? 'Stop this try' : 'Only a queued, running or retry-waiting try can be killed'}>■ Kill…</button>
      </div>
      {message ? <div className="muted small" role="status">{message}</div> : null}
      {dialog ? (
        <div className="card dialog" role="dialog" aria-label={dialog === 'clear' ? 'Clear' : dialog === 'kill' ? 'Kill' : `Mark ${dialog}`} style={{ position: 'absolute', right: 20, zIndex: 4, width: 420, marginTop: 6 }}>
          <strong>{dialog === 'clear' ? `Clear ${ti.taskId}` : dialog === 'kill' ? `Kill ${ti.taskId}, try ${ti.tryNumber}` : `Mark ${ti.taskId} ${dialog}`}</strong>
          {dialog !== 'kill' ? toggles : <p className="small">The try stops wherever it runs and ends failed, without a retry.</p>}
          {preview ? (
            <div data-testid="action-preview">
              <div className="small">{dialog === 'clear' ? 'These task instances will run again:' : 'These changes will be made:'}</div>
              <ul className="preview-list small">
                {preview.tasks.map((t) => <li key={t.taskId}><code>{t.taskId}</code> <span className="muted">({t.state})</span></li>)}
                {preview.tasks.length === 0 ? <li className="muted">nothing</li> : null}
              </ul>
              {preview.busy.length ? <div className="warn-box small">Still queued or running: {preview.busy.join(', ')}. The clear is refused until they end (kill them first).</div> : null}
            </div>
          ) : dialog !== 'kill' && !error ? <div className="muted small">Previewing…</div> : null}
          {error ? <ErrorBox error={error} /> : null}
          <div className="toolbar" style={{ justifyContent: 'flex-end', marginBottom: 0 }}>
            <button type="button" onClick={() => setDialog(null)}>Cancel</button>
            <button type="button" className={dialog === 'kill' || dialog === 'failed' ? 'danger' : 'primary'} onClick={confirm} disabled={busy}>
              {dialog === 'clear' ? 'Clear' : dialog === 'kill' ? 'Kill' : `Mark ${dialog}`}
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}

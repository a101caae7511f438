// One run: its state, conf, task instances (live), its graph, and cancel.
import { useState } from 'react';
import { ApiError, apiPath, get, post } from '../../api';
import type { CancelRunResultDto } from '@swarmflow/contracts';
import type { DagDetailDto, RunDetailDto } from '../../api-types';
import { Can } from '../../auth';
import { ErrorBox, LoadError, Loading, PageTitle } from '../../components/common';
import { DagGraph } from '../../components/dag-graph';
import { StateBadge } from '../../components/state';
import { Duration, Time } from '../../components/time';
import { useLoad } from '../../hooks';
import { Link, path } from '../../router';
import { elsewhereThan, Legend, useLiveReload } from './dag';

export function RunPage({ dagId, runId }: { dagId: string; runId: string }) {
  const run = useLoad(() => get<RunDetailDto>(apiPath('dags', dagId, 'runs', runId)), [dagId, runId]);
  const version = useLoad(
    () => (run.data ? get<DagDetailDto>(apiPath('dags', dagId, 'versions', run.data.versionHash)) : Promise.resolve(undefined)),
    [dagId, run.data?.versionHash],
  );
  useLiveReload({ dagId, runId }, run.reload);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const cancel = async () => {
    if (!window.confirm(`Cancel run ${runId}? Running tries are stopped, unstarted tasks are skipped, the run ends failed.`)) return;
    try {
      const res = await post<CancelRunResultDto>(`${apiPath('dags', dagId, 'runs', runId)}/cancel`);
      const stopped = res.stopped.map((s) => s.taskId);
      setMessage(`Run ${res.state}: ${res.reason}.${stopped.length ? ` Stopping ${stopped.join(', ')}.` : ''}`);
      run.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const r = run.data;
  return (
    <>
      <div className="crumbs"><Link to="/dags">DAGs</Link> / <Link to={path('dags', dagId)}>{dagId}</Link> /</div>
      <PageTitle actions={r && (r.state === 'running' || r.state === 'queued') ? <Can role="operator"><button type="button" className="danger" onClick={cancel}>■ Cancel run</button></Can> : null}>
        {runId} {r ? <StateBadge state={r.state} /> : null}
      </PageTitle>
      <LoadError load={run} what="load the run" elsewhere={elsewhereThan(run.error, dagId, runId)} />
      <ErrorBox error={error} what="cancel the run" />
      {message ? <div className="muted small" role="status">{message}</div> : null}
      {r ? (
        <>
          <dl className="kv card" style={{ marginBottom: 12 }}>
            <dt>Type</dt><dd>{r.runType}</dd>
            <dt>Logical date</dt><dd><Time value={r.logicalDate} /></dd>
            <dt>Started / ended</dt><dd><Time value={r.startedAt} /> → <Time value={r.endedAt} /> (<Duration start={r.startedAt} end={r.endedAt} />)</dd>
            {r.reason ? <><dt>Reason</dt><dd>{r.reason}</dd></> : null}
            <dt>Version</dt><dd><Link to={`${path('dags', dagId)}?tab=definition&version=${r.versionHash}`}><code>{r.versionHash}</code></Link></dd>
            {r.images?.length ? (
              <>
                <dt title="The digest each container image ran (its newest try): the run's version set">Images</dt>
                <dd data-testid="run-images">
                  {r.images.map((im) => (
                    <div key={im.image}><code>{im.image}</code> <code className="digest muted small">{im.digest}</code></div>
                  ))}
                </dd>
              </>
            ) : null}
            <dt>Conf</dt><dd><code>{JSON.stringify(r.conf)}</code></dd>
            <dt>Params</dt><dd><code>{JSON.stringify(r.params)}</code></dd>
          </dl>
          <div className="toolbar"><Legend /></div>
          {version.data ? <DagGraph dagId={dagId} tasks={version.data.tasks} runId={runId} instances={r.taskInstances} /> : null}
          <h2 className="h2">Task instances</h2>
          <table className="table" data-testid="run-tasks">
            <thead><tr><th>Task</th><th>State</th><th>Try</th><th>Started</th><th>Duration</th><th>Worker</th><th>Exit</th><th>Reason</th></tr></thead>
            <tbody>
              {r.taskInstances.map((ti) => (
                <tr key={ti.taskId} data-task={ti.taskId} data-state={ti.state}>
                  <td><Link to={path('dags', dagId, 'runs', runId, 'tasks', ti.taskId)}>{ti.taskId}</Link></td>
                  <td><StateBadge state={ti.state} /></td>
                  <td>{ti.tryNumber}/{ti.maxTries}</td>
                  <td><Time value={ti.startedAt} /></td>
                  <td><Duration start={ti.startedAt} end={ti.endedAt} /></td>
                  <td>{ti.worker ?? '—'}</td>
                  <td>{ti.exitCode ?? '—'}</td>
                  <td className="small">{ti.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : run.error ? null : <Loading />}
    </>
  );
}

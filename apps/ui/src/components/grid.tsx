// The grid: runs (columns, oldest left) × tasks (rows), each cell the state of that task's
// latest try in that run, with an icon (drawn by CSS from data-state: 20,000 cells need few
// DOM nodes), retries and duration on hover; a cell links to the try.
import { memo, useMemo } from 'react';
import type { RunDetailDto, TaskInstanceDto } from '../api-types';
import { Link, path } from '../router';
import { stateIcon, stateLabel } from './state';
import { formatDuration, formatLocal } from './time';

function cellTitle(taskId: string, runId: string, ti: TaskInstanceDto | undefined): string {
  if (!ti) return `${taskId} in ${runId}: not in this run`;
  const parts = [`${taskId} in ${runId}: ${stateLabel(ti.state)}`];
  if (ti.tryNumber > 0) parts.push(`try ${ti.tryNumber} of ${ti.maxTries}`);
  if (ti.startedAt) parts.push(`${formatDuration((ti.endedAt ? Date.parse(ti.endedAt) : Date.now()) - Date.parse(ti.startedAt))}${ti.endedAt ? '' : ' so far'}`);
  if (ti.reason) parts.push(ti.reason);
  return parts.join(' · ');
}

export const RunGrid = memo(function RunGrid({ dagId, taskIds, runs }: { dagId: string; taskIds: string[]; runs: RunDetailDto[] }) {
  // Oldest run on the left, as time flows.
  const columns = useMemo(() => [...runs].reverse().map((run) => ({ run, byTask: new Map(run.taskInstances.map((ti) => [ti.taskId, ti])) })), [runs]);
  const runHref = useMemo(() => new Map(runs.map((r) => [r.runId, path('dags', dagId, 'runs', r.runId)])), [dagId, runs]);
  if (runs.length === 0) return <div className="empty">No runs yet. Trigger one with the button above.</div>;
  return (
    <div className="grid-wrap">
      <table className="run-grid" data-testid="run-grid">
        <thead>
          <tr>
            <th className="grid-task">Task \ run</th>
            {columns.map(({ run }) => (
              <th key={run.runId} className="grid-run">
                <Link to={path('dags', dagId, 'runs', run.runId)} title={`${run.runId} · ${run.state} · ${formatLocal(run.logicalDate)}`} data-run={run.runId} data-state={run.state}>
                  <span className={`cell state-${run.state}`}><span aria-hidden="true">{stateIcon(run.state)}</span><span className="sr-only">{run.runId}: {stateLabel(run.state)}</span></span>
                </Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {taskIds.map((taskId) => (
            <tr key={taskId}>
              <th className="grid-task" scope="row">{taskId}</th>
              {columns.map(({ run, byTask }) => {
                const ti = byTask.get(taskId);
                const state = ti?.state ?? 'removed';
                return (
                  <td key={run.runId}>
                    {ti ? (
                      <a
                        href={`${runHref.get(run.runId)}/tasks/${encodeURIComponent(taskId)}`}
                        className={`cell state-${state}`} title={cellTitle(taskId, run.runId, ti)}
                        data-task={taskId} data-run={run.runId} data-state={state}
                      >
                        {ti.tryNumber > 1 ? <sup className="retries">{ti.tryNumber}</sup> : null}
                      </a>
                    ) : <span className="cell cell-missing" title={cellTitle(taskId, run.runId, undefined)} />}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
});

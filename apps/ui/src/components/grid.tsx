// The grid: runs (columns, oldest left) × tasks (rows), each cell the state of that task's
// latest try in that run, with an icon (drawn by CSS from data-state: 20,000 cells need few
// DOM nodes), retries and duration on hover; a cell links to the try.
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { GridRunDto, TaskInstanceDto } from '../api-types';
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

export const RunGrid = memo(function RunGrid({ dagId, taskIds, runs }: { dagId: string; taskIds: string[]; runs: GridRunDto[] }) {
  // Oldest run on the left, as time flows.
  const columns = useMemo(() => [...runs].reverse().map((run) => ({ run, byTask: new Map(run.taskInstances.map((ti) => [ti.taskId, ti])) })), [runs]);
  const runHref = useMemo(() => new Map(runs.map((r) => [r.runId, path('dags', dagId, 'runs', r.runId)])), [dagId, runs]);
  const rows = useVisibleRows(taskIds.length);
  if (runs.length === 0) return <div className="empty">No runs yet. Trigger one with the button above.</div>;
  return (
    <div className="grid-wrap" ref={rows.ref} onScroll={rows.onScroll} data-rows={`${rows.start}-${rows.end}`}>
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
          {rows.start > 0 ? <tr aria-hidden="true" style={{ height: rows.start * ROW_PITCH - 2 }} /> : null}
          {taskIds.slice(rows.start, rows.end).map((taskId) => (
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
          {rows.end < taskIds.length ? <tr aria-hidden="true" style={{ height: (taskIds.length - rows.end) * ROW_PITCH - 2 }} /> : null}
        </tbody>
      </table>
    </div>
  );
});

/** Height of a grid row with its border spacing (CSS: .run-grid tbody tr). */
const ROW_PITCH = 22;
/** Below this many tasks every row is rendered. */
const VIRTUAL_FROM = 80;
const OVERSCAN = 15;

/**
 * Rows (tasks) in or near the grid's scrolled view: a DAG of hundreds of tasks renders only
 * those, the others are one spacer row each (scrolling, and moving focus with the keyboard,
 * render the next ones).
 */
function useVisibleRows(count: number): { start: number; end: number; ref: React.RefObject<HTMLDivElement | null>; onScroll: () => void } {
  const ref = useRef<HTMLDivElement | null>(null);
  const compute = useCallback(() => {
    const el = ref.current;
    if (count < VIRTUAL_FROM) return { start: 0, end: count };
    const top = el ? el.scrollTop : 0;
    const height = el ? el.clientHeight : 800;
    return { start: Math.max(0, Math.floor(top / ROW_PITCH) - OVERSCAN), end: Math.min(count, Math.ceil((top + height) / ROW_PITCH) + OVERSCAN) };
  }, [count]);
  const [range, setRange] = useState(compute);
  const onScroll = useCallback(() => {
    const next = compute();
    setRange((prev) => (prev.start === next.start && prev.end === next.end ? prev : next));
  }, [compute]);
  useEffect(onScroll, [onScroll]);
  return { ...range, ref, onScroll };
}

// The grid: runs (columns, oldest left) × tasks (rows), each cell the state of that task's
// latest try in that run, with an icon, retries, and on hover or focus its duration; a cell
// links to the try.
//
// Keeping a 100 × 200 grid under a second: rows out of view are not rendered (windowed, see
// useWindowedRows), the table has a fixed layout (widths from a <colgroup>, no measuring of
// every cell), rows and, from 60 runs, columns out of view are not rendered either; a cell is one block element with its icon as text (no flex box, no ::before to
// style 4,000 times), no inline style and no per-cell title (the tooltip
// is built from one flat lookup map when the pointer or the focus reaches the cell), and a
// row is a memoised component that re-renders only when its own task instances change.
//
// Keyboard: one cell is in the tab order (roving tabindex); arrow keys move between cells,
// Home/End to a row's first/last run, PageUp/PageDown by ten tasks, Enter opens the try.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent, type MouseEvent } from 'react';
import type { GridRunDto, TaskInstanceDto } from '../api-types';
import { Link, path } from '../router';
import { stateIcon, stateLabel } from './state';
import { formatDuration, formatLocal } from './time';
import { useWindowedRows } from './windowed-rows';

function cellTitle(taskId: string, runId: string, ti: TaskInstanceDto | undefined): string {
  if (!ti) return `${taskId} in ${runId}: not in this run`;
  const parts = [`${taskId} in ${runId}: ${stateLabel(ti.state)}`];
  if (ti.tryNumber > 0) parts.push(`try ${ti.tryNumber} of ${ti.maxTries}`);
  if (ti.startedAt) parts.push(`${formatDuration((ti.endedAt ? Date.parse(ti.endedAt) : Date.now()) - Date.parse(ti.startedAt))}${ti.endedAt ? '' : ' so far'}`);
  if (ti.reason) parts.push(ti.reason);
  return parts.join(' · ');
}

/** Height of a grid row with its border spacing (CSS: .run-grid tbody tr). */
const ROW_PITCH = 22;
/** Below this many tasks every row is rendered. */
const VIRTUAL_FROM = 80;
const OVERSCAN = 8;
/** Width of a run column with its border spacing (CSS: .run-grid col.grid-col + border-spacing). */
const COL_PITCH = 20;
/** Below this many runs every column is rendered. */
const VIRTUAL_COLS_FROM = 60;
const COL_OVERSCAN = 4;
/** PageUp / PageDown move the focus by this many tasks. */
const PAGE = 10;

/** The cell that had the focus last, per DAG: coming back to the grid (Escape on a try's page) puts it there again. */
const lastFocus = new Map<string, { taskId: string; runId: string }>();

const key = (taskId: string, runId: string) => `${taskId}\u0000${runId}`;

export const RunGrid = memo(function RunGrid({ dagId, taskIds, runs }: { dagId: string; taskIds: string[]; runs: GridRunDto[] }) {
  // Oldest run on the left, as time flows.
  const columns = useMemo(() => [...runs].reverse(), [runs]);
  const runIds = useMemo(() => columns.map((r) => r.runId), [columns]);
  const runBase = useMemo(() => columns.map((r) => path('dags', dagId, 'runs', r.runId)), [dagId, columns]);
  // One flat map task × run → task instance, for the rows and the tooltips.
  const byCell = useMemo(() => {
    const map = new Map<string, TaskInstanceDto>();
    for (const run of runs) for (const ti of run.taskInstances) map.set(key(ti.taskId, run.runId), ti);
    return map;
  }, [runs]);
  // Each row's task instances, oldest run first: a row re-renders only when this array changes.
  const rowsOf = useRowCells(taskIds, runIds, byCell);
  const rows = useWindowedRows<HTMLDivElement>(taskIds.length, { pitch: ROW_PITCH, from: VIRTUAL_FROM, overscan: OVERSCAN, scroller: 'self' });
  const cols = useWindowedColumns(rows.ref, columns.length);
  const onScroll = useCallback(() => {
    rows.onScroll();
    cols.onScroll();
  }, [rows.onScroll, cols.onScroll]);

  // The focused cell (row = task index, col = run index); the one in the tab order.
  const [active, setActive] = useState(() => {
    const last = lastFocus.get(dagId);
    const row = last ? taskIds.indexOf(last.taskId) : -1;
    const col = last ? runIds.indexOf(last.runId) : -1;
    return row >= 0 && col >= 0 ? { row, col, focus: true } : { row: 0, col: Math.max(0, runIds.length - 1), focus: false };
  });
  const row = Math.min(active.row, Math.max(0, taskIds.length - 1));
  const col = Math.min(active.col, Math.max(0, runIds.length - 1));
  const wrap = rows.ref;
  // A keyboard move (or coming back to the grid) focuses the cell once it is rendered.
  const pendingFocus = useRef(active.focus);
  useEffect(() => {
    if (!pendingFocus.current) return;
    const el = wrap.current?.querySelector<HTMLElement>(`[data-r="${row}"][data-c="${col}"]`);
    if (!el) return;
    pendingFocus.current = false;
    if (document.activeElement !== el) el.focus();
  }, [active, row, col, rows.start, rows.end, cols.start, cols.end, wrap]);

  const onKeyDown = useCallback((event: KeyboardEvent<HTMLDivElement>) => {
    const cell = (event.target as HTMLElement).closest<HTMLElement>('[data-r]');
    if (!cell || event.altKey || event.ctrlKey || event.metaKey) return;
    const r = Number(cell.dataset.r);
    const c = Number(cell.dataset.c);
    const last = { r: taskIds.length - 1, c: runIds.length - 1 };
    const to =
      event.key === 'ArrowDown' ? { r: Math.min(last.r, r + 1), c } :
      event.key === 'ArrowUp' ? { r: Math.max(0, r - 1), c } :
      event.key === 'ArrowRight' ? { r, c: Math.min(last.c, c + 1) } :
      event.key === 'ArrowLeft' ? { r, c: Math.max(0, c - 1) } :
      event.key === 'Home' ? { r, c: 0 } :
      event.key === 'End' ? { r, c: last.c } :
      event.key === 'PageDown' ? { r: Math.min(last.r, r + PAGE), c } :
      event.key === 'PageUp' ? { r: Math.max(0, r - PAGE), c } : null;
    if (!to) return;
    event.preventDefault();
    rows.reveal(to.r);
    cols.reveal(to.c);
    pendingFocus.current = true;
    setActive({ row: to.r, col: to.c, focus: true });
  }, [taskIds.length, runIds.length, rows.reveal, cols.reveal]);

  // Tooltips (and the accessible name of a focused cell) built when needed, not for 20,000 cells up front.
  const describe = useCallback((event: MouseEvent<HTMLDivElement> | FocusEvent<HTMLDivElement>) => {
    const cell = (event.target as HTMLElement).closest<HTMLElement>('[data-r]');
    if (!cell || cell.title) return;
    const taskId = taskIds[Number(cell.dataset.r)];
    const runId = runIds[Number(cell.dataset.c)];
    if (taskId === undefined || runId === undefined) return;
    const title = cellTitle(taskId, runId, byCell.get(key(taskId, runId)));
    cell.title = title;
    cell.setAttribute('aria-label', title);
  }, [taskIds, runIds, byCell]);
  const onFocus = useCallback((event: FocusEvent<HTMLDivElement>) => {
    describe(event);
    const cell = (event.target as HTMLElement).closest<HTMLElement>('[data-r]');
    if (!cell) return;
    const r = Number(cell.dataset.r);
    const c = Number(cell.dataset.c);
    lastFocus.set(dagId, { taskId: taskIds[r]!, runId: runIds[c]! });
    setActive((prev) => (prev.row === r && prev.col === c ? prev : { row: r, col: c, focus: false }));
  }, [describe, dagId, taskIds, runIds]);

  const nameWidth = useMemo(() => Math.min(48, Math.max(10, ...taskIds.map((t) => t.length))) + 3, [taskIds]);
  if (runs.length === 0) return <div className="empty">No runs yet. Trigger one with the button above.</div>;
  return (
    <div
      className="grid-wrap" ref={rows.ref} onScroll={onScroll} data-rows={`${rows.start}-${rows.end}`} data-cols={`${cols.start}-${cols.end}`}
      onKeyDown={onKeyDown} onMouseOver={describe} onFocus={onFocus}
    >
      <table className="run-grid" data-testid="run-grid" aria-label="Grid: tasks by runs. Arrow keys move between cells, Enter opens the try." style={{ width: `calc(${nameWidth}ch + ${columns.length * 20 + 2}px)` }}>
        <colgroup>
          <col style={{ width: `${nameWidth}ch` }} />
          {columns.map((run) => <col key={run.runId} className="grid-col" />)}
        </colgroup>
        <thead>
          <tr>
            <th className="grid-task">Task \ run</th>
            {cols.start > 0 ? <th colSpan={cols.start} aria-hidden="true" /> : null}
            {columns.slice(cols.start, cols.end).map((run) => (
              <th key={run.runId} className="grid-run">
                <Link to={path('dags', dagId, 'runs', run.runId)} title={`${run.runId} · ${run.state} · ${formatLocal(run.logicalDate)}`} data-run={run.runId} data-state={run.state}>
                  <span className={`cell state-${run.state}`}><span aria-hidden="true">{stateIcon(run.state)}</span><span className="sr-only">{run.runId}: {stateLabel(run.state)}</span></span>
                </Link>
              </th>
            ))}
            {cols.end < columns.length ? <th colSpan={columns.length - cols.end} aria-hidden="true" /> : null}
          </tr>
        </thead>
        <tbody>
          {rows.start > 0 ? <tr aria-hidden="true" className="grid-spacer" style={{ height: rows.start * ROW_PITCH - 2 }} /> : null}
          {taskIds.slice(rows.start, rows.end).map((taskId, i) => {
            const r = rows.start + i;
            return <GridRow key={taskId} taskId={taskId} r={r} cells={rowsOf(r)} runIds={runIds} runBase={runBase} activeCol={r === row ? col : -1} from={cols.start} to={cols.end} />;
          })}
          {rows.end < taskIds.length ? <tr aria-hidden="true" className="grid-spacer" style={{ height: (taskIds.length - rows.end) * ROW_PITCH - 2 }} /> : null}
        </tbody>
      </table>
    </div>
  );
});

/**
 * Each row's task instances (by run, oldest first), keeping the previous array of a row
 * whose instances did not change: a live reload re-renders only the rows that changed.
 */
function useRowCells(taskIds: string[], runIds: string[], byCell: Map<string, TaskInstanceDto>): (r: number) => (TaskInstanceDto | undefined)[] {
  const previous = useRef(new Map<string, (TaskInstanceDto | undefined)[]>());
  const built = useMemo(() => new Map<string, (TaskInstanceDto | undefined)[]>(), [taskIds, runIds, byCell]);
  useEffect(() => {
    for (const [taskId, cells] of built) previous.current.set(taskId, cells);
  }, [built]);
  return (r: number) => {
    const taskId = taskIds[r]!;
    const cached = built.get(taskId);
    if (cached) return cached;
    const cells = runIds.map((runId) => byCell.get(key(taskId, runId)));
    const old = previous.current.get(taskId);
    const kept = old !== undefined && old.length === cells.length && old.every((ti, i) => sameTi(ti, cells[i])) ? old : cells;
    built.set(taskId, kept);
    return kept;
  };
}

function sameTi(a: TaskInstanceDto | undefined, b: TaskInstanceDto | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.state === b.state && a.tryNumber === b.tryNumber && a.startedAt === b.startedAt && a.endedAt === b.endedAt && a.reason === b.reason && a.maxTries === b.maxTries;
}

const GridRow = memo(function GridRow({ taskId, r, cells, runIds, runBase, activeCol, from, to }: {
  taskId: string; r: number; cells: (TaskInstanceDto | undefined)[]; runIds: string[]; runBase: string[]; activeCol: number;
  /** The runs (columns) rendered: [from, to); the others are one spanning cell on each side. */
  from: number; to: number;
}) {
  const task = encodeURIComponent(taskId);
  return (
    <tr>
      <th className="grid-task" scope="row">{taskId}</th>
      {from > 0 ? <td colSpan={from} aria-hidden="true" /> : null}
      {cells.slice(from, to).map((ti, i) => ({ ti, c: from + i })).map(({ ti, c }) => (
        <td key={runIds[c]}>
          {ti ? (
            <a
              href={`${runBase[c]}/tasks/${task}`} className={`cell state-${ti.state}`} tabIndex={c === activeCol ? 0 : -1}
              data-task={taskId} data-run={runIds[c]} data-state={ti.state} data-r={r} data-c={c}
            >
              {stateIcon(ti.state)}{ti.tryNumber > 1 ? <sup className="retries">{ti.tryNumber}</sup> : null}
            </a>
          ) : <span className="cell cell-missing" tabIndex={c === activeCol ? 0 : -1} data-r={r} data-c={c} />}
        </td>
      ))}
      {to < cells.length ? <td colSpan={cells.length - to} aria-hidden="true" /> : null}
    </tr>
  );
});

/**
 * The runs (columns) in or near the grid's horizontal view: a grid of many runs renders only
 * those, the others are one spanning cell per row on each side (scrolling renders them).
 */
function useWindowedColumns(ref: React.RefObject<HTMLDivElement | null>, count: number) {
  const compute = useCallback(() => {
    const el = ref.current;
    if (count < VIRTUAL_COLS_FROM) return { start: 0, end: count };
    // Before the grid is in the page: as many as the window is wide.
    if (!el) return { start: 0, end: Math.min(count, Math.ceil(window.innerWidth / COL_PITCH) + COL_OVERSCAN) };
    const nameWidth = el.querySelector('th.grid-task')?.getBoundingClientRect().width ?? 150;
    const left = el.scrollLeft;
    const width = Math.max(0, (el.clientWidth || 1200) - nameWidth);
    return { start: Math.max(0, Math.floor(left / COL_PITCH) - COL_OVERSCAN), end: Math.min(count, Math.ceil((left + width) / COL_PITCH) + COL_OVERSCAN) };
  }, [ref, count]);
  const [range, setRange] = useState(compute);
  const onScroll = useCallback(() => {
    const next = compute();
    setRange((prev) => (prev.start === next.start && prev.end === next.end ? prev : next));
  }, [compute]);
  useLayoutEffect(onScroll, [onScroll]);
  const reveal = useCallback((c: number) => {
    // As for rows: grow to take the column in, keeping the focused one rendered.
    setRange((prev) => (c >= prev.start && c < prev.end ? prev : {
      start: Math.max(0, Math.min(prev.start, c - COL_OVERSCAN)), end: Math.min(count, Math.max(prev.end, c + COL_OVERSCAN + 1)),
    }));
  }, [count]);
  return { ...range, onScroll, reveal };
}

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
// The active cell (focused, or about to be) is always rendered, in or out of the window: its
// row and run are rendered besides the windowed ones. So Tab reaches the grid whatever its
// scroll (the tab stop is the newest run, far right), and no range recomputation (a scroll
// event, a live reload) can unmount the cell that holds the focus, or the one a key press just
// moved it to. The focus lands on it in the commit that renders it, and the next key press
// moves on from there.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent, type MouseEvent } from 'react';
import type { GridRunDto, TaskInstanceDto } from '../api-types';
import { useCan } from '../auth';
import { Link, path } from '../router';
import { stateIcon, stateLabel } from './state';
import { formatDuration, formatLocal } from './time';
import { useWindowedRows } from './windowed-rows';

/** An empty grid: where runs come from, the trigger button only for those who have it. */
function NoRunsYet() {
  const canTrigger = useCan('operator');
  return <div className="empty">No runs yet. {canTrigger ? 'Trigger one with the button above.' : 'A scheduled or triggered run appears here as it starts.'}</div>;
}

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
  // The ranges rendered: the windowed rows and runs, and the active cell's row and run.
  const rowSpans = useMemo(() => withKept(rows.start, rows.end, row, taskIds.length), [rows.start, rows.end, row, taskIds.length]);
  const colSpans = useMemo(() => withKept(cols.start, cols.end, col, columns.length), [cols.start, cols.end, col, columns.length]);
  // The cell a key press (or coming back to the grid) moves the focus to, until it has it. The
  // ref names the cell, and the effect reads it from the ref, not from its own render: an
  // effect of an earlier commit that runs after the key press (React runs a commit's pending
  // effects before the next render; a scroll's re-render left one) must not take the pending
  // focus for the cell of its render and drop it (the key press lost, as it was 1 run in 3).
  const pendingFocus = useRef<{ row: number; col: number } | null>(active.focus ? { row, col } : null);
  // Where the next key press moves from: the pending cell, else the focused one.
  const moved = useRef({ row, col });
  // In the commit that renders the cell (a layout effect): nothing runs in between.
  useLayoutEffect(() => {
    const want = pendingFocus.current;
    if (!want) return;
    const el = wrap.current?.querySelector<HTMLElement>(`[data-r="${want.row}"][data-c="${want.col}"]`);
    if (!el) return;
    pendingFocus.current = null;
    if (document.activeElement !== el) el.focus();
  }, [active, rowSpans, colSpans, wrap]);

  const onKeyDown = useCallback((event: KeyboardEvent<HTMLDivElement>) => {
    const cell = (event.target as HTMLElement).closest<HTMLElement>('[data-r]');
    if (!cell || event.altKey || event.ctrlKey || event.metaKey) return;
    const r = Math.max(0, Math.min(moved.current.row, taskIds.length - 1));
    const c = Math.max(0, Math.min(moved.current.col, runIds.length - 1));
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
    moved.current = { row: to.r, col: to.c };
    pendingFocus.current = { row: to.r, col: to.c };
    setActive({ row: to.r, col: to.c, focus: true });
  }, [taskIds.length, runIds.length]);

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
    // A focus the grid did not move (a click, Tab): the keys move on from there.
    if (pendingFocus.current === null) moved.current = { row: r, col: c };
    setActive((prev) => (prev.row === r && prev.col === c ? prev : { row: r, col: c, focus: false }));
  }, [describe, dagId, taskIds, runIds]);

  const nameWidth = useMemo(() => Math.min(48, Math.max(10, ...taskIds.map((t) => t.length))) + 3, [taskIds]);
  if (runs.length === 0) return <NoRunsYet />;
  return (
    <div
      className="grid-wrap" ref={rows.ref} onScroll={onScroll} data-rows={`${rows.start}-${rows.end}`} data-cols={`${cols.start}-${cols.end}`}
      onKeyDown={onKeyDown} onMouseOver={describe} onFocus={onFocus}
    >
      <table className="run-grid" data-testid="run-grid" aria-label="Grid: tasks by runs. Arrow keys move between cells, Enter opens the try." style={{ width: `calc(${nameWidth}ch + ${columns.length * 20 + 2}px)`, ['--grid-name-width' as string]: `${nameWidth}ch` }}>
        <colgroup>
          <col style={{ width: `${nameWidth}ch` }} />
          {columns.map((run) => <col key={run.runId} className="grid-col" />)}
        </colgroup>
        <thead>
          <tr>
            <th className="grid-task">Task \ run</th>
            {layout(colSpans, columns.length, (c) => {
              const run = columns[c]!;
              return (
                <th key={run.runId} className="grid-run">
                  <Link to={path('dags', dagId, 'runs', run.runId)} title={`${run.runId} · ${run.state} · ${formatLocal(run.logicalDate)}`} data-run={run.runId} data-state={run.state}>
                    <span className={`cell state-${run.state}`}><span aria-hidden="true">{stateIcon(run.state)}</span><span className="sr-only">{run.runId}: {stateLabel(run.state)}</span></span>
                  </Link>
                </th>
              );
            }, (at, n) => <th key={`\u0000gap${at}`} colSpan={n} aria-hidden="true" />)}
          </tr>
        </thead>
        <tbody>
          {layout(rowSpans, taskIds.length, (r) => (
            <GridRow key={taskIds[r]} taskId={taskIds[r]!} r={r} cells={rowsOf(r)} runIds={runIds} runBase={runBase} activeCol={r === row ? col : -1} spans={colSpans} />
          ), (at, n) => <tr key={`\u0000gap${at}`} aria-hidden="true" className="grid-spacer" style={{ height: n * ROW_PITCH - 2 }} />)}
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

const GridRow = memo(function GridRow({ taskId, r, cells, runIds, runBase, activeCol, spans }: {
  taskId: string; r: number; cells: (TaskInstanceDto | undefined)[]; runIds: string[]; runBase: string[]; activeCol: number;
  /** The runs (columns) rendered (see withKept); the others are one spanning cell per gap. */
  spans: Spans;
}) {
  const task = encodeURIComponent(taskId);
  return (
    <tr>
      <th className="grid-task" scope="row">{taskId}</th>
      {layout(spans, cells.length, (c) => {
        const ti = cells[c];
        return (
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
        );
      }, (at, n) => <td key={`\u0000gap${at}`} colSpan={n} aria-hidden="true" />)}
    </tr>
  );
});

/** Ranges [from, to) of rows or runs rendered, in order. */
type Spans = readonly (readonly [number, number])[];

/**
 * The window [start, end) of `count` rows (or runs), and `kept` (the active cell's) when it is
 * outside it: the active cell stays rendered wherever the view scrolls.
 */
export function withKept(start: number, end: number, kept: number, count: number): Spans {
  if (kept < 0 || kept >= count || (kept >= start && kept < end)) return [[start, end]];
  return kept < start ? [[kept, kept + 1], [start, end]] : [[start, end], [kept, kept + 1]];
}

/** The elements of `spans` over `count` rows (or runs): `item(i)` for each one rendered, `gap(at, n)` for each run of `n` others from `at`. */
function layout<T>(spans: Spans, count: number, item: (i: number) => T, gap: (at: number, n: number) => T): T[] {
  const out: T[] = [];
  let at = 0;
  for (const [from, to] of spans) {
    if (from > at) out.push(gap(at, from - at));
    for (let i = Math.max(from, at); i < to; i++) out.push(item(i));
    at = Math.max(at, to);
  }
  if (count > at) out.push(gap(at, count - at));
  return out;
}

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
  return { ...range, onScroll };
}

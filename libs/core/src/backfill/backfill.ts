import type { SerializedDag } from '../dag/dag.types';
import { graphOf } from '../dag/graph';
import { checkTaskPattern, TaskPatternError } from '../patterns/task-pattern';
import { SCHEDULE_PRESETS } from '../schedule/schedule';
import { LOGICAL_DATE_FUTURE_TOLERANCE_MS } from '../schedule/logical-date';
import { CronExpressionParser } from 'cron-parser';
import type { DagRunState, TiState } from '../state/states';

/** At most this many runs in one backfill: a wider range is refused, naming how to split it. */
export const MAX_BACKFILL_RUNS = 1000;

/** A backfill request that cannot be carried out; `field` names the request field (CLI flag) at fault. */
export class BackfillRequestError extends Error {
  override name = 'BackfillRequestError';

  constructor(readonly field: 'from' | 'to' | 'tasks' | 'dagId' | 'maxActiveRuns', message: string) {
    super(message);
  }
}

/**
 * The logical dates of a backfill of `dag` from `from` to `to` (both inclusive): one per
 * schedule interval, i.e. each cron time `t` with `from <= t <= to`, oldest first — the
 * dates the DAG's schedule would have given its runs (CronTriggerTimetable semantics, as
 * the scheduler's own runs).
 * @throws BackfillRequestError when `from` is after `to`, `to` is later than `now`, the DAG has no cron schedule
 *   (manual only or `@once`), or the range holds no date or more than {@link MAX_BACKFILL_RUNS}
 */
export function backfillDates(dag: Pick<SerializedDag, 'id' | 'schedule'>, from: Date, to: Date, now: Date): Date[] {
  if (from.getTime() > to.getTime()) {
    throw new BackfillRequestError('from', `--from ${from.toISOString()} is after --to ${to.toISOString()}. Fix: swap them.`);
  }
  if (to.getTime() > now.getTime() + LOGICAL_DATE_FUTURE_TOLERANCE_MS) {
    throw new BackfillRequestError('to', `--to ${to.toISOString()} is in the future (the server's time is ${now.toISOString()}): a run's logical date is the start of the data it processes. Fix: end the range at or before now.`);
  }
  const text = dag.schedule?.trim() ?? null;
  const expr = text === null ? null : text.startsWith('@') ? SCHEDULE_PRESETS[text] ?? null : text;
  if (expr === null) {
    throw new BackfillRequestError('dagId', `DAG "${dag.id}" has ${text === null ? 'no schedule (manual only)' : `the schedule ${text}`}, so it has no intervals to backfill. ` +
      `Fix: trigger the dates you want with \`swarmflow dags trigger ${dag.id} --logical-date <date>\`, or give the DAG a cron schedule.`);
  }
  const cron = CronExpressionParser.parse(expr, { currentDate: new Date(from.getTime() - 1), tz: 'UTC' });
  const dates: Date[] = [];
  for (;;) {
    let t: Date;
    try {
      t = cron.next().toDate();
    } catch {
      break; // no further occurrence
    }
    if (t.getTime() > to.getTime()) break;
    if (dates.length >= MAX_BACKFILL_RUNS) {
      throw new BackfillRequestError('to', `${from.toISOString()} to ${to.toISOString()} holds more than ${MAX_BACKFILL_RUNS} intervals of DAG "${dag.id}" (${text}). Fix: backfill a shorter range at a time.`);
    }
    dates.push(t);
  }
  if (dates.length === 0) {
    throw new BackfillRequestError('to', `no interval of DAG "${dag.id}" (${text}) starts between ${from.toISOString()} and ${to.toISOString()}. Fix: widen the range.`);
  }
  return dates;
}

/** Which tasks of a backfill's runs run, and which are left out (they end `removed`). */
export interface BackfillSelection {
  /** Tasks that run, in topological order. */
  run: string[];
  /** Tasks left out, in topological order. */
  removed: string[];
}

/**
 * The tasks a backfill runs: every task when `pattern` is null; else the tasks whose id
 * matches the regular expression (anywhere in the id, as Airflow's `-t`) and — unless
 * `ignoreDependencies` — every task they depend on, transitively. The others end `removed`
 * in the backfill's new runs, and a removed upstream does not count for a trigger rule:
 * with `ignoreDependencies` a selected task runs without waiting for the tasks it needs.
 * @throws BackfillRequestError when the pattern is not a regular expression {@link checkTaskPattern} accepts, or matches no task
 */
export function selectBackfillTasks(dag: SerializedDag, pattern: string | null, ignoreDependencies: boolean): BackfillSelection {
  const order = graphOf(dag).order;
  if (pattern === null) return { run: [...order], removed: [] };
  let regex: RegExp;
  try {
    regex = checkTaskPattern('--tasks', pattern);
  } catch (err) {
    if (err instanceof TaskPatternError) throw new BackfillRequestError('tasks', err.message);
    throw err;
  }
  const selected = new Set(order.filter((id) => regex.test(id)));
  if (selected.size === 0) {
    throw new BackfillRequestError('tasks', `--tasks ${JSON.stringify(pattern)} matches no task of DAG "${dag.id}"; its tasks are ${order.join(', ')}. Fix: pick a pattern that matches some of them.`);
  }
  if (!ignoreDependencies) {
    const upstream = graphOf(dag).upstream;
    const stack = [...selected];
    while (stack.length > 0) {
      for (const up of upstream.get(stack.pop()!) ?? []) {
        if (!selected.has(up)) {
          selected.add(up);
          stack.push(up);
        }
      }
    }
  }
  return { run: order.filter((id) => selected.has(id)), removed: order.filter((id) => !selected.has(id)) };
}

/** What a backfill does at one logical date. */
export type BackfillAction =
  | 'create' //  no run at that date: a `backfill` run is created with the selection
  | 'reuse' //   a run holds the date: the backfill follows it as it is (queued, running, or ended)
  | 'rerun'; //  an ended run with failed tasks among the selection, and --rerun-failed: those are cleared

/** A run at one of the backfill's dates, as the planner needs it. */
export interface ExistingBackfillRun {
  runId: string;
  state: DagRunState;
  /** Its task instances' states by task id. */
  tasks: ReadonlyMap<string, TiState>;
}

export interface BackfillDatePlan {
  logicalDate: Date;
  action: BackfillAction;
  /** The run holding the date, or the id the new run gets. */
  runId: string;
  /** With `rerun`: the tasks cleared (failed or upstream_failed among the selection). */
  rerun: string[];
}

/** The id of a backfill's run at a logical date. */
export function backfillRunId(logicalDate: Date): string {
  return `backfill__${logicalDate.toISOString()}`;
}

/**
 * What a backfill does at each of its dates: creates a run where there is none and reuses
 * the run that holds a date (whatever created it), so that asking twice creates nothing
 * new. With `rerunFailed`, an ended run's failed and upstream-failed tasks among
 * `selection.run` are cleared to run again; nothing else of an existing run is touched.
 */
export function planBackfill(
  dates: readonly Date[], existing: ReadonlyMap<number, ExistingBackfillRun>, selection: BackfillSelection, rerunFailed: boolean,
): BackfillDatePlan[] {
  return dates.map((logicalDate) => {
    const run = existing.get(logicalDate.getTime());
    if (!run) return { logicalDate, action: 'create', runId: backfillRunId(logicalDate), rerun: [] };
    const ended = run.state === 'success' || run.state === 'failed';
    // In topological order (the selection's).
    const rerun = rerunFailed && ended
      ? selection.run.filter((id) => run.tasks.get(id) === 'failed' || run.tasks.get(id) === 'upstream_failed')
      : [];
    return { logicalDate, action: rerun.length > 0 ? 'rerun' : 'reuse', runId: run.runId, rerun };
  });
}

/** Where a backfill stands, from the states of its runs. */
export type BackfillState =
  | 'running' // some run is queued or running (or not yet created)
  | 'paused' //  interrupted: its queued runs wait, running ones go on; asking again resumes it
  | 'success' // every run ended in success
  | 'failed'; //  every run ended, some failed

/**
 * A backfill's state from its `paused` flag and its runs' states. Its runs are created or
 * reused all at once, with the backfill; a later backfill that reuses one of them takes it
 * over, so a backfill has ended when none of the runs it still has is queued or running.
 */
export function backfillState(paused: boolean, runStates: readonly DagRunState[]): BackfillState {
  if (runStates.some((s) => s === 'queued' || s === 'running')) return paused ? 'paused' : 'running';
  return runStates.includes('failed') ? 'failed' : 'success';
}

import { CronExpressionParser, type CronExpression } from 'cron-parser';

/** Presets a DAG's `schedule` may use besides a cron expression. */
export const SCHEDULE_PRESETS: Readonly<Record<string, string | null>> = {
  '@once': null, // a single run, at the start date (or when first seen)
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const DEFAULT_CATCHUP_LIMIT = 1000;

/**
 * Checks a schedule: a 5-field cron (`min hour dom month dow`), a 6-field cron with
 * seconds first, or a preset (`@once`, `@hourly`, `@daily`, `@weekly`, `@monthly`,
 * `@yearly`). Returns an error message, or null when valid (null schedule = manual only).
 */
export function validateSchedule(expr: string | null): string | null {
  if (expr === null) return null;
  if (typeof expr !== 'string') return `schedule must be a string or null (got ${typeof expr})`;
  const text = expr.trim();
  if (text.startsWith('@')) {
    if (text in SCHEDULE_PRESETS) return null;
    return `unknown schedule preset "${text}" (use one of ${Object.keys(SCHEDULE_PRESETS).join(', ')})`;
  }
  const fields = text.split(/\s+/).filter(Boolean).length;
  if (fields !== 5 && fields !== 6) {
    return `cron expression "${text}" has ${fields} field${fields === 1 ? '' : 's'}, expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)`;
  }
  try {
    CronExpressionParser.parse(text, { currentDate: 0, tz: 'UTC' });
    return null;
  } catch (err) {
    return `invalid cron expression "${text}": ${(err as Error).message}`;
  }
}

function cronOf(schedule: string, currentDate: Date): CronExpression | null {
  const text = schedule.trim();
  const expr = text.startsWith('@') ? SCHEDULE_PRESETS[text] : text;
  if (expr === undefined) throw new Error(`invalid schedule "${schedule}": ${validateSchedule(schedule)}`);
  if (expr === null) return null;
  return CronExpressionParser.parse(expr, { currentDate, tz: 'UTC' });
}

function nextTick(cron: CronExpression): Date | null {
  try {
    return cron.next().toDate();
  } catch {
    return null; // no further occurrence (out of cron-parser's time span)
  }
}

/** Input of {@link dueLogicalDates}. Every time is passed in: the core never reads the clock. */
export interface DueLogicalDatesInput {
  /** Cron or preset; null = manual only (never due). */
  schedule: string | null;
  /** Inclusive lower bound of logical dates; null = `firstSeen`. */
  startDate: Date | null;
  catchup: boolean;
  /** Logical date of the newest scheduled run so far; candidates are strictly after it. */
  lastLogicalDate: Date | null;
  /** When the DAG was first seen by the scheduler (lower bound when there is no start date). */
  firstSeen: Date;
  now: Date;
  /** At most this many dates with catchup (default 1000), the oldest first. */
  limit?: number;
}

/**
 * The logical dates of the scheduled runs due at `now`, oldest first, with Airflow 3
 * CronTriggerTimetable semantics: a run fires at each cron time `t <= now` and its
 * logical date is `t`. Candidates are after `lastLogicalDate` (exclusive) and from
 * `startDate ?? firstSeen` (inclusive), whichever is later. With `catchup` false only the
 * newest due `t` is returned; with `catchup` true all of them, capped by `limit`.
 * `@once` yields its single date (`startDate ?? firstSeen`) once, when no run exists yet.
 */
export function dueLogicalDates(input: DueLogicalDatesInput): Date[] {
  const { schedule, catchup, lastLogicalDate, now } = input;
  if (schedule === null) return [];
  const from = input.startDate ?? input.firstSeen;
  if (schedule.trim() === '@once') {
    return lastLogicalDate === null && from.getTime() <= now.getTime() ? [from] : [];
  }
  // Inclusive lower bound in ms: cron-parser's next() is strictly after currentDate.
  let lower = from.getTime();
  if (lastLogicalDate !== null) lower = Math.max(lower, lastLogicalDate.getTime() + 1);
  if (lower > now.getTime()) return [];

  if (!catchup) {
    // The newest cron time <= now: prev() is strictly before currentDate.
    const cron = cronOf(schedule, new Date(now.getTime() + 1))!;
    let newest: Date;
    try {
      newest = cron.prev().toDate();
    } catch {
      return [];
    }
    return newest.getTime() >= lower ? [newest] : [];
  }

  const limit = input.limit ?? DEFAULT_CATCHUP_LIMIT;
  const cron = cronOf(schedule, new Date(lower - 1))!;
  const due: Date[] = [];
  while (due.length < limit) {
    const t = nextTick(cron);
    if (t === null || t.getTime() > now.getTime()) break;
    due.push(t);
  }
  return due;
}

/**
 * The first cron time strictly after `after`, for display ("next run"), and not before the
 * DAG's `startDate` (inclusive, as {@link dueLogicalDates} counts it): a DAG that starts next
 * month runs first then. Null for a manual DAG, `@once`, or a cron with no further occurrence.
 */
export function nextRunAfter(schedule: string | null, after: Date, startDate: Date | null = null): Date | null {
  if (schedule === null) return null;
  const from = startDate !== null && startDate.getTime() > after.getTime() ? new Date(startDate.getTime() - 1) : after;
  const cron = cronOf(schedule, from);
  return cron === null ? null : nextTick(cron);
}

import { FINISHED_TI_STATES, TI_STATES, type TiState } from '@swarmflow/core';
import { ApiConnectionError, ApiError, type RunDetailDto, type SwarmflowClient, type TaskInstanceDto } from '../api-client';
import type { CliDeps } from '../cli-context';
import { CliError, EXIT_FAILURE } from '../errors';
import { describeTaskChange, extraReason, formatDate, indent } from '../format';

export const POLL_INTERVAL_MS = 500;
const LOG_TAIL_LINES = 20;
/** Runs with more task instances than this get progress lines instead of a line per state change. */
export const PER_TASK_LINES_UP_TO = 50;
/** A large run's progress line comes when its counts change, at most this often (and once more when the run ends)... */
export const PROGRESS_EVERY_MS = 5_000;
/** ...and at least this often while they do not, so a stuck run still shows where it is. */
export const PROGRESS_UNCHANGED_EVERY_MS = 60_000;
/** States a large run still prints per task: the ones someone watching must not miss. */
const ALWAYS_PRINTED: ReadonlySet<TiState> = new Set(['failed', 'up_for_retry', 'upstream_failed']);
const FINISHED: ReadonlySet<TiState> = new Set(FINISHED_TI_STATES);
/** A progress line's order: finished states first, then the others backwards along a task's way. */
const PROGRESS_ORDER: readonly TiState[] = [
  ...FINISHED_TI_STATES, ...TI_STATES.filter((state) => !FINISHED.has(state)).reverse(),
];

/** Waits between polls that failed transiently: doubling from the first, capped at the last. */
export const TRANSIENT_BACKOFF_MS = { first: 500, max: 5_000 } as const;
/** Statuses that say "not now" rather than "no": a proxy without its server, a server without its database. */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** Whether a failed API call may succeed if asked again: no connection, or 502/503/504. */
export function isTransientApiError(err: unknown): err is ApiConnectionError | ApiError {
  return err instanceof ApiConnectionError || (err instanceof ApiError && TRANSIENT_STATUSES.has(err.status));
}

export interface WatchOptions {
  timeoutMs: number;
  print(line: string): void;
  sleep: CliDeps['sleep'];
  now: CliDeps['now'];
  intervalMs?: number;
}

/**
 * Polls a run until it succeeds or fails, printing one line per task state change (a new
 * state or a new try). A run of more than {@link PER_TASK_LINES_UP_TO} task instances
 * prints per task only failures, retries (a new try, or `up_for_retry`) and upstream
 * failures, plus a progress line (tasks per state) when the counts change, at most every
 * {@link PROGRESS_EVERY_MS}, at least every {@link PROGRESS_UNCHANGED_EVERY_MS}, and when
 * the run ends or the wait gives up: a line per change would be thousands of lines.
 * Throws {@link CliError} (exit 1) when `timeoutMs` passes first.
 */
export async function watchRun(client: Pick<SwarmflowClient, 'getRun'>, dagId: string, runId: string, options: WatchOptions): Promise<RunDetailDto> {
  const deadline = options.now().getTime() + options.timeoutMs;
  const seen = new Map<string, { state: string; tryNumber: number }>();
  let lastRunState = '';
  /** Decided once the run has task instances (they are all created together). */
  let perTask: boolean | null = null;
  let lastProgress = '';
  let lastProgressAt = -Infinity;
  for (;;) {
    const run = await pollRun(client, dagId, runId, options, deadline);
    if (run.state !== lastRunState) {
      options.print(`run ${run.runId}: ${run.state}`);
      lastRunState = run.state;
    }
    if (perTask === null && run.taskInstances.length > 0) perTask = run.taskInstances.length <= PER_TASK_LINES_UP_TO;
    const width = Math.max(0, ...run.taskInstances.map((t) => t.taskId.length));
    for (const ti of run.taskInstances) {
      const before = seen.get(ti.taskId);
      seen.set(ti.taskId, { state: ti.state, tryNumber: ti.tryNumber });
      // Instances that are still `none` when first seen have not changed: no line for them.
      if (before ? before.state === ti.state && before.tryNumber === ti.tryNumber : ti.state === 'none') continue;
      const retried = ti.tryNumber > 1 && ti.tryNumber > (before?.tryNumber ?? 1);
      if (perTask !== false || ALWAYS_PRINTED.has(ti.state) || retried) options.print(describeTaskChange(ti, width));
    }
    const ended = run.state === 'success' || run.state === 'failed';
    const givingUp = !ended && options.now().getTime() >= deadline;
    if (perTask === false) {
      const progress = describeProgress(run.taskInstances);
      const since = options.now().getTime() - lastProgressAt;
      const due = progress === lastProgress ? since >= PROGRESS_UNCHANGED_EVERY_MS : since >= PROGRESS_EVERY_MS || ended || givingUp;
      if (due) {
        options.print(progress);
        lastProgress = progress;
        lastProgressAt = options.now().getTime();
      }
    }
    if (ended) return run;
    if (givingUp) {
      throw new CliError(
        `gave up waiting after ${formatMs(options.timeoutMs)}: run ${runId} of ${dagId} is still ${run.state}. ` +
          `Follow it with \`swarmflow runs show ${dagId} ${runId}\`.`,
        EXIT_FAILURE,
      );
    }
    await options.sleep(options.intervalMs ?? POLL_INTERVAL_MS);
  }
}

/**
 * One poll of the run. A transient failure (the API or its database briefly out of reach)
 * is retried with backoff until it answers or the wait's deadline passes: the run goes on
 * meanwhile, and only its real end is reported. One line when the API stops answering, one
 * when it answers again. Any other error is thrown at once.
 */
async function pollRun(
  client: Pick<SwarmflowClient, 'getRun'>, dagId: string, runId: string, options: WatchOptions, deadline: number,
): Promise<RunDetailDto> {
  let backoff: number = TRANSIENT_BACKOFF_MS.first;
  let failures = 0;
  for (;;) {
    try {
      const run = await client.getRun(dagId, runId);
      if (failures > 0) options.print(`API answers again (after ${failures} failed poll${failures > 1 ? 's' : ''}): still waiting for run ${runId}`);
      return run;
    } catch (err) {
      if (!isTransientApiError(err)) throw err;
      failures++;
      const left = deadline - options.now().getTime();
      if (left <= 0) {
        throw new CliError(
          `gave up waiting after ${formatMs(options.timeoutMs)}: the API did not answer the last ${failures} poll${failures > 1 ? 's' : ''} ` +
            `(${describeTransient(err)}), and run ${runId} of ${dagId} may still be going. Follow it with \`swarmflow runs show ${dagId} ${runId}\`.`,
          EXIT_FAILURE,
        );
      }
      if (failures === 1) options.print(`API not answering (${describeTransient(err)}): retrying until it does; the run goes on`);
      await options.sleep(Math.min(backoff, left));
      backoff = Math.min(backoff * 2, TRANSIENT_BACKOFF_MS.max);
    }
  }
}

function describeTransient(err: ApiConnectionError | ApiError): string {
  return err instanceof ApiConnectionError ? err.problem : `HTTP ${err.status} ${err.reason}`;
}

/** `  412/500 ended · success 400 · skipped 12 · running 8 · queued 80`: counts per state, zeros left out. */
export function describeProgress(tis: readonly Pick<TaskInstanceDto, 'state'>[]): string {
  const counts = new Map<TiState, number>();
  for (const ti of tis) counts.set(ti.state, (counts.get(ti.state) ?? 0) + 1);
  const ended = tis.filter((ti) => FINISHED.has(ti.state)).length;
  const parts = PROGRESS_ORDER.filter((state) => counts.has(state)).map((state) => ` · ${state} ${counts.get(state)}`);
  return `  ${ended}/${tis.length} ended${parts.join('')}`;
}

/** The failed task instances of a run with exit code, reason and the last lines of their log. */
export async function describeFailures(client: Pick<SwarmflowClient, 'readLogs'>, run: RunDetailDto): Promise<string[]> {
  const failed = run.taskInstances.filter((t) => t.state === 'failed');
  const out: string[] = [];
  for (const ti of failed) {
    out.push(`${ti.taskId} failed on try ${ti.tryNumber}${ti.exitCode !== null ? ` with exit code ${ti.exitCode}` : ''}` +
      `${extraReason(ti) ? ` (${extraReason(ti)})` : ''}${ti.endedAt ? ` at ${formatDate(ti.endedAt)}` : ''}`);
    const tail = await logTail(client, run.dagId, run.runId, ti);
    if (tail.length) out.push(indent(tail.join('\n'), '  | '));
    out.push(`  full log: swarmflow tasks logs ${run.dagId} ${run.runId} ${ti.taskId} --try ${ti.tryNumber}`);
  }
  const upstreamFailed = run.taskInstances.filter((t) => t.state === 'upstream_failed').map((t) => t.taskId);
  if (upstreamFailed.length) out.push(`not run because upstream tasks failed: ${upstreamFailed.join(', ')}`);
  return out;
}

async function logTail(client: Pick<SwarmflowClient, 'readLogs'>, dagId: string, runId: string, ti: TaskInstanceDto): Promise<string[]> {
  if (ti.tryNumber === 0) return [];
  let cursor = 0;
  let tail: string[] = [];
  // Pages of up to 1000 lines; a bounded number of them, this is only a summary.
  for (let page = 0; page < 20; page++) {
    const logs = await client.readLogs(dagId, runId, ti.taskId, { tryNumber: ti.tryNumber, cursor });
    if (logs.lines.length === 0) break;
    tail = [...tail, ...logs.lines.map((l) => l.line)].slice(-LOG_TAIL_LINES);
    cursor = logs.cursor;
  }
  return tail;
}

/**
 * Prints a try's log (default: the current try). With `follow`, keeps polling with the
 * cursor until the try is finished and no lines are left.
 */
export async function followLogs(
  client: Pick<SwarmflowClient, 'readLogs'>,
  ids: { dagId: string; runId: string; taskId: string },
  options: { tryNumber?: number; follow: boolean; print(line: string): void; sleep: CliDeps['sleep']; intervalMs?: number },
): Promise<{ tryNumber: number; lines: number; archivedUrl?: string }> {
  let cursor = 0;
  let archivedUrl: string | undefined;
  let tryNumber = options.tryNumber;
  let count = 0;
  for (;;) {
    const logs = await client.readLogs(ids.dagId, ids.runId, ids.taskId, { tryNumber, cursor });
    // Stay on the try we started with, even if a retry begins meanwhile.
    tryNumber = logs.tryNumber;
    archivedUrl ??= logs.archivedUrl;
    for (const line of logs.lines) options.print(line.line);
    count += logs.lines.length;
    cursor = logs.cursor;
    if (logs.lines.length === 0 && (!options.follow || logs.finished)) return { tryNumber, lines: count, ...(archivedUrl ? { archivedUrl } : {}) };
    if (logs.lines.length === 0) await options.sleep(options.intervalMs ?? POLL_INTERVAL_MS);
  }
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

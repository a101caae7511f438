import { InvalidArgumentError } from 'commander';
import Table from 'cli-table3';
import { parseDuration } from '@swarmflow/core';
import type {
  CacheEntryDto, RunDetailDto, TaskInstanceDetailDto,
  DagDetailDto, DagSummaryDto, ImportErrorDto, PoolDto, RunDto, TaskInstanceDto, VariableDto, WorkerDto, QueueDto,
} from './api-client';

// --- option parsers: commander prints their message as "option '--x <v>' argument 'y' is invalid. <message>" ---

/** `--conf '<json>'`: a JSON object. */
export function parseConf(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`--conf is not valid JSON (${(err as Error).message}). Pass a JSON object in single quotes, e.g. --conf '{"epochs": 5}'.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`--conf must be a JSON object, e.g. --conf '{"epochs": 5}'.`);
  }
  return value as Record<string, unknown>;
}

/** `--timeout 1h`: a duration (`90s`, `30m`, `1h30m`) or milliseconds. */
export function parseTimeout(text: string): number {
  try {
    const ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text, '--timeout');
    if (ms > 0) return ms;
  } catch {
    // Reported below, with the CLI's wording.
  }
  throw new InvalidArgumentError(`--timeout must be a duration such as 90s, 30m or 1h30m.`);
}

/** A whole number >= 1, for `--limit` and `--try`. */
export function parsePositiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a whole number of at least 1.');
  }
  return n;
}

/** A whole number >= 0, for pool slots. */
export function parseNonNegativeInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number (0 or more).');
  return n;
}

// --- formatting ---

/** A table without colours or borders, as plain columns (stable in logs and pipes). */
export function table(head: string[], rows: (string | number | null)[][]): string {
  const t = new Table({
    head,
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '',
    },
  });
  for (const row of rows) t.push(row.map((cell) => (cell === null ? '-' : String(cell))));
  return t.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

/** `2025-03-01 12:00:00` (UTC) or `-`. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export function formatDagsTable(dags: DagSummaryDto[]): string {
  return table(
    ['DAG', 'PAUSED', 'SCHEDULE', 'LAST RUN', 'FILE'],
    dags.map((d) => [
      d.dagId, d.isPaused ? 'yes' : 'no', d.schedule ?? 'manual', d.lastRun ? `${d.lastRun.state} (${formatDate(d.lastRun.logicalDate)})` : '-',
      d.importError ? `${d.fileloc} (import error: last good version)` : d.fileloc,
    ]),
  );
}

export function formatImportErrorSummary(errors: ImportErrorDto[]): string | null {
  if (errors.length === 0) return null;
  const files = errors.length === 1 ? '1 DAG file' : `${errors.length} DAG files`;
  return `${files} failed to import; see \`swarmflow dags errors\`.`;
}

export function formatImportErrors(errors: ImportErrorDto[]): string {
  if (errors.length === 0) return 'No import errors.';
  return errors.map((e) => `${e.fileloc} (${formatDate(e.at)})\n${indent(e.message, '  ')}`).join('\n\n');
}

export function formatDagDetail(dag: DagDetailDto): string {
  const lines = [
    `DAG          ${dag.dagId}${dag.isActive ? '' : ' (inactive: no DAG file defines it any more)'}`,
    `file         ${dag.fileloc}`,
    ...(dag.importError
      ? [`import error the file fails to import since ${formatDate(dag.importError.at)}: this is its last good version (see \`swarmflow dags errors\`)`,
        indent(dag.importError.message.split('\n')[0], '             ')]
      : []),
    `schedule     ${dag.schedule ?? 'manual'}${dag.isPaused ? ' (paused)' : ''}${dag.nextRun ? `, next ${formatDate(dag.nextRun)}` : ''}`,
  ];
  if (dag.description) lines.push(`description  ${dag.description}`);
  if (dag.tags.length) lines.push(`tags         ${dag.tags.join(', ')}`);
  lines.push(`version      ${dag.latestVersion.slice(0, 12)}`);
  lines.push(`last run     ${dag.lastRun ? `${dag.lastRun.runId} ${dag.lastRun.state}` : '-'}`);
  lines.push('', 'Tasks');
  lines.push(table(
    ['TASK', 'UPSTREAM', 'QUEUE', 'RETRIES', 'TRIGGER RULE'],
    dag.tasks.map((t) => [t.taskId, t.upstream.length ? t.upstream.join(', ') : '-', t.queue, t.retries, t.triggerRule]),
  ));
  const params = Object.entries(dag.params);
  lines.push('', 'Params');
  if (params.length === 0) {
    lines.push('(none)');
  } else {
    lines.push(table(
      ['PARAM', 'TYPE', 'DEFAULT', 'DESCRIPTION'],
      params.map(([name, spec]) => [
        name, spec.enum ? `${spec.type} (${spec.enum.map((v) => JSON.stringify(v)).join(' | ')})` : spec.type,
        spec.default === undefined ? '(required)' : JSON.stringify(spec.default), spec.description ?? null,
      ]),
    ));
  }
  return lines.join('\n');
}

export function formatRunsTable(runs: RunDto[]): string {
  if (runs.length === 0) return 'No runs.';
  return table(
    ['DAG', 'RUN', 'STATE', 'TYPE', 'LOGICAL DATE', 'STARTED', 'ENDED'],
    runs.map((r) => [r.dagId, r.runId, r.state, r.runType, formatDate(r.logicalDate), formatDate(r.startedAt), formatDate(r.endedAt)]),
  );
}

export function formatTaskInstancesTable(tis: TaskInstanceDto[]): string {
  if (tis.length === 0) return 'No task instances yet (the scheduler creates them when the run starts).';
  return table(
    ['TASK', 'STATE', 'TRY', 'WORKER', 'EXIT', 'STARTED', 'ENDED', 'REASON'],
    tis.map((t) => [t.taskId, t.state, `${t.tryNumber}/${t.maxTries}`, t.worker, t.exitCode, formatDate(t.startedAt), formatDate(t.endedAt), t.reason]),
  );
}

/** A run's outputs (one line per task that wrote some), the tries cached tasks took over, and its version set. */
export function formatRunExtras(run: RunDetailDto): string[] {
  const lines: string[] = [];
  for (const t of run.taskInstances) {
    if (t.cachedFrom) lines.push(`${t.taskId}: cached from ${t.cachedFrom.dagId} run ${t.cachedFrom.runId} (${t.cachedFrom.taskId} try ${t.cachedFrom.tryNumber})`);
  }
  const outputs = run.taskInstances.filter((t) => t.outputs !== null);
  if (outputs.length) lines.push('outputs:', ...outputs.map((t) => `  ${t.taskId}: ${JSON.stringify(t.outputs)}`));
  if (run.images.length) lines.push('images (version set):', ...run.images.map((i) => `  ${i.image} -> ${i.digest}`));
  if (run.cacheForce !== null) lines.push(`forced (cache not used): tasks matching /${run.cacheForce}/`);
  return lines;
}

/** One task instance with its outputs and each try's result. */
export function formatTaskInstanceDetail(ti: TaskInstanceDetailDto): string {
  const lines = [
    `${ti.dagId} run ${ti.runId} task ${ti.taskId}: ${ti.state} (try ${ti.tryNumber}/${ti.maxTries}${ti.worker ? ` on ${ti.worker}` : ''}, ` +
      `started ${formatDate(ti.startedAt)}, ended ${formatDate(ti.endedAt)})`,
  ];
  if (ti.reason) lines.push(`reason: ${ti.reason}`);
  if (ti.cachedFrom) lines.push(`cached from: ${ti.cachedFrom.dagId} run ${ti.cachedFrom.runId} task ${ti.cachedFrom.taskId} try ${ti.cachedFrom.tryNumber}`);
  if (ti.outputs !== null) lines.push(`outputs: ${JSON.stringify(ti.outputs)}`);
  // Every try, newest first: what it ended as, its exit code and worker (from its
  // transitions), and its stored result (image, container, cache key) when it has one.
  const numbers = new Set([...ti.tries.map((t) => t.tryNumber), ...ti.history.map((h) => h.tryNumber).filter((n) => n > 0)]);
  for (const n of [...numbers].sort((a, b) => b - a)) {
    const t = ti.tries.find((r) => r.tryNumber === n);
    const ran = tryFromHistory(ti, n);
    // A cached task ran nothing: the scheduler found the entry (no try: "try 0"), or a worker
    // confirmed it (the try's image still had the entry's digest) without starting a container.
    const outcome = t?.cachedFrom ? 'cached' : t ? (t.succeeded ? 'succeeded' : 'failed') : ran.state ?? 'not started';
    const parts = [n === 0 ? `no try ran: ${outcome}` : `try ${n}: ${outcome}${t?.cachedFrom ? ', nothing ran' : ''}`];
    if (ran.exitCode !== null) parts.push(`exit code ${ran.exitCode}`);
    if (ran.worker) parts.push(`on ${ran.worker}${ran.hostname ? ` (${ran.hostname})` : ''}`);
    if (ran.unrecorded) parts.push(`${ran.worker ? 'exit code' : 'exit code and worker'} not recorded (the try ran before this version of Swarmflow)`);
    if (t?.image) parts.push(`image ${t.image} -> ${t.imageDigest}`);
    if (t?.containerId) parts.push(`container ${t.containerId.slice(0, 12)}${t.gpuDevices?.length ? ` GPUs ${t.gpuDevices.join(',')}` : ''}${t.runtime ? ` runtime ${t.runtime}` : ''}`);
    if (t?.cacheKey) parts.push(`cache key ${t.cacheKey}`);
    lines.push(parts.join(', '));
  }
  return lines.join('\n');
}

const TRY_ENDS = new Set<string>(['success', 'failed', 'up_for_retry', 'skipped', 'cached']);

/**
 * One try as its transitions recorded it: what it ended as, the exit code of the step that
 * ended it, the worker of its last step that had one. `unrecorded`: it started, but its
 * transitions predate the columns that keep the worker and exit code per try.
 */
function tryFromHistory(ti: TaskInstanceDetailDto, tryNumber: number) {
  const rows = ti.history.filter((h) => h.tryNumber === tryNumber).reverse();
  const end = rows.find((h) => (h.from === 'running' || h.from === 'queued') && TRY_ENDS.has(h.to));
  const ran = rows.find((h) => h.worker != null);
  return {
    state: rows.find((h) => TRY_ENDS.has(h.to))?.to ?? rows[0]?.to ?? null,
    exitCode: end?.exitCode ?? null,
    worker: ran?.worker ?? ti.containers?.find((c) => c.tryNumber === tryNumber)?.worker ?? null,
    hostname: ran?.hostname ?? null,
    unrecorded: rows.some((h) => h.to === 'running') && !ran,
  };
}

export function formatCacheTable(entries: CacheEntryDto[]): string {
  if (entries.length === 0) return 'No cache entries.';
  return table(
    ['KEY', 'DAG', 'RUN', 'TASK', 'TRY', 'CREATED', 'OUTPUTS'],
    entries.map((e) => [e.key.slice(0, 12), e.dagId, e.runId, e.taskId, e.tryNumber, formatDate(e.createdAt), e.outputs === null ? null : JSON.stringify(e.outputs)]),
  );
}

export function formatPoolsTable(pools: PoolDto[]): string {
  return table(['POOL', 'SLOTS', 'DESCRIPTION'], pools.map((p) => [p.name, p.slots, p.description]));
}

/**
 * The workers, RUNNING as `<tries>/<concurrency>`. A lost worker shows `-`: it runs nothing
 * we know of, whatever its last heartbeat listed (older servers still send that list).
 */
export function formatWorkersTable(workers: WorkerDto[]): string {
  if (workers.length === 0) return 'No workers have sent a heartbeat.';
  return table(
    ['WORKER', 'HOST', 'STATE', 'QUEUES', 'RUNNING', 'LAST HEARTBEAT'],
    workers.map((w) => [
      w.name, w.hostname, w.state, w.queues.join(','), w.state === 'lost' ? null : `${w.running.length}/${w.concurrency}`, formatDate(w.lastHeartbeatAt),
    ]),
  );
}

/** `workers show`: one field per line; fields an older worker or server does not report show `-`. */
export function formatWorkerDetail(w: WorkerDto): string {
  const unacked = Object.entries(w.unacked ?? {}).map(([q, n]) => `${q}=${n}`).join(', ');
  const rows: [string, string | number | null | undefined][] = [
    ['name', w.name],
    ['hostname', w.hostname],
    ['state', w.state],
    ['version', w.version],
    ['queues', w.queues.join(',')],
    ['slots', `${w.state === 'lost' ? 0 : w.running.length} running of ${w.concurrency}`],
    ['gpus', w.gpus],
    ['processed', w.processed],
    ['failed', w.failed],
    ['unacked', unacked || (w.unacked ? '0' : null)],
    ['started', w.startedAt ? formatDate(w.startedAt) : null],
    ['uptime', w.uptimeSeconds == null ? null : formatDuration(w.uptimeSeconds)],
    ['last heartbeat', `${formatDate(w.lastHeartbeatAt)}${w.heartbeatAgeSeconds == null ? '' : ` (${formatDuration(w.heartbeatAgeSeconds)} ago)`}`],
    ['running tries', w.state === 'lost' || w.running.length === 0 ? null : w.running.map((r) => `${r.tiId}/${r.tryNumber}`).join(', ')],
  ];
  return rows.map(([k, v]) => `${k.padEnd(15)}${v === null || v === undefined || v === '' ? '-' : v}`).join('\n');
}

/** `1h 02m 03s`, `4m 05s`, `2.5s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds * 10) / 10}s`;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${rest}s` : `${m}m ${rest}s`;
}

/** `queues list`: READY waits for a worker, UNACKED is held by workers, CONSUMERS are attached now. */
export function formatQueuesTable(queues: QueueDto[]): string {
  if (queues.length === 0) return 'No task queues are known: no worker has sent a heartbeat and nothing is queued.';
  return table(
    ['QUEUE', 'READY', 'UNACKED', 'CONSUMERS', 'WORKERS'],
    queues.map((q) => [
      q.declared ? q.queue : `${q.queue} (not declared)`, q.ready, q.unacked, q.consumers,
      q.workers.length === 0 ? null : q.workers.map((w) => (w.state === 'active' ? w.name : `${w.name} (${w.state})`)).join(', '),
    ]),
  );
}

/** One line per task state change while waiting on a run, e.g. `  train  running (try 1 on worker-a)`. */
export function describeTaskChange(ti: TaskInstanceDto, width = 0): string {
  const name = ti.taskId.padEnd(width);
  let detail = '';
  switch (ti.state) {
    case 'queued':
      detail = ` (try ${ti.tryNumber}, queue ${ti.queue}${ti.reason ? `: ${ti.reason}` : ''})`;
      break;
    case 'running':
      detail = ` (try ${ti.tryNumber}${ti.worker ? ` on ${ti.worker}` : ''})`;
      break;
    case 'failed':
    case 'up_for_retry':
      detail = ` (try ${ti.tryNumber}${ti.exitCode !== null ? `, exit code ${ti.exitCode}` : ''}${extraReason(ti) ? `, ${extraReason(ti)}` : ''}` +
        `${ti.state === 'up_for_retry' && ti.nextRetryAt ? `, retry at ${formatDate(ti.nextRetryAt)}` : ''})`;
      break;
    case 'success':
    case 'skipped':
      detail = ti.tryNumber > 0 ? ` (try ${ti.tryNumber})` : '';
      break;
    default:
      detail = ti.reason ? ` (${ti.reason})` : '';
  }
  return `  ${name}  ${ti.state}${detail}`;
}

/** The reason of a failure when it says more than the exit code (workers record `exit code N` as the reason too). */
export function extraReason(ti: Pick<TaskInstanceDto, 'reason' | 'exitCode'>): string | null {
  if (!ti.reason || ti.reason === `exit code ${ti.exitCode}`) return null;
  return ti.reason;
}

export function indent(text: string, prefix: string): string {
  return text.split('\n').map((line) => prefix + line).join('\n');
}

/** A value on one table cell: newlines shown as `\n`, cut at `width` characters. */
export function oneLine(value: string, width = 50): string {
  const flat = value.replace(/\r?\n/g, '\\n');
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

export function formatVariablesTable(variables: VariableDto[]): string {
  if (variables.length === 0) return 'No variables. Set one with `swarmflow variables set <key> <value>`.';
  return table(
    ['KEY', 'VALUE', 'SECRET', 'DESCRIPTION', 'UPDATED'],
    variables.map((v) => [v.key, oneLine(v.value), v.secret ? 'yes' : 'no', v.description ? oneLine(v.description, 40) : null, formatDate(v.updatedAt)]),
  );
}

import { createHash } from 'node:crypto';
import { DagCycleError, DagValidationError, InvalidDurationError } from '../errors';
import { checkParamValue, PARAM_TYPES } from '../params/params';
import { validateSchedule } from '../schedule/schedule';
import {
  DAG_INPUT_KEYS, PARAM_SPEC_KEYS, TASK_DEFAULT_KEYS, TASK_INPUT_KEYS,
  type DagInput, type TaskDefaults, type TaskInput,
} from './dag-input';
import { TRIGGER_RULES, type ParamSpec, type SerializedDag, type TaskSpec } from './dag.types';
import { parseDuration } from './duration';
import { findCycle } from './graph';

/** Ids of DAGs and tasks, queue and pool names. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
export const MAX_ID_LENGTH = 250;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Built-in task defaults, applied under the DAG's `defaults`. */
export const BUILTIN_TASK_DEFAULTS = {
  retries: 0,
  retryDelayMs: 30_000,
  retryBackoff: 'fixed',
  maxRetryDelayMs: 3_600_000,
  timeoutMs: null,
  queue: 'default',
  priority: 0,
  pool: 'default_pool',
  poolSlots: 1,
  triggerRule: 'all_success',
  skipExitCode: 99,
  env: {},
  cwd: null,
} as const satisfies Omit<TaskSpec, 'id' | 'kind' | 'command' | 'upstream'>;

type Settings = Omit<TaskSpec, 'id' | 'kind' | 'command' | 'upstream'>;

interface Ctx {
  file: string;
  dagId: string | null;
}

function fail(ctx: Ctx, taskId: string | null, field: string | null, problem: string, fix: string): never {
  throw new DagValidationError({ file: ctx.file, dagId: ctx.dagId, taskId, field }, problem, fix);
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return value.toString();
  return JSON.stringify(value) ?? String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `max` candidates, nearest to `name` first (ties keep their order). */
export function nearestNames(name: string, candidates: Iterable<string>, max = 5): string[] {
  return [...candidates]
    .map((c, i) => ({ c, i, d: distance(name.toLowerCase(), c.toLowerCase()) }))
    .sort((x, y) => x.d - y.d || x.i - y.i)
    .slice(0, max)
    .map((x) => x.c);
}

/** The candidate `name` is most likely a typo of, or null when none is close. */
export function suggestName(name: string, candidates: Iterable<string>): string | null {
  const near = nearestNames(name, candidates, 1)[0];
  if (near === undefined) return null;
  const [a, b] = [name.toLowerCase(), near.toLowerCase()];
  const d = distance(a, b);
  let prefix = 0;
  while (prefix < a.length && a[prefix] === b[prefix]) prefix++;
  // A few letters off, or the same start with a different ending (`retry` for `retries`).
  return d <= Math.max(2, Math.floor(a.length / 3)) || (prefix >= 4 && d <= Math.max(a.length, b.length) / 2) ? near : null;
}

function checkUnknownKeys(ctx: Ctx, taskId: string | null, where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key) || obj[key] === undefined) continue;
    const near = suggestName(key, allowed);
    const hint = near ? `did you mean "${near}"? ` : '';
    fail(ctx, taskId, key, `unknown ${where} key "${key}"`, `${hint}use only ${allowed.join(', ')}`);
  }
}

function checkId(ctx: Ctx, taskId: string | null, field: string, what: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    fail(ctx, taskId, field, `${what} must be a non-empty string (got ${show(value)})`, `give it an id like "my_${what.split(' ')[0].toLowerCase()}"`);
  }
  if (!ID_PATTERN.test(value)) {
    fail(ctx, taskId, field, `${what} "${value}" may only contain letters, digits, "_", "." and "-"`, `rename it, e.g. "${value.replace(/[^A-Za-z0-9_.-]+/g, '_')}"`);
  }
  if (value.length > MAX_ID_LENGTH) {
    fail(ctx, taskId, field, `${what} is ${value.length} characters long, more than ${MAX_ID_LENGTH}`, `use a shorter id`);
  }
  return value;
}

function checkInteger(ctx: Ctx, taskId: string | null, field: string, value: unknown, min: number, fix: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const what = min === 0 ? 'a whole number >= 0' : min === 1 ? 'a whole number >= 1' : 'a whole number';
    fail(ctx, taskId, field, `${field} must be ${what} (got ${show(value)})`, fix);
  }
  return value;
}

function duration(ctx: Ctx, taskId: string | null, field: string, value: unknown): number {
  try {
    return parseDuration(value as string | number, field);
  } catch (err) {
    if (err instanceof InvalidDurationError) fail(ctx, taskId, field, err.message.slice(0, err.message.indexOf('. Fix: ')), err.fix);
    throw err;
  }
}

/** Validates the task settings present in `input` (a task or the DAG's `defaults`), normalized. */
function checkSettings(ctx: Ctx, taskId: string | null, prefix: string, input: TaskDefaults): Partial<Settings> {
  const out: Partial<Settings> = {};
  const f = (key: string) => prefix + key;
  if (input.retries !== undefined) out.retries = checkInteger(ctx, taskId, f('retries'), input.retries, 0, 'set retries to 0 or more (the number of extra tries)');
  if (input.retryDelay !== undefined) out.retryDelayMs = duration(ctx, taskId, f('retryDelay'), input.retryDelay);
  if (input.maxRetryDelay !== undefined) out.maxRetryDelayMs = duration(ctx, taskId, f('maxRetryDelay'), input.maxRetryDelay);
  if (input.retryBackoff !== undefined) {
    if (input.retryBackoff !== 'fixed' && input.retryBackoff !== 'exponential') {
      fail(ctx, taskId, f('retryBackoff'), `unknown retry backoff ${show(input.retryBackoff)}`, `use "fixed" or "exponential"`);
    }
    out.retryBackoff = input.retryBackoff;
  }
  if (input.timeout !== undefined) {
    out.timeoutMs = input.timeout === null ? null : duration(ctx, taskId, f('timeout'), input.timeout);
    if (out.timeoutMs === 0) fail(ctx, taskId, f('timeout'), `timeout must be more than 0`, `use e.g. '2h', or null for no timeout`);
  }
  for (const key of ['queue', 'pool'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !ID_PATTERN.test(value) || value.length > MAX_ID_LENGTH) {
      fail(ctx, taskId, f(key), `${key} name ${show(value)} may only contain letters, digits, "_", "." and "-"`, `use a name like "${key === 'queue' ? 'gpu' : 'default_pool'}"`);
    }
    out[key] = value;
  }
  if (input.priority !== undefined) out.priority = checkInteger(ctx, taskId, f('priority'), input.priority, -Infinity, 'use a whole number, higher runs first');
  if (input.poolSlots !== undefined) out.poolSlots = checkInteger(ctx, taskId, f('poolSlots'), input.poolSlots, 1, 'use 1 or more');
  if (input.triggerRule !== undefined) {
    if (!TRIGGER_RULES.includes(input.triggerRule)) {
      fail(ctx, taskId, f('triggerRule'), `unknown trigger rule ${show(input.triggerRule)}`, `use one of ${nearestNames(String(input.triggerRule), TRIGGER_RULES, TRIGGER_RULES.length).join(', ')}`);
    }
    out.triggerRule = input.triggerRule;
  }
  if (input.skipExitCode !== undefined) {
    const code = input.skipExitCode;
    if (code !== null && (typeof code !== 'number' || !Number.isInteger(code) || code < 1 || code > 255)) {
      fail(ctx, taskId, f('skipExitCode'), `skipExitCode must be a whole number from 1 to 255, or null (got ${show(code)})`, 'use e.g. 99, or null to never skip');
    }
    out.skipExitCode = code;
  }
  if (input.env !== undefined) {
    if (!isPlainObject(input.env)) fail(ctx, taskId, f('env'), `env must be an object of strings (got ${show(input.env)})`, `use e.g. { "LOG_LEVEL": "info" }`);
    for (const [name, value] of Object.entries(input.env)) {
      if (typeof value !== 'string') fail(ctx, taskId, f('env'), `env.${name} must be a string (got ${show(value)})`, `quote it: "${name}": "${String(value)}"`);
    }
    out.env = { ...input.env };
  }
  if (input.cwd !== undefined) {
    if (input.cwd !== null && (typeof input.cwd !== 'string' || input.cwd === '')) {
      fail(ctx, taskId, f('cwd'), `cwd must be a non-empty path or null (got ${show(input.cwd)})`, 'use an absolute path, or null for the worker\'s own directory');
    }
    out.cwd = input.cwd;
  }
  return out;
}

function checkCommand(ctx: Ctx, taskId: string, value: unknown): string | string[] {
  const fix = `give a shell command like "python train.py", or an argv array like ["python", "train.py"]`;
  if (typeof value === 'string') {
    if (value.trim() === '') fail(ctx, taskId, 'command', 'command is empty', fix);
    return value;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) fail(ctx, taskId, 'command', 'command is an empty array', fix);
    value.forEach((part, i) => {
      if (typeof part !== 'string') fail(ctx, taskId, 'command', `command[${i}] must be a string (got ${show(part)})`, `quote it: "${String(part)}"`);
    });
    if (value[0].trim() === '') fail(ctx, taskId, 'command', 'command[0] (the program) is empty', fix);
    return [...value];
  }
  return fail(ctx, taskId, 'command', `command must be a string or an array of strings (got ${show(value)})`, fix);
}

function checkParams(ctx: Ctx, params: unknown): Record<string, ParamSpec> {
  if (params === undefined) return {};
  if (!isPlainObject(params)) fail(ctx, null, 'params', `params must be an object of param specs (got ${show(params)})`, `use e.g. { epochs: { type: 'integer', default: 10 } }`);
  const out: Record<string, ParamSpec> = {};
  for (const [name, spec] of Object.entries(params)) {
    const field = `params.${name}`;
    if (!PARAM_NAME.test(name)) fail(ctx, null, field, `param name "${name}" is not an identifier`, `use letters, digits and "_", not starting with a digit, so that templates can use {{ params.${name.replace(/\W/g, '_')} }}`);
    if (!isPlainObject(spec)) fail(ctx, null, field, `${field} must be a param spec object (got ${show(spec)})`, `use e.g. { type: 'string', default: 'eu' }`);
    checkUnknownKeys(ctx, null, `param "${name}"`, spec, PARAM_SPEC_KEYS);
    if (!PARAM_TYPES.includes(spec.type as ParamSpec['type'])) {
      fail(ctx, null, `${field}.type`, `${field}.type must be one of ${PARAM_TYPES.join(', ')} (got ${show(spec.type)})`, `set type to one of ${PARAM_TYPES.join(', ')}`);
    }
    if (spec.enum !== undefined && (!Array.isArray(spec.enum) || spec.enum.length === 0)) {
      fail(ctx, null, `${field}.enum`, `${field}.enum must be a non-empty array (got ${show(spec.enum)})`, 'list the allowed values, e.g. ["eu", "us"]');
    }
    for (const key of ['minimum', 'maximum', 'minLength', 'maxLength'] as const) {
      if (spec[key] !== undefined && typeof spec[key] !== 'number') fail(ctx, null, `${field}.${key}`, `${field}.${key} must be a number (got ${show(spec[key])})`, `set ${key} to a number`);
    }
    if (spec.pattern !== undefined) {
      try {
        new RegExp(spec.pattern as string, 'u');
      } catch (err) {
        fail(ctx, null, `${field}.pattern`, `${field}.pattern is not a valid regular expression: ${(err as Error).message}`, 'fix the regular expression');
      }
    }
    const typed = spec as unknown as ParamSpec;
    if (typed.default !== undefined) {
      const error = checkParamValue(name, typed, typed.default);
      if (error) fail(ctx, null, `${field}.default`, `${field}.default ${error.problem}`, `make the default match the param's type and limits, or change the type`);
    }
    out[name] = { ...typed };
  }
  return out;
}

function checkStartDate(ctx: Ctx, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    fail(ctx, null, 'startDate', `startDate must be an ISO date or a Date (got ${show(value)})`, `use e.g. '2024-01-01' or '2024-01-01T00:00:00Z'`);
  }
  return date.toISOString();
}

/**
 * Validates a DAG definition and resolves every default, returning what a dag_version
 * stores. Built-in defaults: retries 0, retryDelay 30s, retryBackoff 'fixed',
 * maxRetryDelay 1h, timeout null, queue 'default', priority 0, pool 'default_pool',
 * poolSlots 1, triggerRule 'all_success', skipExitCode 99, env {}, cwd null; DAG: catchup
 * false, maxActiveRuns 16, maxActiveTasks 16. `defaults` apply under each task's own values
 * (env is merged).
 *
 * @param file source file, relative to the DAGs folder; appears in every error.
 * @throws DagValidationError (or its subclass DagCycleError) for the first problem found,
 *   naming file, DAG, task and field, with a fix.
 */
export function validateDag(input: DagInput, file: string): SerializedDag {
  const ctx: Ctx = { file, dagId: null };
  if (!isPlainObject(input)) fail(ctx, null, null, `a DAG definition must be an object (got ${show(input)})`, 'pass { id, tasks, ... } to dag()');
  const raw = input as unknown as Record<string, unknown>;
  checkId(ctx, null, 'id', 'DAG id', raw.id);
  ctx.dagId = input.id;
  checkUnknownKeys(ctx, null, 'DAG', raw, DAG_INPUT_KEYS);

  if (input.description !== undefined && input.description !== null && typeof input.description !== 'string') {
    fail(ctx, null, 'description', `description must be a string (got ${show(input.description)})`, 'use a string');
  }
  const schedule = input.schedule ?? null;
  const scheduleError = validateSchedule(schedule);
  if (scheduleError) fail(ctx, null, 'schedule', scheduleError, `use a cron like "0 3 * * *", a preset (@hourly, @daily, @weekly, @monthly, @yearly, @once), or null for manual runs only`);
  if (input.catchup !== undefined && typeof input.catchup !== 'boolean') {
    fail(ctx, null, 'catchup', `catchup must be true or false (got ${show(input.catchup)})`, 'use true or false');
  }
  const startDate = checkStartDate(ctx, input.startDate);
  const maxActiveRuns = input.maxActiveRuns === undefined ? 16 : checkInteger(ctx, null, 'maxActiveRuns', input.maxActiveRuns, 1, 'use 1 or more');
  const maxActiveTasks = input.maxActiveTasks === undefined ? 16 : checkInteger(ctx, null, 'maxActiveTasks', input.maxActiveTasks, 1, 'use 1 or more');
  if (input.tags !== undefined && (!Array.isArray(input.tags) || input.tags.some((t) => typeof t !== 'string'))) {
    fail(ctx, null, 'tags', `tags must be an array of strings (got ${show(input.tags)})`, `use e.g. ["ml", "nightly"]`);
  }
  const params = checkParams(ctx, input.params);

  let defaults: Partial<Settings> = {};
  if (input.defaults !== undefined) {
    if (!isPlainObject(input.defaults)) fail(ctx, null, 'defaults', `defaults must be an object (got ${show(input.defaults)})`, 'use e.g. { retries: 2 }');
    checkUnknownKeys(ctx, null, 'defaults', input.defaults, TASK_DEFAULT_KEYS);
    defaults = checkSettings(ctx, null, 'defaults.', input.defaults);
  }

  if (!Array.isArray(input.tasks) || input.tasks.length === 0) {
    fail(ctx, null, 'tasks', `the DAG has no tasks`, 'create tasks inside the dag() callback with shell() or task(), or list them in tasks');
  }
  const tasks: TaskSpec[] = [];
  const ids = new Set<string>();
  input.tasks.forEach((task: TaskInput, index) => {
    if (!isPlainObject(task)) fail(ctx, null, `tasks[${index}]`, `tasks[${index}] must be a task object (got ${show(task)})`, 'use { id, command }');
    const id = checkId(ctx, null, `tasks[${index}].id`, 'task id', task.id);
    if (ids.has(id)) fail(ctx, id, 'id', `task id "${id}" is used twice`, 'give each task a unique id');
    ids.add(id);
    checkUnknownKeys(ctx, id, 'task', task as unknown as Record<string, unknown>, TASK_INPUT_KEYS);
    if (task.kind !== undefined && task.kind !== 'process') fail(ctx, id, 'kind', `unknown task kind ${show(task.kind)}`, `use "process" (or leave it out)`);
    const command = checkCommand(ctx, id, task.command);
    const upstream = task.upstream ?? [];
    if (!Array.isArray(upstream) || upstream.some((u) => typeof u !== 'string')) {
      fail(ctx, id, 'upstream', `upstream must be an array of task ids (got ${show(upstream)})`, `use e.g. ["extract"]`);
    }
    const own = checkSettings(ctx, id, '', task);
    const env = { ...BUILTIN_TASK_DEFAULTS.env, ...defaults.env, ...own.env };
    tasks.push({ id, kind: 'process', command, upstream: [...new Set(upstream)], ...BUILTIN_TASK_DEFAULTS, ...defaults, ...own, env });
  });

  for (const task of tasks) {
    for (const up of task.upstream) {
      if (up === task.id) throw new DagCycleError({ file, dagId: ctx.dagId, taskId: task.id, field: 'upstream' }, [task.id, task.id]);
      if (!ids.has(up)) {
        const near = nearestNames(up, [...ids].filter((other) => other !== task.id));
        fail(ctx, task.id, 'upstream', `upstream "${up}" does not exist`, near.length ? `use one of ${near.join(', ')}` : 'remove it');
      }
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) throw new DagCycleError({ file, dagId: ctx.dagId, taskId: cycle[0], field: 'upstream' }, cycle);

  return {
    id: input.id,
    description: input.description ?? null,
    schedule,
    catchup: input.catchup ?? false,
    startDate,
    maxActiveRuns,
    maxActiveTasks,
    params,
    tags: [...(input.tags ?? [])],
    tasks,
    fileloc: file,
  };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = canonical(value[key]);
    return out;
  }
  return value;
}

/** Canonical JSON of a value: object keys sorted at every level, undefined values dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

/** Content hash of a serialized DAG (sha256 hex of its canonical JSON): the dag_version key. */
export function dagHash(dag: SerializedDag): string {
  return createHash('sha256').update(canonicalJson(dag)).digest('hex');
}

import { createHash } from 'node:crypto';
import { DagCycleError, DagValidationError, InvalidDurationError, InvalidMemoryError } from '../errors';
import { checkParamValue, lettersOff, misspeltParam, PARAM_TYPES } from '../params/params';
import { validateSchedule } from '../schedule/schedule';
import { outputTasksRead, TEMPLATE_VARIABLES, templateProblem } from '../templating/templating';
import {
  DAG_INPUT_KEYS, DOCKER_INPUT_KEYS, PARAM_SPEC_KEYS, RESOURCES_INPUT_KEYS, TASK_DEFAULT_KEYS, TASK_INPUT_KEYS, VOLUME_INPUT_KEYS,
  type DagInput, type TaskDefaults, type TaskInput,
} from './dag-input';
import { TRIGGER_RULES, type DockerSpec, type RetryBackoff, type TriggerRule, type ParamSpec, type PullPolicy, type SerializedDag, type TaskSpec, type VolumeSpec } from './dag.types';
import { parseDuration } from './duration';
import { findCycle } from './graph';
import { imageReferenceProblem } from './image-reference';
import { parseMemory } from './memory';

/** Ids of DAGs and tasks, queue and pool names. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
export const MAX_ID_LENGTH = 250;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keys of variables (task secrets, registry credentials): the variable store's own rule. */
export const VARIABLE_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,250}$/;
const PULL_POLICIES: readonly PullPolicy[] = ['if-not-present', 'always', 'never'];
const GPU_MODES: readonly DockerSpec['gpuMode'][] = ['device-request', 'runtime'];
const RETRY_BACKOFFS: readonly RetryBackoff[] = ['fixed', 'exponential'];
const TASK_KINDS: readonly TaskSpec['kind'][] = ['process', 'docker'];
/** Docker network and OCI runtime names (a network may also be `container:<name>`: another container's). */
const DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A Docker named volume (Docker's own rule: two characters at least). */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]+$/;
/** Docker refuses a memory limit under 6 MiB. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const TEMPLATE = /\{\{.*?\}\}/g;

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
} as const satisfies Omit<TaskSpec, 'id' | 'kind' | 'command' | 'upstream' | 'docker' | 'secrets'>;

/** Built-in container settings of a docker task; besides these, volumes [] and labels {}. */
export const BUILTIN_DOCKER_DEFAULTS = {
  pullPolicy: 'if-not-present',
  entrypoint: null,
  user: null,
  network: 'none',
  registryCredentials: null,
  cpus: null,
  memoryBytes: null,
  gpus: 0,
  gpuMode: 'device-request',
  runtime: null,
  autoRemove: true,
  secretsPath: '/secrets/variables',
} as const satisfies Omit<DockerSpec, 'image' | 'volumes' | 'labels'>;

type Settings = Omit<TaskSpec, 'id' | 'kind' | 'command' | 'upstream' | 'docker' | 'secrets'>;

/**
 * How a DAG's source spells a field, for errors: gets the path as the TypeScript SDK names
 * it (`startDate`, `defaults.retryDelay`, `command[2]`, `docker.volumes[0].readOnly`,
 * `params.n.minLength`, `env.NAME`) and the task it belongs to (null: a DAG field).
 */
export type FieldSpelling = (field: string, taskId: string | null) => string;

/** Options of {@link validateDag}. */
export interface ValidateDagOptions {
  /**
   * Spells field paths in errors, both in `field` and in the message. Default: as they are,
   * the TypeScript SDK's camelCase. The YAML loader passes its snake_case keys.
   */
  spelling?: FieldSpelling;
}

const SDK_SPELLING: FieldSpelling = (field) => field;

interface Ctx {
  file: string;
  dagId: string | null;
  spell: FieldSpelling;
}

function fail(ctx: Ctx, taskId: string | null, field: string | null, problem: string, fix: string): never {
  throw new DagValidationError({ file: ctx.file, dagId: ctx.dagId, taskId, field: field === null ? null : ctx.spell(field, taskId) }, problem, fix);
}

/** `field` as the DAG's source spells it, to name it in a message. */
function nameOf(ctx: Ctx, taskId: string | null, field: string): string {
  return ctx.spell(field, taskId);
}

/** The last key of `field` as the source spells it: `readOnly` or `read_only` of `docker.volumes[0].readOnly`. */
function keyOf(ctx: Ctx, taskId: string | null, field: string): string {
  return nameOf(ctx, taskId, field).split('.').pop()!;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return value.toString();
  return JSON.stringify(value) ?? String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Up to `max` candidates, nearest to `name` first (ties keep their order). */
export function nearestNames(name: string, candidates: Iterable<string>, max = 5): string[] {
  return [...candidates]
    .map((c, i) => ({ c, i, d: lettersOff(name, c) }))
    .sort((x, y) => x.d - y.d || x.i - y.i)
    .slice(0, max)
    .map((x) => x.c);
}

/** The candidate `name` is most likely a typo of, or null when none is close. */
export function suggestName(name: string, candidates: Iterable<string>): string | null {
  const all = [...candidates];
  const near = nearestNames(name, all, 1)[0];
  if (near === undefined) return null;
  const [a, b] = [name.toLowerCase(), near.toLowerCase()];
  const d = lettersOff(a, b);
  let prefix = 0;
  while (prefix < a.length && a[prefix] === b[prefix]) prefix++;
  // A few letters off, or the same start with a different ending (`retry` for `retries`).
  if (d <= Math.max(2, Math.floor(a.length / 3)) || (prefix >= 4 && d <= Math.max(a.length, b.length) / 2)) return near;
  // Or cut short, when only one candidate starts that way (`int` for `integer`).
  const longer = a.length >= 3 ? all.filter((c) => c.toLowerCase().startsWith(a)) : [];
  return longer.length === 1 ? longer[0] : null;
}

/** Airflow's trigger rules that Swarmflow has under another name. */
const AIRFLOW_TRIGGER_RULES: Readonly<Record<string, TriggerRule>> = {
  none_failed_or_skipped: 'none_failed_min_one_success', // Airflow's name before 2.2
  dummy: 'always', //                                        Airflow's name before 2.2
};

function checkUnknownKeys(ctx: Ctx, taskId: string | null, where: string, obj: Record<string, unknown>, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key) || obj[key] === undefined) continue;
    const near = suggestName(key, allowed);
    const hint = near ? `did you mean "${near}"? ` : '';
    fail(ctx, taskId, prefix + key, `unknown ${where} key "${key}"`, `${hint}use only ${allowed.join(', ')}`);
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
    fail(ctx, taskId, field, `${nameOf(ctx, taskId, field)} must be ${what} (got ${show(value)})`, fix);
  }
  return value;
}

function duration(ctx: Ctx, taskId: string | null, field: string, value: unknown): number {
  try {
    return parseDuration(value as string | number, nameOf(ctx, taskId, field));
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
  if (input.retryBackoff !== undefined) out.retryBackoff = checkChoice(ctx, taskId, f('retryBackoff'), 'a retry backoff', input.retryBackoff, RETRY_BACKOFFS);
  if (input.timeout !== undefined) {
    out.timeoutMs = input.timeout === null ? null : duration(ctx, taskId, f('timeout'), input.timeout);
    if (out.timeoutMs === 0) fail(ctx, taskId, f('timeout'), `${nameOf(ctx, taskId, f('timeout'))} must be more than 0`, `use e.g. '2h', or null for no timeout`);
  }
  for (const key of ['queue', 'pool'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !ID_PATTERN.test(value) || value.length > MAX_ID_LENGTH) {
      fail(ctx, taskId, f(key), `${nameOf(ctx, taskId, f(key))} name ${show(value)} may only contain letters, digits, "_", "." and "-"`, `use a name like "${key === 'queue' ? 'gpu' : 'default_pool'}"`);
    }
    out[key] = value;
  }
  if (input.priority !== undefined) out.priority = checkInteger(ctx, taskId, f('priority'), input.priority, -Infinity, 'use a whole number, higher runs first');
  if (input.poolSlots !== undefined) out.poolSlots = checkInteger(ctx, taskId, f('poolSlots'), input.poolSlots, 1, 'use 1 or more');
  if (input.triggerRule !== undefined) {
    out.triggerRule = checkChoice(ctx, taskId, f('triggerRule'), 'a trigger rule', input.triggerRule, TRIGGER_RULES, { near: AIRFLOW_TRIGGER_RULES });
  }
  if (input.skipExitCode !== undefined) {
    const code = input.skipExitCode;
    if (code !== null && (typeof code !== 'number' || !Number.isInteger(code) || code < 1 || code > 255)) {
      fail(ctx, taskId, f('skipExitCode'), `${nameOf(ctx, taskId, f('skipExitCode'))} must be a whole number from 1 to 255, or null (got ${show(code)})`, 'use e.g. 99, or null to never skip');
    }
    out.skipExitCode = code;
  }
  if (input.env !== undefined) {
    if (!isPlainObject(input.env)) fail(ctx, taskId, f('env'), `${nameOf(ctx, taskId, f('env'))} must be an object of strings (got ${show(input.env)})`, `use e.g. { "LOG_LEVEL": "info" }`);
    for (const [name, value] of Object.entries(input.env)) {
      if (typeof value !== 'string') fail(ctx, taskId, f('env'), `${nameOf(ctx, taskId, f(`env.${name}`))} must be a string (got ${show(value)})`, `quote it: "${name}": "${String(value)}"`);
    }
    out.env = { ...input.env };
  }
  if (input.cwd !== undefined) {
    if (input.cwd !== null && (typeof input.cwd !== 'string' || input.cwd === '')) {
      fail(ctx, taskId, f('cwd'), `${nameOf(ctx, taskId, f('cwd'))} must be a non-empty path or null (got ${show(input.cwd)})`, 'use an absolute path, or null for the worker\'s own directory');
    }
    out.cwd = input.cwd;
  }
  if (input.cache !== undefined) {
    if (typeof input.cache !== 'boolean') fail(ctx, taskId, f('cache'), `${nameOf(ctx, taskId, f('cache'))} must be true or false (got ${show(input.cache)})`, 'use true to skip the task when an identical try already succeeded');
    out.cache = input.cache || undefined;
  }
  if (input.cacheTtl !== undefined) {
    out.cacheTtlMs = input.cacheTtl === null ? undefined : duration(ctx, taskId, f('cacheTtl'), input.cacheTtl);
    if (out.cacheTtlMs === 0) fail(ctx, taskId, f('cacheTtl'), `${nameOf(ctx, taskId, f('cacheTtl'))} must be more than 0`, `use e.g. '7d', or null for no limit`);
  }
  return out;
}

function checkCommand(ctx: Ctx, taskId: string, value: unknown): string | string[] {
  const fix = `give a shell command like "python train.py", or an argv array like ["python", "train.py"]`;
  const command = nameOf(ctx, taskId, 'command');
  if (typeof value === 'string') {
    if (value.trim() === '') fail(ctx, taskId, 'command', `${command} is empty`, fix);
    return value;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) fail(ctx, taskId, 'command', `${command} is an empty array`, fix);
    value.forEach((part, i) => {
      if (typeof part !== 'string') fail(ctx, taskId, 'command', `${nameOf(ctx, taskId, `command[${i}]`)} must be a string (got ${show(part)})`, `quote it: "${String(part)}"`);
    });
    if (value[0].trim() === '') fail(ctx, taskId, 'command', `${nameOf(ctx, taskId, 'command[0]')} (the program) is empty`, fix);
    return [...value];
  }
  return fail(ctx, taskId, 'command', `${command} must be a string or an array of strings (got ${show(value)})`, fix);
}

function checkKind(ctx: Ctx, taskId: string, task: TaskInput): TaskSpec['kind'] {
  if (task.kind !== undefined) {
    const near = { container: 'docker', shell: 'process' } as const; // the words of the SDK's builders and of Docker
    checkChoice(ctx, taskId, 'kind', 'a task kind', task.kind, TASK_KINDS, { near, note: `, or leave ${nameOf(ctx, taskId, 'kind')} out: a task with docker settings is a docker task` });
  }
  const kind = task.kind ?? (task.docker !== undefined ? 'docker' : 'process');
  if (kind === 'process' && task.docker !== undefined) {
    fail(ctx, taskId, 'kind', 'kind is "process" but the task has docker settings', 'remove kind to run it in a container, or remove docker to run it as a process');
  }
  if (kind === 'docker' && task.docker === undefined) {
    fail(ctx, taskId, 'docker', 'a docker task needs docker settings with an image', 'add docker: { image: "python:3.12-slim" }');
  }
  return kind;
}

/** A container's command: unlike a process's, it may be left out or [] (the image's default command). */
function checkContainerCommand(ctx: Ctx, taskId: string, value: unknown): string | string[] {
  const fix = `give the container's command as a string (run by /bin/sh -c) or an argv array, or leave it out for the image's default command`;
  if (value === undefined) return [];
  const command = nameOf(ctx, taskId, 'command');
  if (typeof value === 'string') {
    if (value.trim() === '') fail(ctx, taskId, 'command', `${command} is empty`, fix);
    return value;
  }
  if (Array.isArray(value)) {
    value.forEach((part, i) => {
      if (typeof part !== 'string') fail(ctx, taskId, 'command', `${nameOf(ctx, taskId, `command[${i}]`)} must be a string (got ${show(part)})`, `quote it: "${String(part)}"`);
    });
    return [...value];
  }
  return fail(ctx, taskId, 'command', `${command} must be a string or an array of strings (got ${show(value)})`, fix);
}

function checkSecrets(ctx: Ctx, taskId: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(ctx, taskId, 'secrets', `secrets must be an array of variable keys (got ${show(value)})`, 'use e.g. ["db_password", "api_token"]');
  const seen = new Set<string>();
  value.forEach((key, i) => {
    const field = `secrets[${i}]`;
    // Each key becomes a file name under secretsPath, so "." and ".." are refused too.
    if (typeof key !== 'string' || !VARIABLE_KEY_PATTERN.test(key) || /^\.+$/.test(key)) {
      fail(ctx, taskId, field, `${field} ${show(key)} is not a variable key: keys are 1 to 250 letters, digits, "_", "." and "-", not only dots`, 'use the key of a variable, e.g. "db_password"');
    }
    if (seen.has(key)) fail(ctx, taskId, field, `secrets lists "${key}" twice`, 'list each variable once');
    seen.add(key);
  });
  return [...value];
}

function isAbsolutePath(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('/') && !/\0/.test(value);
}

/** `/data/` and `/data` are the same mount point. */
const mountPoint = (path: string) => path.replace(/\/+$/, '') || '/';

function checkVolume(ctx: Ctx, taskId: string, field: string, value: unknown): VolumeSpec {
  let source: unknown, target: unknown, readOnly: unknown;
  const name = (key: string) => nameOf(ctx, taskId, `${field}${key}`);
  const example = `use e.g. "/srv/data:/data:ro" or { source: "/srv/data", target: "/data", ${keyOf(ctx, taskId, `${field}.readOnly`)}: true }`;
  if (typeof value === 'string') {
    const parts = value.split(':');
    if (parts.length < 2 || parts.length > 3 || (parts.length === 3 && parts[2] !== 'ro' && parts[2] !== 'rw')) {
      fail(ctx, taskId, field, `${name('')} ${show(value)} must be "source:target" or "source:target:ro"`, example);
    }
    [source, target, readOnly] = [parts[0], parts[1], parts[2] === 'ro'];
  } else if (isPlainObject(value)) {
    checkUnknownKeys(ctx, taskId, 'volume', value, VOLUME_INPUT_KEYS, `${field}.`);
    ({ source, target, readOnly = false } = value);
    if (typeof readOnly !== 'boolean') fail(ctx, taskId, `${field}.readOnly`, `${name('.readOnly')} must be true or false (got ${show(readOnly)})`, 'use true or false');
  } else {
    return fail(ctx, taskId, field, `${name('')} must be a "source:target[:ro]" string or an object (got ${show(value)})`, example);
  }
  if (!isAbsolutePath(source) && !(typeof source === 'string' && VOLUME_NAME.test(source))) {
    fail(ctx, taskId, `${field}.source`, `${name('.source')} ${show(source)} must be an absolute host path or a volume name`, 'use e.g. "/srv/data" (a host directory) or "datasets" (a named volume)');
  }
  if (!isAbsolutePath(target) || mountPoint(target) === '/') {
    fail(ctx, taskId, `${field}.target`, `${name('.target')} ${show(target)} must be an absolute path in the container, other than "/"`, 'use e.g. "/data"');
  }
  return { source: source as string, target, readOnly: readOnly as boolean };
}

function checkVolumes(ctx: Ctx, taskId: string, value: unknown): VolumeSpec[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(ctx, taskId, 'docker.volumes', `docker.volumes must be an array (got ${show(value)})`, 'use e.g. ["/srv/data:/data:ro"]');
  const targets = new Map<string, number>();
  return value.map((item, i) => {
    const field = `docker.volumes[${i}]`;
    const volume = checkVolume(ctx, taskId, field, item);
    const other = targets.get(mountPoint(volume.target));
    if (other !== undefined) {
      fail(ctx, taskId, `${field}.target`, `${field}.target "${volume.target}" is already the target of docker.volumes[${other}]`, 'give each volume its own target');
    }
    targets.set(mountPoint(volume.target), i);
    return volume;
  });
}

function checkLabels(ctx: Ctx, taskId: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) fail(ctx, taskId, 'docker.labels', `docker.labels must be an object of strings (got ${show(value)})`, 'use e.g. { "team": "ml" }');
  for (const [name, label] of Object.entries(value)) {
    if (name === '') fail(ctx, taskId, 'docker.labels', 'docker.labels has an empty label name', 'give every label a name');
    if (name.startsWith('swarmflow.')) fail(ctx, taskId, 'docker.labels', `docker.labels."${name}" uses the "swarmflow." prefix, which Swarmflow keeps for its own labels`, 'use another prefix, e.g. "com.example.team"');
    if (typeof label !== 'string') fail(ctx, taskId, 'docker.labels', `docker.labels."${name}" must be a string (got ${show(label)})`, `quote it: "${name}": "${String(label)}"`);
  }
  return { ...(value as Record<string, string>) };
}

function checkResources(ctx: Ctx, taskId: string, value: unknown): Pick<DockerSpec, 'cpus' | 'memoryBytes' | 'gpus'> {
  if (value === undefined) return { cpus: null, memoryBytes: null, gpus: 0 };
  if (!isPlainObject(value)) fail(ctx, taskId, 'docker.resources', `docker.resources must be an object (got ${show(value)})`, `use e.g. { cpus: 2, memory: '8g', gpus: 1 }`);
  checkUnknownKeys(ctx, taskId, 'resources', value, RESOURCES_INPUT_KEYS, 'docker.resources.');
  const { cpus = null, memory = null, gpus = 0 } = value;
  if (cpus !== null && (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus <= 0)) {
    fail(ctx, taskId, 'docker.resources.cpus', `docker.resources.cpus must be a number of cores > 0 (got ${show(cpus)})`, 'use e.g. 2 or 0.5, or leave it out for no limit');
  }
  let memoryBytes: number | null = null;
  if (memory !== null) {
    const field = 'docker.resources.memory';
    try {
      memoryBytes = parseMemory(memory as string | number, field);
    } catch (err) {
      if (err instanceof InvalidMemoryError) fail(ctx, taskId, field, `${field} ${err.problem}`, err.fix);
      throw err;
    }
    if (memoryBytes < MIN_MEMORY_BYTES) fail(ctx, taskId, field, `${field} is ${memoryBytes} bytes, less than Docker's minimum of 6m`, `use at least '6m', e.g. '512m'`);
  }
  return {
    cpus: cpus as number | null,
    memoryBytes,
    gpus: checkInteger(ctx, taskId, 'docker.resources.gpus', gpus, 0, 'use the number of GPUs, e.g. 1, or 0 for none'),
  };
}

/**
 * `value` when it is one of `choices`; else fails naming the nearest choice (`near` may
 * name it first, e.g. for an old name) and listing them all. `what` is the kind of value
 * ("a trigger rule"); `note` ends the fix.
 */
function checkChoice<T extends string>(
  ctx: Ctx, taskId: string | null, field: string, what: string, value: unknown, choices: readonly T[],
  { near = {}, note = '' }: { near?: Readonly<Record<string, T>>; note?: string } = {},
): T {
  if (choices.includes(value as T)) return value as T;
  let meant: string | null = null;
  if (typeof value === 'string') {
    // Compare in the choices' own style: `IfNotPresent` -> `ifnotpresent`, `all-success` -> `all_success`.
    const separator = choices.some((c) => c.includes('-')) ? '-' : '_';
    const normalized = value.trim().toLowerCase().replace(/[\s_-]+/g, separator);
    meant = Object.hasOwn(near, normalized) ? near[normalized] : suggestName(normalized, choices);
  }
  const hint = meant ? `did you mean "${meant}"? ` : '';
  return fail(ctx, taskId, field, `${nameOf(ctx, taskId, field)} ${show(value)} is not ${what}`, `${hint}use one of ${choices.join(', ')}${note}`);
}

function checkDockerName(ctx: Ctx, taskId: string, field: string, value: unknown, example: string, allowContainer = false): string {
  const name = allowContainer && typeof value === 'string' && value.startsWith('container:') ? value.slice('container:'.length) : value;
  if (typeof name !== 'string' || !DOCKER_NAME.test(name)) {
    fail(ctx, taskId, field, `${nameOf(ctx, taskId, field)} ${show(value)} is not a valid name`, `use letters, digits, "_", "." and "-", e.g. ${example}`);
  }
  return value as string;
}

function checkDocker(ctx: Ctx, taskId: string, value: unknown): DockerSpec {
  if (!isPlainObject(value)) fail(ctx, taskId, 'docker', `docker must be an object with at least an image (got ${show(value)})`, 'use e.g. docker: { image: "python:3.12-slim" }');
  checkUnknownKeys(ctx, taskId, 'docker', value, DOCKER_INPUT_KEYS, 'docker.');
  const d = BUILTIN_DOCKER_DEFAULTS;

  const image = value.image;
  if (typeof image !== 'string' || image.trim() === '') {
    fail(ctx, taskId, 'docker.image', `docker.image is required, a non-empty image reference (got ${show(image)})`, 'give the image to run, e.g. "python:3.12-slim" or "ghcr.io/org/trainer:1.4"');
  }
  // A templated part (`trainer:{{ params.tag }}`) is checked with a placeholder; it is rendered per run.
  const imageProblem = imageReferenceProblem(image.replace(TEMPLATE, 'x'));
  if (imageProblem) fail(ctx, taskId, 'docker.image', `docker.image "${image}" ${imageProblem.problem}`, imageProblem.fix);

  let entrypoint: string[] | null = d.entrypoint;
  if (value.entrypoint !== undefined && value.entrypoint !== null) {
    const parts = typeof value.entrypoint === 'string' ? [value.entrypoint] : value.entrypoint;
    if (!Array.isArray(parts) || parts.length === 0 || parts.some((p) => typeof p !== 'string') || parts[0].trim() === '') {
      fail(ctx, taskId, 'docker.entrypoint', `docker.entrypoint must be a program or a non-empty argv array of strings (got ${show(value.entrypoint)})`, 'use e.g. "/bin/bash" or ["python", "-u"], or null for the image\'s entrypoint');
    }
    entrypoint = [...(parts as string[])];
  }

  let user: string | null = d.user;
  if (value.user !== undefined && value.user !== null) {
    const raw = typeof value.user === 'number' && Number.isInteger(value.user) && value.user >= 0 ? String(value.user) : value.user;
    if (typeof raw !== 'string' || !/^[^\s:]+(?::[^\s:]+)?$/.test(raw)) {
      fail(ctx, taskId, 'docker.user', `docker.user must be "uid[:gid]" or a user name (got ${show(value.user)})`, 'use e.g. "1000:1000" or "nobody", or null for the image\'s user');
    }
    user = raw;
  }

  let registryCredentials: string | null = d.registryCredentials;
  if (value.registryCredentials !== undefined && value.registryCredentials !== null) {
    const key = value.registryCredentials;
    if (typeof key !== 'string' || !VARIABLE_KEY_PATTERN.test(key) || /^\.+$/.test(key)) {
      fail(ctx, taskId, 'docker.registryCredentials', `${nameOf(ctx, taskId, 'docker.registryCredentials')} must be a variable key (got ${show(key)})`, 'name the variable that holds {"username", "password", "serveraddress"} as JSON, e.g. "ghcr_credentials"');
    }
    registryCredentials = key;
  }

  const gpuMode = value.gpuMode === undefined ? d.gpuMode : checkChoice(ctx, taskId, 'docker.gpuMode', 'a GPU mode', value.gpuMode, GPU_MODES);
  const runtime = value.runtime === undefined || value.runtime === null
    ? (gpuMode === 'runtime' ? 'nvidia' : d.runtime)
    : checkDockerName(ctx, taskId, 'docker.runtime', value.runtime, '"nvidia" or "runsc"');

  if (value.autoRemove !== undefined && typeof value.autoRemove !== 'boolean') {
    fail(ctx, taskId, 'docker.autoRemove', `${nameOf(ctx, taskId, 'docker.autoRemove')} must be true or false (got ${show(value.autoRemove)})`, 'use true (remove the container after each try) or false (keep it to inspect)');
  }
  const secretsPath = value.secretsPath ?? d.secretsPath;
  if (!isAbsolutePath(secretsPath) || mountPoint(secretsPath) === '/' || secretsPath.split('/').includes('..')) {
    fail(ctx, taskId, 'docker.secretsPath', `${nameOf(ctx, taskId, 'docker.secretsPath')} must be an absolute path other than "/", without ".." (got ${show(secretsPath)})`, `use e.g. "${d.secretsPath}"`);
  }

  return {
    image,
    pullPolicy: value.pullPolicy === undefined ? d.pullPolicy : checkChoice(ctx, taskId, 'docker.pullPolicy', 'a pull policy', value.pullPolicy, PULL_POLICIES),
    entrypoint,
    user,
    volumes: checkVolumes(ctx, taskId, value.volumes),
    network: value.network === undefined ? d.network : checkDockerName(ctx, taskId, 'docker.network', value.network, '"none" (no network), "bridge", "host" or "etl_net"', true),
    labels: checkLabels(ctx, taskId, value.labels),
    registryCredentials,
    ...checkResources(ctx, taskId, value.resources),
    gpuMode,
    runtime,
    autoRemove: (value.autoRemove as boolean | undefined) ?? d.autoRemove,
    secretsPath,
  };
}

/** Checks that need the task's other settings: a container's working directory, and secrets against volumes. */
function checkContainerPaths(ctx: Ctx, taskId: string, docker: DockerSpec, cwd: string | null, secrets: string[]): void {
  if (cwd !== null && !isAbsolutePath(cwd)) {
    fail(ctx, taskId, 'cwd', `cwd "${cwd}" must be an absolute path in the container`, 'use e.g. "/work", or null for the image\'s working directory');
  }
  if (secrets.length === 0) return;
  const index = docker.volumes.findIndex((v) => mountPoint(v.target) === mountPoint(docker.secretsPath));
  if (index !== -1) {
    const secretsPath = nameOf(ctx, taskId, 'docker.secretsPath');
    fail(ctx, taskId, `docker.volumes[${index}].target`, `${nameOf(ctx, taskId, `docker.volumes[${index}].target`)} "${docker.volumes[index].target}" is where the secrets are mounted (${secretsPath})`, `mount the volume elsewhere, or set ${secretsPath} to another path`);
  }
}

/** Airflow's template names that a Swarmflow run does not have, and what to write instead. */
const AIRFLOW_TEMPLATE_NAMES: Readonly<Record<string, string>> = {
  execution_date: 'use {{ logical_date }}, {{ ds }} or {{ ts }}',
  dag_run: 'use {{ run_id }}, or {{ conf.<key> }} for the trigger\'s conf',
  var: 'templates read no variables: mount one into a docker task with secrets: [<key>], or pass the value as a param',
  macros: 'templates have no macros: use nunjucks filters, or compute the value in the task',
};

/**
 * What a run would refuse in a templated field (`command`, `env.X`, `docker.image`…),
 * found at parse time: a syntax error, an undeclared `params.<name>`, an unknown name.
 */
function checkTemplate(ctx: Ctx, taskId: string | null, field: string, text: string, params: readonly string[]): void {
  const problem = templateProblem(text, params);
  if (problem === null) return;
  const name = nameOf(ctx, taskId, field);
  if (problem.kind === 'syntax') {
    fail(ctx, taskId, field, `${name} is not a valid template: ${problem.reason}`, 'check the {{ }}, {% %} and {# #} pairs; to keep such text as is (e.g. the shell\'s ${#list}), wrap it in {% raw %}…{% endraw %}');
  }
  if (problem.kind === 'unknown_filter') {
    const near = suggestName(problem.filter, problem.filters);
    fail(ctx, taskId, field, `${name} uses the filter "${problem.filter}", which nunjucks does not have`,
      `${near ? `did you mean "${near}"? ` : ''}the filters are ${problem.filters.join(', ')}`);
  }
  if (problem.kind === 'unknown_param') {
    const p = problem.param;
    const known = params.length ? `its params: ${params.join(', ')}` : 'it declares none';
    if (p === 'get' && !params.includes('get')) {
      // Airflow's `params.get('x')` is a Python dict method; a nunjucks object has none.
      fail(ctx, taskId, field, `${name} calls params.get(…), which templates do not have (${known})`,
        `write {{ params.x }} for a declared param x, or {{ params.x | default('…') }} for one that may be missing`);
    }
    const declare = `declare "${p}" under params, e.g. params: { ${p}: { type: 'string', default: '…' } }`;
    const near = misspeltParam(p, params);
    fail(
      ctx, taskId, field,
      `${name} reads params.${p}, a param the DAG does not declare (${known})`,
      near ? `did you mean params.${near}? if not, ${declare}`
        : `${declare}, or give it a fallback: {{ params.${p} | default('…') }}; a value given only in a trigger's conf is read as {{ conf.${p} }}`,
    );
  }
  const v = problem.variable;
  const near = suggestName(v, TEMPLATE_VARIABLES);
  const hint = Object.hasOwn(AIRFLOW_TEMPLATE_NAMES, v) ? `${AIRFLOW_TEMPLATE_NAMES[v]}; the` : near ? `did you mean "${near}"? the` : 'the';
  fail(ctx, taskId, field, `${name} reads "${v}", which is not a template variable`, `${hint} variables are ${TEMPLATE_VARIABLES.join(', ')}`);
}

/** The templated fields of a task, as a run renders them (see the scheduler's task message). */
function checkTaskTemplates(ctx: Ctx, task: TaskSpec, ownEnv: Record<string, string>, entrypoint: unknown, params: readonly string[]): void {
  const { id, command, docker } = task;
  if (typeof command === 'string') checkTemplate(ctx, id, 'command', command, params);
  else command.forEach((part, i) => checkTemplate(ctx, id, `command[${i}]`, part, params));
  for (const [key, value] of Object.entries(ownEnv)) checkTemplate(ctx, id, `env.${key}`, value, params);
  if (docker === null) return;
  checkTemplate(ctx, id, 'docker.image', docker.image, params);
  docker.entrypoint?.forEach((part, i) => checkTemplate(ctx, id, typeof entrypoint === 'string' ? 'docker.entrypoint' : `docker.entrypoint[${i}]`, part, params));
}

/**
 * `{{ outputs.<task>.<key> }}` reads what an upstream task wrote: only a task the reader
 * depends on (directly or further up) has ended by the time the reader renders.
 */
function checkOutputReads(ctx: Ctx, tasks: TaskSpec[]): void {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const ancestors = new Map<string, Set<string>>();
  const ancestorsOf = (id: string): Set<string> => {
    let set = ancestors.get(id);
    if (set) return set;
    set = new Set<string>();
    for (const up of byId.get(id)!.upstream) {
      set.add(up);
      for (const a of ancestorsOf(up)) set.add(a);
    }
    ancestors.set(id, set);
    return set;
  };
  for (const task of tasks) {
    const fields: [string, string][] = typeof task.command === 'string' ? [['command', task.command]] : task.command.map((c, i) => [`command[${i}]`, c]);
    for (const [k, v] of Object.entries(task.env)) fields.push([`env.${k}`, v]);
    if (task.docker) fields.push(['docker.image', task.docker.image], ...(task.docker.entrypoint ?? []).map((e, i): [string, string] => [`docker.entrypoint[${i}]`, e]));
    for (const [field, text] of fields) {
      for (const read of outputTasksRead(text)) {
        const mine = ancestorsOf(task.id);
        if (mine.has(read)) continue;
        const name = nameOf(ctx, task.id, field);
        const upstream = mine.size ? `its upstream tasks: ${[...mine].join(', ')}` : 'it has no upstream task';
        if (!byId.has(read)) {
          const near = suggestName(read, mine);
          fail(ctx, task.id, field, `${name} reads outputs.${read}, but the DAG has no task "${read}" (${upstream})`, `${near ? `did you mean outputs.${near}? if not, ` : ''}read the outputs of a task upstream of "${task.id}"`);
        }
        fail(ctx, task.id, field, `${name} reads outputs.${read}, but "${read}" is not upstream of "${task.id}" (${upstream}): its outputs may not exist when "${task.id}" runs`,
          `make "${read}" an upstream of "${task.id}" (e.g. ${read}.then(${task.id}), or upstream: [${read}] in YAML)`);
      }
    }
  }
}

function checkParams(ctx: Ctx, params: unknown): Record<string, ParamSpec> {
  if (params === undefined) return {};
  if (!isPlainObject(params)) fail(ctx, null, 'params', `params must be an object of param specs (got ${show(params)})`, `use e.g. { epochs: { type: 'integer', default: 10 } }`);
  const out: Record<string, ParamSpec> = {};
  for (const [name, spec] of Object.entries(params)) {
    const field = `params.${name}`;
    if (!PARAM_NAME.test(name)) fail(ctx, null, field, `param name "${name}" is not an identifier`, `use letters, digits and "_", not starting with a digit, so that templates can use {{ params.${name.replace(/\W/g, '_')} }}`);
    const paramField = (key: string) => nameOf(ctx, null, `${field}${key}`);
    if (!isPlainObject(spec)) fail(ctx, null, field, `${paramField('')} must be a param spec object (got ${show(spec)})`, `use e.g. { type: 'string', default: 'eu' }`);
    checkUnknownKeys(ctx, null, `param "${name}"`, spec, PARAM_SPEC_KEYS, `${field}.`);
    if (spec.type === undefined) fail(ctx, null, `${field}.type`, `${paramField('.type')} is missing`, `set type to one of ${PARAM_TYPES.join(', ')}`);
    checkChoice(ctx, null, `${field}.type`, 'a param type', spec.type, PARAM_TYPES);
    if (spec.enum !== undefined && (!Array.isArray(spec.enum) || spec.enum.length === 0)) {
      fail(ctx, null, `${field}.enum`, `${paramField('.enum')} must be a non-empty array (got ${show(spec.enum)})`, 'list the allowed values, e.g. ["eu", "us"]');
    }
    for (const key of ['minimum', 'maximum', 'minLength', 'maxLength'] as const) {
      if (spec[key] !== undefined && typeof spec[key] !== 'number') fail(ctx, null, `${field}.${key}`, `${paramField(`.${key}`)} must be a number (got ${show(spec[key])})`, `set ${keyOf(ctx, null, `${field}.${key}`)} to a number`);
    }
    if (spec.pattern !== undefined) {
      try {
        new RegExp(spec.pattern as string, 'u');
      } catch (err) {
        fail(ctx, null, `${field}.pattern`, `${paramField('.pattern')} is not a valid regular expression: ${(err as Error).message}`, 'fix the regular expression');
      }
    }
    const typed = spec as unknown as ParamSpec;
    if (typed.default !== undefined) {
      const error = checkParamValue(name, typed, typed.default);
      if (error) fail(ctx, null, `${field}.default`, `${paramField('.default')} ${error.problem}`, `make the default match the param's type and limits, or change the type`);
    }
    out[name] = { ...typed };
  }
  return out;
}

function checkStartDate(ctx: Ctx, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    fail(ctx, null, 'startDate', `${nameOf(ctx, null, 'startDate')} must be an ISO date (got ${show(value)})`, `use e.g. '2024-01-01' or '2024-01-01T00:00:00Z'`);
  }
  return date.toISOString();
}

/**
 * Validates a DAG definition and resolves every default, returning what a dag_version
 * stores. Built-in defaults: retries 0, retryDelay 30s, retryBackoff 'fixed',
 * maxRetryDelay 1h, timeout null, queue 'default', priority 0, pool 'default_pool',
 * poolSlots 1, triggerRule 'all_success', skipExitCode 99, env {}, cwd null; DAG: catchup
 * false, maxActiveRuns 16, maxActiveTasks 16. `defaults` apply under each task's own values
 * (env is merged); they hold no container settings and no secrets.
 *
 * A task with `docker` (or `kind: 'docker'`) is a docker task: its image must be a valid
 * reference, its command may be left out (= [] = the image's), and `cwd` must be absolute.
 * Container defaults: pullPolicy 'if-not-present', entrypoint null, user null, volumes [],
 * network 'none', labels {}, registryCredentials null, no cpu or memory limit, gpus 0,
 * gpuMode 'device-request', runtime null ('nvidia' when gpuMode is 'runtime'), autoRemove
 * true, secretsPath '/secrets/variables'. A process task gets `docker: null`, and naming
 * `secrets` on it is an error (secrets are mounted into containers).
 *
 * @param file source file, relative to the DAGs folder; appears in every error.
 * @param options.spelling how the errors spell fields; default the TypeScript SDK's names.
 * @throws DagValidationError (or its subclass DagCycleError) for the first problem found,
 *   naming file, DAG, task and field, with a fix.
 */
export function validateDag(input: DagInput, file: string, options: ValidateDagOptions = {}): SerializedDag {
  const ctx: Ctx = { file, dagId: null, spell: options.spelling ?? SDK_SPELLING };
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
  if (input.cacheNamespace !== undefined && (typeof input.cacheNamespace !== 'string' || !ID_PATTERN.test(input.cacheNamespace) || input.cacheNamespace.length > MAX_ID_LENGTH)) {
    fail(ctx, null, 'cacheNamespace', `cacheNamespace ${show(input.cacheNamespace)} may only contain letters, digits, "_", "." and "-"`, 'use a name like "ml"; DAGs with the same one share cached tries');
  }

  let defaults: Partial<Settings> = {};
  if (input.defaults !== undefined) {
    if (!isPlainObject(input.defaults)) fail(ctx, null, 'defaults', `defaults must be an object (got ${show(input.defaults)})`, 'use e.g. { retries: 2 }');
    checkUnknownKeys(ctx, null, 'defaults', input.defaults, TASK_DEFAULT_KEYS, 'defaults.');
    defaults = checkSettings(ctx, null, 'defaults.', input.defaults);
  }
  const paramNames = Object.keys(params);
  for (const [key, value] of Object.entries(defaults.env ?? {})) checkTemplate(ctx, null, `defaults.env.${key}`, value, paramNames);

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
    const kind = checkKind(ctx, id, task);
    const command = kind === 'docker' ? checkContainerCommand(ctx, id, task.command) : checkCommand(ctx, id, task.command);
    const upstream = task.upstream ?? [];
    if (!Array.isArray(upstream) || upstream.some((u) => typeof u !== 'string')) {
      fail(ctx, id, 'upstream', `upstream must be an array of task ids (got ${show(upstream)})`, `use e.g. ["extract"]`);
    }
    const own = checkSettings(ctx, id, '', task);
    const env = { ...BUILTIN_TASK_DEFAULTS.env, ...defaults.env, ...own.env };
    const settings: Settings = { ...BUILTIN_TASK_DEFAULTS, ...defaults, ...own, env };
    // Absent unless set, so that DAGs without caching keep their hash.
    if (!settings.cache) delete settings.cache;
    if (!settings.cache || settings.cacheTtlMs === undefined) delete settings.cacheTtlMs;
    const secrets = checkSecrets(ctx, id, task.secrets);
    let docker: DockerSpec | null = null;
    if (kind === 'docker') {
      docker = checkDocker(ctx, id, task.docker);
      checkContainerPaths(ctx, id, docker, settings.cwd, secrets);
    } else if (secrets.length > 0) {
      fail(ctx, id, 'secrets', 'secrets are mounted into containers', 'make it a docker task (docker: { image: … })');
    }
    const spec: TaskSpec = { id, kind, command, docker, secrets, upstream: [...new Set(upstream)], ...settings };
    checkTaskTemplates(ctx, spec, own.env ?? {}, task.docker?.entrypoint, paramNames);
    tasks.push(spec);
  });

  for (const task of tasks) {
    for (const up of task.upstream) {
      if (up === task.id) throw new DagCycleError({ file, dagId: ctx.dagId, taskId: task.id, field: nameOf(ctx, task.id, 'upstream') }, [task.id, task.id]);
      if (!ids.has(up)) {
        const near = nearestNames(up, [...ids].filter((other) => other !== task.id));
        fail(ctx, task.id, 'upstream', `upstream "${up}" does not exist`, near.length ? `use one of ${near.join(', ')}` : 'remove it');
      }
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) throw new DagCycleError({ file, dagId: ctx.dagId, taskId: cycle[0], field: nameOf(ctx, cycle[0], 'upstream') }, cycle);
  checkOutputReads(ctx, tasks);

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
    ...(input.cacheNamespace !== undefined ? { cacheNamespace: input.cacheNamespace } : {}),
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

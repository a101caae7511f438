import {
  DOCKER_INPUT_KEYS, suggestName, TASK_DEFAULT_KEYS,
  type DagInput, type DockerInput, type TaskDefaults, type TaskInput,
} from '@swarmflow/core';
import { SdkUsageError } from './errors';

/** Brand of a {@link Dag}: a registered symbol, the same in every copy of the SDK. */
export const DAG_BRAND = Symbol.for('swarmflow.dag');

/** A DAG defined with {@link dag}; the DAG processor reads it through `toInput()`. */
export interface Dag {
  readonly id: string;
  /** Checked by {@link isDag}: `instanceof` fails across two copies of the SDK. */
  readonly [DAG_BRAND]: true;
  /** The definition as plain data (a fresh copy), to pass to `validateDag`. */
  toInput(): DagInput;
}

/** Something a task can be wired to: a task, a group, or a list of them. */
export type Wirable = TaskRef | TaskGroup | readonly (TaskRef | TaskGroup)[];

/** A task created inside a `dag()` callback, to wire with `.then()` / `.after()`. */
export interface TaskRef {
  readonly id: string;
  readonly dagId: string;
  /** Makes `next` run after this task; returns `next`, so `a.then(b).then(c)` chains. */
  then<T extends Wirable>(next: T): T;
  /** Makes this task run after every one of `upstreams`; returns this task. */
  after(...upstreams: Wirable[]): TaskRef;
}

/** Several tasks wired together: `group(b, c).then(d)` makes d run after b and c. */
export interface TaskGroup {
  readonly tasks: readonly TaskRef[];
  then<T extends Wirable>(next: T): T;
  after(...upstreams: Wirable[]): TaskGroup;
}

/** Options of {@link dag}: a DAG's settings; `tasks` may list data-driven tasks. */
export type DagOptions = Omit<DagInput, 'tasks'> & { defaults?: TaskDefaults; tasks?: TaskInput[] };

/** Options of {@link shell}: task settings plus upstream ids. */
export type ShellOptions = TaskDefaults & { upstream?: string[] };

/**
 * Options of {@link docker}: the container settings of {@link DockerInput} (image required),
 * the container's command, the secrets to mount, upstream ids and every task setting of
 * {@link TaskDefaults} (retries, timeout, queue, triggerRule…; `env` is the container's
 * environment, `cwd` or its alias `workingDir` the container's working directory).
 */
export interface DockerOptions extends TaskDefaults, DockerInput {
  /** A string runs through `/bin/sh -c` in the container; an array is argv. Default [] = the image's command. */
  command?: string | string[];
  /** Alias of `cwd`: the working directory in the container (absolute). Default null = the image's. */
  workingDir?: string | null;
  /** Keys of variables to mount read-only as files under `secretsPath`, one per key. Default []. */
  secrets?: string[];
  /** Direct upstream task ids. */
  upstream?: string[];
}

const DOCKER_TASK_KEYS: readonly string[] = ['command', 'workingDir', 'secrets', 'upstream', ...TASK_DEFAULT_KEYS];

class DagBuilder {
  readonly tasks: TaskInput[] = [];
  constructor(readonly id: string) {}

  add(input: TaskInput): TaskRef {
    this.tasks.push(input);
    return new TaskRefImpl(this, input);
  }

  addUpstream(taskId: string, upstreamId: string): void {
    const task = this.tasks.find((t) => t.id === taskId)!;
    task.upstream = task.upstream ?? [];
    if (!task.upstream.includes(upstreamId)) task.upstream.push(upstreamId);
  }
}

// Like Airflow's `with DAG(...)`: tasks register with the innermost dag() being built.
const building: DagBuilder[] = [];

function currentBuilder(what: string): DagBuilder {
  const builder = building[building.length - 1];
  if (!builder) {
    throw new SdkUsageError(
      `${what} was called outside a dag() callback, so it belongs to no DAG`,
      `create tasks inside the callback: dag({ id: 'my_dag' }, () => { ${what}; })`,
    );
  }
  return builder;
}

function refsOf(x: Wirable): TaskRef[] {
  if (x instanceof TaskRefImpl) return [x];
  if (x instanceof TaskGroupImpl) return [...x.tasks];
  if (Array.isArray(x)) return x.flatMap((item) => refsOf(item as TaskRef | TaskGroup));
  if (typeof x === 'function') {
    throw new SdkUsageError(
      'a function was passed to .then(): a TaskRef wires tasks, it is not a Promise',
      'do not await a task; pass a task, a group() or an array of tasks to .then()',
    );
  }
  throw new SdkUsageError(`cannot wire ${JSON.stringify(x) ?? String(x)}: not a task`, 'pass a task from shell()/task(), a group() or an array of them');
}

function wire(upstreams: TaskRef[], downstreams: TaskRef[]): void {
  for (const down of downstreams) {
    for (const up of upstreams) {
      const downImpl = down as TaskRefImpl;
      if (up.dagId !== down.dagId) {
        throw new SdkUsageError(
          `task "${up.id}" of DAG "${up.dagId}" cannot be upstream of task "${down.id}" of DAG "${down.dagId}"`,
          'wire only tasks of the same DAG',
        );
      }
      downImpl.builder.addUpstream(down.id, up.id);
    }
  }
}

class TaskRefImpl implements TaskRef {
  constructor(readonly builder: DagBuilder, private readonly input: TaskInput) {}

  get id(): string {
    return this.input.id;
  }

  get dagId(): string {
    return this.builder.id;
  }

  then<T extends Wirable>(next: T): T {
    wire([this], refsOf(next));
    return next;
  }

  after(...upstreams: Wirable[]): TaskRef {
    wire(upstreams.flatMap(refsOf), [this]);
    return this;
  }
}

class TaskGroupImpl implements TaskGroup {
  constructor(readonly tasks: readonly TaskRef[]) {}

  then<T extends Wirable>(next: T): T {
    wire([...this.tasks], refsOf(next));
    return next;
  }

  after(...upstreams: Wirable[]): TaskGroup {
    wire(upstreams.flatMap(refsOf), [...this.tasks]);
    return this;
  }
}

class DagImpl implements Dag {
  readonly [DAG_BRAND] = true as const;
  constructor(private readonly options: DagOptions, private readonly builder: DagBuilder) {}

  get id(): string {
    return this.options.id;
  }

  toInput(): DagInput {
    const { tasks: listed, ...options } = this.options;
    // structuredClone keeps Dates and detaches the result from later wiring.
    return structuredClone({ ...options, tasks: [...(listed ?? []), ...this.builder.tasks] });
  }
}

/**
 * Defines a DAG. Tasks created with {@link shell} / {@link task} inside `build` belong to it
 * (the callback runs at once, synchronously); `options.tasks` may also list tasks as data.
 * Validation happens later, in `validateDag`, with the file name.
 *
 * @example
 * export default dag({ id: 'etl', schedule: '0 2 * * *' }, () => {
 *   shell('extract', 'extract.sh').then(shell('load', 'load.sh'));
 * });
 */
export function dag(options: DagOptions, build?: () => void): Dag {
  if (typeof options !== 'object' || options === null) {
    throw new SdkUsageError('dag() needs an options object', `call dag({ id: 'my_dag' }, () => { ... })`);
  }
  const builder = new DagBuilder(options.id);
  if (build !== undefined) {
    if (typeof build !== 'function') throw new SdkUsageError(`the second argument of dag("${options.id}") must be a function`, 'pass () => { ...create tasks... }');
    building.push(builder);
    let result: unknown;
    try {
      result = build();
    } finally {
      building.pop();
    }
    if (result instanceof Promise) {
      throw new SdkUsageError(
        `the build callback of dag("${options.id}") is async: tasks created after an await would belong to no DAG`,
        'make the callback synchronous; load data before calling dag()',
      );
    }
  }
  return new DagImpl({ ...options, tasks: options.tasks ? [...options.tasks] : undefined }, builder);
}

/** True for a {@link Dag} made by any copy of the SDK (checks the `swarmflow.dag` brand). */
export function isDag(x: unknown): x is Dag {
  return (
    typeof x === 'object' && x !== null &&
    (x as Record<symbol, unknown>)[DAG_BRAND] === true &&
    typeof (x as { toInput?: unknown }).toInput === 'function'
  );
}

/** A task that runs `command` in a child process: a string via `/bin/sh -c`, an array as argv. Call inside `dag()`. */
export function shell(id: string, command: string | string[], opts: ShellOptions = {}): TaskRef {
  const builder = currentBuilder(`shell(${JSON.stringify(id)})`);
  return builder.add({ ...opts, id, command, upstream: opts.upstream ? [...opts.upstream] : undefined });
}

/**
 * A task that runs in a container of `opts.image` (a sibling container the worker starts
 * through Docker). Call inside `dag()`. Container defaults: pullPolicy 'if-not-present',
 * network 'none', no resource limits, gpus 0, autoRemove true, secretsPath
 * '/secrets/variables'; see `validateDag` for all of them and for what it checks.
 *
 * @example
 * docker('train', {
 *   image: 'ghcr.io/acme/trainer:1.4', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'],
 *   volumes: ['/srv/datasets:/data:ro'], resources: { cpus: 8, memory: '30g', gpus: 1 },
 *   secrets: ['wandb_api_key'], retries: 2, queue: 'gpu',
 * });
 * @throws SdkUsageError outside a dag() callback, for an option it does not know (with the
 *   nearest one), and for both `cwd` and `workingDir`. The option values are checked later,
 *   by `validateDag`, with the file name.
 */
export function docker(id: string, opts: DockerOptions): TaskRef {
  const builder = currentBuilder(`docker(${JSON.stringify(id)})`);
  if (typeof opts !== 'object' || opts === null) {
    throw new SdkUsageError(`docker(${JSON.stringify(id)}) needs an options object`, `call docker(${JSON.stringify(id)}, { image: 'python:3.12-slim', command: [...] })`);
  }
  const { command, workingDir, secrets, upstream, ...rest } = opts;
  const settings: Record<string, unknown> = {};
  const container: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if ((DOCKER_INPUT_KEYS as readonly string[]).includes(key)) container[key] = value;
    else if ((TASK_DEFAULT_KEYS as readonly string[]).includes(key)) settings[key] = value;
    else {
      const allowed = [...DOCKER_INPUT_KEYS, ...DOCKER_TASK_KEYS];
      const near = suggestName(key, allowed);
      throw new SdkUsageError(`docker(${JSON.stringify(id)}) has an unknown option "${key}"`, `${near ? `did you mean "${near}"? ` : ''}use only ${allowed.join(', ')}`);
    }
  }
  if (workingDir !== undefined) {
    if (settings.cwd !== undefined) {
      throw new SdkUsageError(`docker(${JSON.stringify(id)}) has both cwd and workingDir`, 'keep one: workingDir is an alias of cwd');
    }
    settings.cwd = workingDir;
  }
  const input: TaskInput = { id, kind: 'docker', ...settings, docker: container as unknown as DockerInput };
  if (command !== undefined) input.command = Array.isArray(command) ? [...command] : command;
  if (secrets !== undefined) input.secrets = Array.isArray(secrets) ? [...secrets] : secrets;
  if (upstream !== undefined) input.upstream = [...upstream];
  return builder.add(input);
}

/** A task from a full task definition. Call inside `dag()`. */
export function task(id: string, opts: Omit<TaskInput, 'id'>): TaskRef {
  const builder = currentBuilder(`task(${JSON.stringify(id)})`);
  return builder.add({ ...opts, id, upstream: opts.upstream ? [...opts.upstream] : undefined });
}

/**
 * Wires items in sequence: `chain(a, b, [c, d], e)` = a -> b -> c, b -> d, c -> e, d -> e.
 * Like Airflow's `chain`, two adjacent arrays of the same length are wired pairwise
 * (`chain([a, b], [c, d])` = a -> c, b -> d); of different lengths they are an error.
 */
export function chain(...items: Wirable[]): void {
  for (let i = 0; i + 1 < items.length; i++) {
    const left = items[i];
    const right = items[i + 1];
    if (Array.isArray(left) && Array.isArray(right)) {
      if (left.length !== right.length) {
        throw new SdkUsageError(
          `chain() got adjacent lists of ${left.length} and ${right.length} tasks`,
          'give adjacent lists the same length (they are wired pairwise), or wrap one in group()',
        );
      }
      left.forEach((l, j) => wire(refsOf(l), refsOf(right[j])));
    } else {
      wire(refsOf(left), refsOf(right));
    }
  }
}

/** Groups tasks for fan-in and fan-out: `group(b, c).then(d)`, `a.then(group(b, c))`. */
export function group(...refs: Wirable[]): TaskGroup {
  return new TaskGroupImpl(refs.flatMap(refsOf));
}

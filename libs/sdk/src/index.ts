/**
 * The public API of the `swarmflow` package: what DAG files import.
 *
 * A DAG file default-exports one or more {@link dag}s. Inside the `dag()` callback:
 * - {@link shell}`(id, command, opts?)`: a process task on the worker (a string runs
 *   through `/bin/sh -c`, an array is argv);
 * - {@link docker}`(id, { image, command?, volumes?, resources?, secrets?, … })`: a container
 *   task. Resources are `{ cpus, memory: '30g', gpus }`; volumes are `'src:dst[:ro]'` or
 *   `{ source, target, readOnly }`; `secrets` are variable keys, mounted read-only as files
 *   under `secretsPath` (default `/secrets/variables`). The network is 'none' unless set;
 * - {@link task}`(id, { … })`: any task as data (`docker: { image }` makes it a container task).
 * Every task takes the settings of `TaskDefaults` (retries, timeout, queue, triggerRule…),
 * which a DAG's `defaults` may set for all its tasks; container settings and secrets are
 * per task. Wire tasks with `a.then(b)`, `b.after(a)`, {@link chain} and {@link group}.
 *
 * YAML DAGs ({@link loadYamlDags}) use snake_case keys: a task has `shell:`/`command:`, or a
 * `docker:` block (`image`, `command`, `pull_policy`, `resources: { cpus, memory, gpus }`, …)
 * plus `secrets: [keys]`. Values are checked by `validateDag`, whose errors name the file,
 * the DAG, the task, the field and the fix.
 *
 * @packageDocumentation
 */
export { dag, shell, docker, task, chain, group, isDag, DAG_BRAND } from './dag';
export type { Dag, DagOptions, ShellOptions, DockerOptions, TaskRef, TaskGroup, Wirable } from './dag';
export { SdkUsageError } from './errors';
export { parseYamlDags, loadYamlDags } from './yaml';
export type {
  DagInput, TaskInput, TaskDefaults, DockerInput, VolumeInput, ResourcesInput, PullPolicy, ParamSpec, TriggerRule, RetryBackoff,
} from '@swarmflow/core';

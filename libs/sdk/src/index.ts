// The public API of the `swarmflow` package: what DAG files import.
export { dag, shell, task, chain, group, isDag, DAG_BRAND } from './dag';
export type { Dag, DagOptions, ShellOptions, TaskRef, TaskGroup, Wirable } from './dag';
export { SdkUsageError } from './errors';
export { parseYamlDags, loadYamlDags } from './yaml';
export type { DagInput, TaskInput, TaskDefaults, ParamSpec, TriggerRule, RetryBackoff } from '@swarmflow/core';

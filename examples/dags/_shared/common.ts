// Helpers shared by the example DAG files. This folder starts with "_", so the DAG processor
// never loads it on its own: DAG files import it.
import path from 'node:path';
import { shell, type ParamSpec, type ShellOptions, type TaskRef } from 'swarmflow';

/** The Node scripts the example tasks run (absolute, so the worker's cwd does not matter). */
export const SCRIPTS_DIR = path.resolve(__dirname, '..', '_scripts');

/** Dataset names the scripts know (rows: small 1,000, medium 20,000, large 200,000). */
export const DATASETS = ['small', 'medium', 'large'] as const;
export type Dataset = (typeof DATASETS)[number];

/**
 * Env for the example tasks. The worker does not pass its own SWARMFLOW_* variables to tasks
 * (they may hold secrets), so a data root set with SWARMFLOW_EXAMPLES_DATA where the DAG
 * files are parsed (the scheduler; in standalone mode also the worker) is forwarded here.
 * Unset: the scripts use `<tmpdir>/swarmflow-examples` on the worker.
 */
export const EXAMPLES_ENV: Record<string, string> = process.env.SWARMFLOW_EXAMPLES_DATA
  ? { SWARMFLOW_EXAMPLES_DATA: process.env.SWARMFLOW_EXAMPLES_DATA }
  : {};

/** The task ids of the TS example DAGs (ml_pipeline.ts, then train_test.ts): the ones SWARMFLOW_EXAMPLES_QUEUES may name. */
export const EXAMPLE_TASKS = ['ingest', 'preprocess', 'train', 'evaluate', 'prepare_data', 'train_model', 'build_model', 'test_model'] as const;

/**
 * Queues of example tasks, from `SWARMFLOW_EXAMPLES_QUEUES` where the DAG files are parsed
 * (the scheduler): comma-separated `<task>=<queue>` pairs, e.g. `train=ml_train,evaluate=ml_eval`
 * puts train and evaluate on the workers that serve those queues (`swarmflow worker --queues`).
 * Unset: every task on `default`, which the standalone worker serves. One variable serves
 * every example file: `tasks` are the ids this DAG file has, and only their pairs are returned;
 * a pair naming no example task ({@link EXAMPLE_TASKS}), or not `<task>=<queue>`, fails the
 * file's import naming the variable.
 */
export function exampleQueues(tasks: readonly string[], value = process.env.SWARMFLOW_EXAMPLES_QUEUES ?? ''): Record<string, { queue: string }> {
  const queues: Record<string, { queue: string }> = {};
  for (const pair of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(pair);
    if (!m) throw new Error(`SWARMFLOW_EXAMPLES_QUEUES: "${pair}" is not <task>=<queue> (e.g. train=ml_train,evaluate=ml_eval)`);
    if (!(EXAMPLE_TASKS as readonly string[]).includes(m[1])) throw new Error(`SWARMFLOW_EXAMPLES_QUEUES: no example task "${m[1]}"; these have queues to set: ${EXAMPLE_TASKS.join(', ')}`);
    if (tasks.includes(m[1])) queues[m[1]] = { queue: m[2] };
  }
  return queues;
}

/**
 * Tells a script which run it works for: its files live in
 * `$SWARMFLOW_EXAMPLES_DATA/<dag_id>/<run_id>/` (default data root: `<tmpdir>/swarmflow-examples`).
 */
export const RUN_ARGS = ['--dag-id', '{{ dag_id }}', '--run-id', '{{ run_id }}'];

/**
 * The argv of `node <script> ...args`. An argv (not a `/bin/sh -c` string) needs no shell
 * quoting: a run id or a folder with spaces or quotes reaches the script as one argument.
 */
export function nodeScript(script: string, ...args: string[]): string[] {
  return ['node', path.join(SCRIPTS_DIR, script), ...args];
}

/** The params of the ML example DAGs; `dataset` only where the DAG lets the trigger choose it. */
export const ML_PARAMS = {
  dataset: {
    type: 'string', default: 'small', enum: [...DATASETS],
    description: 'synthetic dataset: small (1,000 rows), medium (20,000) or large (200,000)',
  },
  epochs: { type: 'integer', default: 5, minimum: 1, description: 'passes of gradient descent over the train split' },
  learning_rate: { type: 'number', default: 0.1, description: 'gradient descent step size (must be > 0)' },
  min_accuracy: { type: 'number', default: 0.6, minimum: 0, maximum: 1, description: 'evaluate fails below this test accuracy' },
} satisfies Record<string, ParamSpec>;

/**
 * Creates the `prepare_data` task (ingest + preprocess: synthetic data, standardised, split
 * 80/20) in the DAG being built. Call it inside a `dag()` callback; it returns the task to wire.
 * `dataset` is a name or a template such as `'{{ params.dataset }}'`.
 *
 * It is cacheable, and its command holds no run id (`--shared`), so every DAG that creates it
 * with the same dataset gets the same cache key and the task runs once per dataset (a day at
 * most: `cacheTtl`); later runs end it `cached` and take its outputs. Where its data goes:
 * - with an artefacts store (`SWARMFLOW_ARTIFACTS_URL`; standalone has a `file://` one):
 *   under its try's prefix (output `data_url`). train.js and evaluate.js fetch train.json and
 *   test.json with `artifacts.js get prepare_data …`, which for a `cached` prepare_data reads
 *   the prefix of the try it came from: workers need share no folder.
 * - without one: one folder per dataset, `<data root>/_shared/prepare_data-<dataset>` (output
 *   `data_dir`, passed as `--data-dir`), so several workers must share the data root.
 * Force a fresh one with `swarmflow dags trigger <dag> --force-task prepare_data`.
 */
export function prepareData(dataset: string = '{{ params.dataset }}', opts: ShellOptions = {}): TaskRef {
  return shell('prepare_data', nodeScript('prepare_data.js', '--dataset', dataset, '--shared'), {
    retries: 1, retryDelay: '5s', cache: true, cacheTtl: '1d', ...opts,
  });
}

/**
 * The argv options that point train.js / evaluate.js at prepare_data's data: `--data-task`
 * names the task to fetch it from through the store; `--data-dir` is its shared folder when it
 * ran without a store (with one its output has no `data_dir`: empty, the scripts read the store).
 */
export const PREPARED_DATA_ARGS = ['--data-task', 'prepare_data', '--data-dir', "{{ outputs.prepare_data.data_dir | default('') }}"];

// The ML pipeline (Azkaban's recipe): ingest -> preprocess -> train -> evaluate.
// - `mlPipeline(dataset)` builds one DAG per dataset: `ml_pipeline_small`, `ml_pipeline_medium`.
// - `ml_pipeline` lets the trigger pick the data with its `dataset` param:
//     npx swarmflow dags trigger ml_pipeline --conf '{"dataset":"medium","epochs":10}' --wait
// Each task runs a Node script from _scripts/ on its run's files in
// $SWARMFLOW_EXAMPLES_DATA/<dag_id>/<run_id>/ (default <tmpdir>/swarmflow-examples).
// With an artefacts store (SWARMFLOW_ARTIFACTS_URL, e.g. s3:// on MinIO) the dataset, model and
// metrics pass through it instead (_scripts/artifacts.js): each try works in a folder of its own,
// so the tasks may run on workers that share no folder. SWARMFLOW_EXAMPLES_QUEUES (set where
// the DAG files are parsed) routes tasks to queues, e.g. `train=ml_train,evaluate=ml_eval`;
// unset, every task is on `default`.
import { dag, shell, type Dag, type ParamSpec } from 'swarmflow';
import { DATASETS, EXAMPLES_ENV, ML_PARAMS, RUN_ARGS, exampleQueues, nodeScript, type Dataset } from './_shared/common';

const QUEUES = exampleQueues(['ingest', 'preprocess', 'train', 'evaluate']);

/** Builds the four-task pipeline; `dataset` is a fixed name or the `{{ params.dataset }}` template. */
function pipeline(id: string, description: string, dataset: string, params: Record<string, ParamSpec>): Dag {
  return dag(
    {
      id,
      description,
      schedule: null,
      tags: ['example', 'ml'],
      maxActiveRuns: 4,
      params,
      defaults: {
        retries: 0, retryDelay: '10s', retryBackoff: 'exponential', timeout: '15m',
        queue: 'default', priority: 0, pool: 'default_pool', env: EXAMPLES_ENV,
      },
    },
    () => {
      const ingest = shell('ingest', nodeScript('ingest.js', '--dataset', dataset, ...RUN_ARGS), { retries: 1, retryDelay: '5s', ...QUEUES.ingest });
      const preprocess = shell('preprocess', nodeScript('preprocess.js', '--test-fraction', '0.2', ...RUN_ARGS), { ...QUEUES.preprocess });
      const train = shell('train', nodeScript('train.js', '--epochs', '{{ params.epochs }}', '--learning-rate', '{{ params.learning_rate }}', ...RUN_ARGS), { ...QUEUES.train });
      const evaluate = shell('evaluate', nodeScript('evaluate.js', '--min-accuracy', '{{ params.min_accuracy }}', ...RUN_ARGS), { ...QUEUES.evaluate });
      ingest.then(preprocess).then(train).then(evaluate);
    },
  );
}

const { dataset: _dataset, ...fixedDatasetParams } = ML_PARAMS;

/** `ml_pipeline_<dataset>`: the pipeline on one fixed dataset (no `dataset` param). */
export function mlPipeline(dataset: Dataset): Dag {
  if (!DATASETS.includes(dataset)) throw new Error(`unknown dataset "${dataset}": use one of ${DATASETS.join(', ')}`);
  return pipeline(`ml_pipeline_${dataset}`, `ML pipeline (ingest -> preprocess -> train -> evaluate) on the ${dataset} dataset`, dataset, fixedDatasetParams);
}

/** One DAG per dataset, from the same builder. */
export const perDataset: Dag[] = (['small', 'medium'] as const).map(mlPipeline);

/** `ml_pipeline`: the dataset is a param of the run. */
export const mlPipelineParametrised: Dag = pipeline(
  'ml_pipeline',
  'ML pipeline (ingest -> preprocess -> train -> evaluate); the dataset param picks the data',
  '{{ params.dataset }}',
  ML_PARAMS,
);

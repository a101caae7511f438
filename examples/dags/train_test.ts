// Two DAGs sharing their first task, the ML-Airflow pattern: `prepare_data` is defined once
// (in _shared/common.ts) and created in each DAG's build callback. It is cacheable (cache:
// true) with the same definition in both, its command holding no run id: whichever DAG runs
// first prepares the dataset, and the other's prepare_data ends `cached`, taking the first
// one's try (its outputs and its data).
//     npx swarmflow dags trigger ml_training --wait     # prepare_data runs
//     npx swarmflow dags trigger ml_testing --wait      # prepare_data: cached
//   ml_training: prepare_data -> train_model                  (builds a model)
//   ml_testing:  prepare_data -> build_model -> test_model    (evaluates a freshly built model)
//     npx swarmflow dags trigger ml_testing --conf '{"dataset":"medium","min_accuracy":0.8}' --wait
// With an artefacts store (SWARMFLOW_ARTIFACTS_URL, e.g. s3:// on MinIO; standalone has a
// file:// one) the data and models pass through it, as in ml_pipeline.ts: prepare_data stores
// its split under its try's prefix and the scripts fetch it (`artifacts.js get prepare_data`),
// from the source try's prefix when prepare_data is `cached`, so the two DAGs may run on workers
// that share no folder. Without a store, prepare_data writes one folder per dataset under the
// data root ($SWARMFLOW_EXAMPLES_DATA/_shared/), which the workers must then share.
// SWARMFLOW_EXAMPLES_QUEUES (where the DAG files are parsed) routes tasks to queues, e.g.
// `prepare_data=prep,train_model=ml_train,build_model=ml_train,test_model=ml_train`.
import { dag, shell } from 'swarmflow';
import { EXAMPLES_ENV, ML_PARAMS, PREPARED_DATA_ARGS, RUN_ARGS, exampleQueues, nodeScript, prepareData } from './_shared/common';

const QUEUES = exampleQueues(['prepare_data', 'train_model', 'build_model', 'test_model']);

const { min_accuracy: _minAccuracy, ...trainingParams } = ML_PARAMS;

// The scripts' hints name the upstream task to re-run: here prepare_data and build_model.
const trainArgs = ['--epochs', '{{ params.epochs }}', '--learning-rate', '{{ params.learning_rate }}', ...PREPARED_DATA_ARGS, ...RUN_ARGS];

export const mlTraining = dag(
  {
    id: 'ml_training',
    cacheNamespace: 'ml_examples', // shared with the other DAG of this file: prepare_data runs once
    description: 'prepare_data (shared) -> train_model',
    tags: ['example', 'ml'],
    params: trainingParams,
    defaults: { timeout: '15m', env: EXAMPLES_ENV },
  },
  () => {
    prepareData('{{ params.dataset }}', { ...QUEUES.prepare_data }).then(shell('train_model', nodeScript('train.js', ...trainArgs), { ...QUEUES.train_model }));
  },
);

export const mlTesting = dag(
  {
    id: 'ml_testing',
    cacheNamespace: 'ml_examples', // shared with the other DAG of this file: prepare_data runs once
    description: 'prepare_data (shared) -> build_model -> test_model (fails below min_accuracy)',
    tags: ['example', 'ml'],
    params: ML_PARAMS,
    defaults: { timeout: '15m', env: EXAMPLES_ENV },
  },
  () => {
    prepareData('{{ params.dataset }}', { ...QUEUES.prepare_data })
      .then(shell('build_model', nodeScript('train.js', ...trainArgs), { ...QUEUES.build_model }))
      .then(shell('test_model', nodeScript('evaluate.js', '--min-accuracy', '{{ params.min_accuracy }}', ...PREPARED_DATA_ARGS, '--train-task', 'build_model', ...RUN_ARGS), { ...QUEUES.test_model }));
  },
);

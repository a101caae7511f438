// Two DAGs sharing their first task, the ML-Airflow pattern: `prepare_data` is defined once
// (in _shared/common.ts) and created in each DAG's build callback. It is cacheable (cache:
// true) with the same definition in both: whichever DAG runs first prepares the dataset, and
// the other's prepare_data ends `cached`, taking the first one's outputs (its data folder).
//     npx swarmflow dags trigger ml_training --wait     # prepare_data runs
//     npx swarmflow dags trigger ml_testing --wait      # prepare_data: cached
//   ml_training: prepare_data -> train_model                  (builds a model)
//   ml_testing:  prepare_data -> build_model -> test_model    (evaluates a freshly built model)
//     npx swarmflow dags trigger ml_testing --conf '{"dataset":"medium","min_accuracy":0.8}' --wait
import { dag, shell } from 'swarmflow';
import { EXAMPLES_ENV, ML_PARAMS, PREPARED_DATA_ARGS, RUN_ARGS, nodeScript, prepareData } from './_shared/common';

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
    prepareData().then(shell('train_model', nodeScript('train.js', ...trainArgs)));
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
    prepareData()
      .then(shell('build_model', nodeScript('train.js', ...trainArgs)))
      .then(shell('test_model', nodeScript('evaluate.js', '--min-accuracy', '{{ params.min_accuracy }}', ...PREPARED_DATA_ARGS, '--train-task', 'build_model', ...RUN_ARGS)));
  },
);

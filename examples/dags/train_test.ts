// Two DAGs sharing their first task, the ML-Airflow pattern: `prepare_data` is defined once
// (in _shared/common.ts) and created in each DAG's build callback.
//   ml_training: prepare_data -> train_model                  (builds a model)
//   ml_testing:  prepare_data -> build_model -> test_model    (evaluates a freshly built model)
//     npx swarmflow dags trigger ml_testing --conf '{"dataset":"medium","min_accuracy":0.8}' --wait
import { dag, shell } from 'swarmflow';
import { EXAMPLES_ENV, ML_PARAMS, RUN_ARGS, nodeScript, prepareData } from './_shared/common';

const { min_accuracy: _minAccuracy, ...trainingParams } = ML_PARAMS;

// The scripts' hints name the upstream task to re-run: here prepare_data and build_model.
const trainArgs = ['--epochs', '{{ params.epochs }}', '--learning-rate', '{{ params.learning_rate }}', '--data-task', 'prepare_data', ...RUN_ARGS];

export const mlTraining = dag(
  {
    id: 'ml_training',
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
    description: 'prepare_data (shared) -> build_model -> test_model (fails below min_accuracy)',
    tags: ['example', 'ml'],
    params: ML_PARAMS,
    defaults: { timeout: '15m', env: EXAMPLES_ENV },
  },
  () => {
    prepareData()
      .then(shell('build_model', nodeScript('train.js', ...trainArgs)))
      .then(shell('test_model', nodeScript('evaluate.js', '--min-accuracy', '{{ params.min_accuracy }}', '--data-task', 'prepare_data', '--train-task', 'build_model', ...RUN_ARGS)));
  },
);

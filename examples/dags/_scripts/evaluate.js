#!/usr/bin/env node
'use strict';
// evaluate: scores the model on the test split (accuracy, MSE of the predicted probability,
// log-loss), writes metrics.json, then checks it: exits 1 when the metrics file is missing
// afterwards or accuracy < --min-accuracy (a quality gate), 2 when inputs are missing or bad.
//   node evaluate.js [--min-accuracy 0.6] [--data-task ID] [--train-task ID] [--data-dir DIR] [--dag-id ID --run-id ID]
// Input: model.json (of --train-task), test.json (of --data-task; in --data-dir when given, as
// train.js). With an artefacts store both are fetched from those tasks' tries. Output: <run dir>/metrics.json.
const fs = require('node:fs');
const path = require('node:path');
const { EXIT_CHECK_FAILED, RUN_OPTIONS, ScriptError, parseArgs, predict, readJson, runDir, runMain, writeJson } = require('./lib');

const USAGE = 'usage: node evaluate.js [--min-accuracy <0..1>] [--data-task <task id>] [--train-task <task id>] [--data-dir <dir>] [--dag-id <id>] [--run-id <id>]';

runMain('evaluate', () => {
  const args = parseArgs(process.argv.slice(2), {
    'min-accuracy': { type: 'number', default: 0.6, min: 0, max: 1 },
    'data-task': { type: 'string', default: 'preprocess' },
    'train-task': { type: 'string', default: 'train' },
    'data-dir': { type: 'string', default: '' },
    ...RUN_OPTIONS,
  }, USAGE);
  const dir = runDir(args);
  // The upstream tasks by their ids in this DAG (ml_pipeline: preprocess, train; ml_testing: prepare_data, build_model), for the hints.
  const dataTask = args['data-task'];
  const trainTask = args['train-task'];
  const model = readJson(path.join(dir, 'model.json'), trainTask);
  const test = readJson(path.join(args['data-dir'] || dir, 'test.json'), dataTask);
  if (!Array.isArray(model.weights) || typeof model.bias !== 'number') {
    throw new ScriptError(`${path.join(dir, 'model.json')} has no weights/bias`, `re-run the "${trainTask}" task`);
  }
  if (!Array.isArray(test.x) || test.x.length === 0 || test.x.length !== test.y.length || test.x[0].length !== model.weights.length) {
    throw new ScriptError(`test.json does not match the model (${test.x?.length ?? 0} rows, ${test.x?.[0]?.length ?? 0} features; model has ${model.weights.length})`, `re-run "${dataTask}" and "${trainTask}" of this run`);
  }
  console.log(`[evaluate] scoring the model (${model.epochs} epochs, learning_rate=${model.learningRate}) on ${test.x.length} test rows`);

  let correct = 0;
  let se = 0;
  let ll = 0;
  const confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  test.x.forEach((row, i) => {
    const p = predict(model, row);
    const label = test.y[i];
    const guess = p >= 0.5 ? 1 : 0;
    if (guess === label) correct++;
    confusion[guess ? (label ? 'tp' : 'fp') : (label ? 'fn' : 'tn')]++;
    se += (p - label) ** 2;
    const q = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
    ll -= label * Math.log(q) + (1 - label) * Math.log(1 - q);
  });
  const n = test.x.length;
  const metrics = {
    accuracy: correct / n, mse: se / n, logLoss: ll / n, testRows: n, ...confusion,
    minAccuracy: args['min-accuracy'], evaluatedAt: new Date().toISOString(),
  };
  const out = path.join(dir, 'metrics.json');
  writeJson(out, metrics);
  console.log(`[evaluate] accuracy=${metrics.accuracy.toFixed(4)} mse=${metrics.mse.toFixed(4)} log_loss=${metrics.logLoss.toFixed(4)} (tp=${confusion.tp} fp=${confusion.fp} tn=${confusion.tn} fn=${confusion.fn})`);
  console.log(`[evaluate] wrote ${out}`);

  // The gate reads the file back: what downstream consumers see is what is checked.
  if (!fs.existsSync(out)) throw new ScriptError(`metrics file ${out} is missing after writing it`, 'check the disk and SWARMFLOW_EXAMPLES_DATA', EXIT_CHECK_FAILED);
  const written = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (typeof written.accuracy !== 'number' || written.accuracy < args['min-accuracy']) {
    throw new ScriptError(
      `accuracy ${Number(written.accuracy).toFixed(4)} is below min_accuracy ${args['min-accuracy']}`,
      'train longer (epochs), tune learning_rate, or lower min_accuracy',
      EXIT_CHECK_FAILED,
    );
  }
  console.log(`[evaluate] PASS: accuracy ${written.accuracy.toFixed(4)} >= min_accuracy ${args['min-accuracy']}`);
});

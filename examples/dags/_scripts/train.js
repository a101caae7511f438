#!/usr/bin/env node
'use strict';
// train: logistic regression by mini-batch gradient descent on the standardised train split.
// Prints the mean log-loss after every epoch (a progress line) and writes the model.
//   node train.js --epochs 5 --learning-rate 0.1 [--batch-size 32] [--seed N] [--data-task ID] [--data-dir DIR] [--dag-id ID --run-id ID]
// --data-task names the upstream task that wrote train.json (default preprocess): with an
// artefacts store, the file is fetched from that task's try (artifacts.js get), else read in the
// run dir or in --data-dir, a folder the data task named (prepare_data without a store).
// Input: train.json. Output: <run dir>/model.json (with a store: stored under this try's prefix).
const path = require('node:path');
const { RUN_OPTIONS, ScriptError, parseArgs, predict, prng, readJson, runDir, runMain, writeJson } = require('./lib');

const USAGE = 'usage: node train.js --epochs <int >= 1> --learning-rate <number > 0> [--batch-size <int>] [--seed <int>] [--data-task <task id>] [--data-dir <dir>] [--dag-id <id>] [--run-id <id>]';

function logLoss(model, x, y) {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const p = Math.min(Math.max(predict(model, x[i]), 1e-12), 1 - 1e-12);
    sum -= y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p);
  }
  return sum / x.length;
}

runMain('train', () => {
  const args = parseArgs(process.argv.slice(2), {
    epochs: { type: 'integer', min: 1, max: 10_000 },
    'learning-rate': { type: 'number', exclusiveMin: 0, max: 100 },
    'batch-size': { type: 'integer', default: 32, min: 1 },
    seed: { type: 'integer', default: 7, min: 0 },
    'data-task': { type: 'string', default: 'preprocess' },
    'data-dir': { type: 'string', default: '' },
    ...RUN_OPTIONS,
  }, USAGE);
  const dir = runDir(args, { create: true });
  const dataTask = args['data-task'];
  // --data-dir: where the data task wrote train.json, when not in this run's folder (a shared,
  // maybe cached prepare_data that ran without a store). Empty: this folder, fetched from the store if there is one.
  const train = readJson(path.join(args['data-dir'] || dir, 'train.json'), dataTask);
  if (!Array.isArray(train.x) || !Array.isArray(train.y) || train.x.length === 0 || train.x.length !== train.y.length) {
    throw new ScriptError(`${path.join(dir, 'train.json')} has no usable rows (x and y must be non-empty arrays of the same length)`, `re-run the "${dataTask}" task`);
  }
  const { x, y } = train;
  const d = x[0].length;
  const lr = args['learning-rate'];
  const batch = Math.min(args['batch-size'], x.length);
  console.log(`[train] logistic regression: ${x.length} rows, ${d} features, epochs=${args.epochs}, learning_rate=${lr}, batch_size=${batch}`);

  const model = { weights: new Array(d).fill(0), bias: 0 };
  const rand = prng(args.seed);
  const order = [...x.keys()];
  const started = Date.now();
  let loss = logLoss(model, x, y);
  console.log(`[train] epoch 0/${args.epochs} loss=${loss.toFixed(4)} (initial)`);
  for (let epoch = 1; epoch <= args.epochs; epoch++) {
    rand.shuffle(order);
    for (let start = 0; start < order.length; start += batch) {
      const end = Math.min(start + batch, order.length);
      const gw = new Array(d).fill(0);
      let gb = 0;
      for (let k = start; k < end; k++) {
        const i = order[k];
        const err = predict(model, x[i]) - y[i];
        for (let j = 0; j < d; j++) gw[j] += err * x[i][j];
        gb += err;
      }
      const n = end - start;
      for (let j = 0; j < d; j++) model.weights[j] -= (lr * gw[j]) / n;
      model.bias -= (lr * gb) / n;
    }
    loss = logLoss(model, x, y);
    if (!Number.isFinite(loss)) throw new ScriptError(`loss diverged at epoch ${epoch} (learning rate ${lr} too high?)`, 'lower learning_rate', 1);
    const pct = Math.round((epoch / args.epochs) * 100);
    console.log(`[train] epoch ${epoch}/${args.epochs} loss=${loss.toFixed(4)} progress=${pct}%`);
  }
  const out = path.join(dir, 'model.json');
  writeJson(out, {
    kind: 'logistic_regression', features: train.features, weights: model.weights, bias: model.bias,
    epochs: args.epochs, learningRate: lr, batchSize: batch, trainRows: x.length, finalLoss: loss,
    trainedAt: new Date().toISOString(), trainMs: Date.now() - started,
  });
  console.log(`[train] weights=[${model.weights.map((w) => w.toFixed(3)).join(', ')}] bias=${model.bias.toFixed(3)}`);
  console.log(`[train] wrote model to ${out}`);
});

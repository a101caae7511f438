#!/usr/bin/env node
'use strict';
// preprocess: reads raw.csv, checks it, shuffles it (seeded), splits train/test 80/20 and
// standardises the features with the mean and standard deviation of the TRAIN split only
// (the test split must not leak into the scaler).
//   node preprocess.js [--test-fraction 0.2] [--seed N] [--dag-id ID --run-id ID]
// Input: <run dir>/raw.csv. Output: train.json, test.json ({ features, x: [[...]], y: [...] }), scaler.json.
const fs = require('node:fs');
const path = require('node:path');
const { RUN_OPTIONS, ScriptError, parseArgs, prng, requireFile, runDir, runMain, writeJson } = require('./lib');

const USAGE = 'usage: node preprocess.js [--test-fraction <0..1>] [--seed <int>] [--dag-id <id>] [--run-id <id>]';
const FEATURES = ['x1', 'x2', 'x3', 'x4'];

function readCsv(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').trim();
  const expected = [...FEATURES, 'label'].join(',');
  if (header !== expected) throw new ScriptError(`${file}: header is ${JSON.stringify(header)}, expected ${JSON.stringify(expected)}`, 're-run the "ingest" task');
  if (lines.length < 10) throw new ScriptError(`${file}: only ${lines.length} data rows; need at least 10 to split`, 're-run the "ingest" task');
  const x = [];
  const y = [];
  lines.forEach((line, i) => {
    const cells = line.split(',');
    const nums = cells.map(Number);
    if (cells.length !== FEATURES.length + 1 || nums.some((n) => !Number.isFinite(n))) {
      throw new ScriptError(`${file}:${i + 2}: bad row ${JSON.stringify(line)} (expected ${FEATURES.length + 1} numbers)`, 're-run the "ingest" task');
    }
    const label = nums.pop();
    if (label !== 0 && label !== 1) throw new ScriptError(`${file}:${i + 2}: label must be 0 or 1 (got ${label})`, 're-run the "ingest" task');
    x.push(nums);
    y.push(label);
  });
  return { x, y };
}

runMain('preprocess', () => {
  const args = parseArgs(process.argv.slice(2), {
    'test-fraction': { type: 'number', default: 0.2, exclusiveMin: 0, max: 0.9 },
    seed: { type: 'integer', default: 42, min: 0 },
    ...RUN_OPTIONS,
  }, USAGE);
  const dir = runDir(args);
  const input = requireFile(path.join(dir, 'raw.csv'), 'ingest');
  const { x, y } = readCsv(input);
  console.log(`[preprocess] read ${x.length} rows x ${FEATURES.length} features from ${input}`);

  const order = prng(args.seed).shuffle([...x.keys()]);
  const nTest = Math.max(1, Math.round(x.length * args['test-fraction']));
  const testIdx = order.slice(0, nTest);
  const trainIdx = order.slice(nTest);
  console.log(`[preprocess] split ${trainIdx.length} train / ${testIdx.length} test (test fraction ${args['test-fraction']}, seed ${args.seed})`);

  const mean = FEATURES.map((_, j) => trainIdx.reduce((s, i) => s + x[i][j], 0) / trainIdx.length);
  const std = FEATURES.map((_, j) => Math.sqrt(trainIdx.reduce((s, i) => s + (x[i][j] - mean[j]) ** 2, 0) / trainIdx.length) || 1);
  FEATURES.forEach((f, j) => console.log(`[preprocess] ${f}: mean=${mean[j].toFixed(3)} std=${std[j].toFixed(3)}`));

  const scale = (row) => row.map((v, j) => Number(((v - mean[j]) / std[j]).toFixed(6)));
  const split = (idx) => ({ features: FEATURES, x: idx.map((i) => scale(x[i])), y: idx.map((i) => y[i]) });
  writeJson(path.join(dir, 'train.json'), split(trainIdx));
  writeJson(path.join(dir, 'test.json'), split(testIdx));
  writeJson(path.join(dir, 'scaler.json'), { features: FEATURES, mean, std });
  console.log(`[preprocess] wrote train.json, test.json and scaler.json to ${dir}`);
});

#!/usr/bin/env node
'use strict';
// ingest: generates a synthetic, deterministic classification dataset and writes it as CSV.
// Four features on very different scales; the label follows a noisy logistic-style linear
// rule (x4 is pure noise), so a trained model can reach ~85-90% accuracy, never 100%.
//   node ingest.js --dataset small [--seed N] [--dag-id ID --run-id ID]
// Output: <run dir>/raw.csv (header x1,x2,x3,x4,label).
const path = require('node:path');
const { DATASETS, RUN_OPTIONS, parseArgs, prng, runDir, runMain, seedOf, writeAtomic } = require('./lib');

const USAGE = 'usage: node ingest.js --dataset <small|medium|large> [--seed <int>] [--dag-id <id>] [--run-id <id>]';

runMain('ingest', () => {
  const args = parseArgs(process.argv.slice(2), {
    dataset: { type: 'string', choices: Object.keys(DATASETS) },
    seed: { type: 'integer', default: -1, min: -1 },
    ...RUN_OPTIONS,
  }, USAGE);
  const rows = DATASETS[args.dataset];
  const seed = args.seed >= 0 ? args.seed : seedOf(`swarmflow-examples/${args.dataset}`);
  const dir = runDir(args, { create: true });
  const out = path.join(dir, 'raw.csv');
  const tryNumber = process.env.SWARMFLOW_TRY_NUMBER ?? '1';
  console.log(`[ingest] dataset=${args.dataset} rows=${rows} seed=${seed} try=${tryNumber}`);
  console.log(`[ingest] run dir ${dir}`);

  const rand = prng(seed);
  const lines = ['x1,x2,x3,x4,label'];
  let positives = 0;
  for (let i = 0; i < rows; i++) {
    const x1 = 50 + 10 * rand.normal(); // e.g. an age
    const x2 = 1000 * rand.next(); // e.g. an amount, uniform 0..1000
    const x3 = -2 + 0.5 * rand.normal();
    const x4 = 3 + 2 * rand.normal(); // irrelevant to the label
    const z = 2 * (x1 - 50) / 10 - 1.5 * (x2 - 500) / 288.675 + (x3 + 2) / 0.5 + 0.3 + 0.8 * rand.normal();
    const label = z > 0 ? 1 : 0;
    positives += label;
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${x3.toFixed(4)},${x4.toFixed(4)},${label}`);
    if ((i + 1) % Math.max(1, Math.floor(rows / 4)) === 0) console.log(`[ingest] generated ${i + 1}/${rows} rows`);
  }
  writeAtomic(out, lines.join('\n') + '\n');
  console.log(`[ingest] wrote ${rows} rows (${(positives / rows * 100).toFixed(1)}% label=1) to ${out}`);
});

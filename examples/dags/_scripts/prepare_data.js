#!/usr/bin/env node
'use strict';
// prepare_data: the common first task of ml_training and ml_testing: ingest + preprocess in
// one step (same scripts, run one after the other in this process's run dir).
//   node prepare_data.js --dataset small [--dag-id ID --run-id ID]
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { DATASETS, RUN_OPTIONS, parseArgs, runMain, ScriptError } = require('./lib');

const USAGE = 'usage: node prepare_data.js --dataset <small|medium|large> [--dag-id <id>] [--run-id <id>]';

runMain('prepare_data', () => {
  const args = parseArgs(process.argv.slice(2), {
    dataset: { type: 'string', choices: Object.keys(DATASETS) },
    ...RUN_OPTIONS,
  }, USAGE);
  const run = ['--dag-id', args['dag-id'], '--run-id', args['run-id']];
  for (const [script, extra] of [['ingest.js', ['--dataset', args.dataset]], ['preprocess.js', []]]) {
    console.log(`[prepare_data] running ${script}`);
    const r = spawnSync(process.execPath, [path.join(__dirname, script), ...extra, ...run], { stdio: 'inherit' });
    if (r.status !== 0) throw new ScriptError(`${script} failed (exit ${r.status ?? r.signal})`, 'see its output above', r.status || 1);
  }
  console.log('[prepare_data] data ready');
});

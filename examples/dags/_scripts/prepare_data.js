#!/usr/bin/env node
'use strict';
// prepare_data: the common first task of ml_training and ml_testing: ingest + preprocess in
// one step (same scripts, run one after the other in this process's run dir).
//   node prepare_data.js --dataset small [--dag-id ID --run-id ID]
//   node prepare_data.js --dataset small --shared
// --shared: the data goes to one folder per dataset (<data root>/_shared/prepare_data-<dataset>),
// not to the run's, so runs of any DAG can read it; a cacheable task (cache: true) then runs
// once per dataset. It writes {"data_dir", "dataset", "rows"} to $SWARMFLOW_OUTPUT for the
// downstream tasks ({{ outputs.prepare_data.data_dir }}).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { DATASETS, RUN_OPTIONS, parseArgs, runDir, runMain, ScriptError } = require('./lib');

const USAGE = 'usage: node prepare_data.js --dataset <small|medium|large> [--shared | --dag-id <id> --run-id <id>]';

runMain('prepare_data', () => {
  const argv = process.argv.slice(2);
  const shared = argv.includes('--shared');
  const args = parseArgs(argv.filter((a) => a !== '--shared'), {
    dataset: { type: 'string', choices: Object.keys(DATASETS) },
    ...RUN_OPTIONS,
    ...(shared ? { 'run-id': { type: 'string', default: '-' } } : {}),
  }, USAGE);
  if (shared) Object.assign(args, { 'dag-id': '_shared', 'run-id': `prepare_data-${args.dataset}` });
  const run = ['--dag-id', args['dag-id'], '--run-id', args['run-id']];
  for (const [script, extra] of [['ingest.js', ['--dataset', args.dataset]], ['preprocess.js', []]]) {
    console.log(`[prepare_data] running ${script}`);
    const r = spawnSync(process.execPath, [path.join(__dirname, script), ...extra, ...run], { stdio: 'inherit' });
    if (r.status !== 0) throw new ScriptError(`${script} failed (exit ${r.status ?? r.signal})`, 'see its output above', r.status || 1);
  }
  const dataDir = runDir(args);
  console.log(`[prepare_data] data ready in ${dataDir}`);
  if (process.env.SWARMFLOW_OUTPUT) {
    fs.writeFileSync(process.env.SWARMFLOW_OUTPUT, JSON.stringify({ data_dir: dataDir, dataset: args.dataset, rows: DATASETS[args.dataset] }));
  }
});

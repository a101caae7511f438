#!/usr/bin/env node
'use strict';
// prepare_data: the common first task of ml_training and ml_testing: ingest + preprocess in
// one step (same scripts, run one after the other in one folder).
//   node prepare_data.js --dataset small [--dag-id ID --run-id ID]
//   node prepare_data.js --dataset small --shared
// --shared: the command holds no run id, so a cacheable task (cache: true) gets the same key in
// every run of every DAG that creates it, and runs once per dataset. Where the data goes:
// - with an artefacts store (the worker sets SWARMFLOW_ARTIFACTS_URL for the try): a scratch
//   folder of this try, its files (raw.csv, train.json, test.json, scaler.json) stored under the
//   try's prefix; downstream tasks fetch them with `artifacts.js get prepare_data <file>`, which
//   also finds them when prepare_data ended `cached` (the try it came from may be another run's,
//   on another worker). Output: {"data_url", "dataset", "rows"} (data_url: that prefix).
// - without one: one folder per dataset, <data root>/_shared/prepare_data-<dataset>, which
//   every run can read on this machine (several workers must share it). Output:
//   {"data_dir", "dataset", "rows"}; downstream tasks take --data-dir {{ outputs.prepare_data.data_dir }}.
// The output goes to $SWARMFLOW_OUTPUT.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, DATASETS, RUN_OPTIONS, TRY_DIR_ENV, parseArgs, runDir, runMain, ScriptError } = require('./lib');

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
  // With artefacts: this try's scratch folder, which both steps work in (they store what they write).
  const dataDir = runDir(args);
  const env = ARTIFACTS ? { ...process.env, [TRY_DIR_ENV]: dataDir } : process.env;
  const run = ['--dag-id', args['dag-id'], '--run-id', args['run-id']];
  for (const [script, extra] of [['ingest.js', ['--dataset', args.dataset]], ['preprocess.js', []]]) {
    console.log(`[prepare_data] running ${script}`);
    const r = spawnSync(process.execPath, [path.join(__dirname, script), ...extra, ...run], { stdio: 'inherit', env });
    if (r.status !== 0) throw new ScriptError(`${script} failed (exit ${r.status ?? r.signal})`, 'see its output above', r.status || 1);
  }
  const where = ARTIFACTS ? { data_url: process.env.SWARMFLOW_ARTIFACTS_URL } : { data_dir: dataDir };
  console.log(`[prepare_data] data ready in ${ARTIFACTS ? where.data_url : dataDir}`);
  if (process.env.SWARMFLOW_OUTPUT) {
    fs.writeFileSync(process.env.SWARMFLOW_OUTPUT, JSON.stringify({ ...where, dataset: args.dataset, rows: DATASETS[args.dataset] }));
  }
});

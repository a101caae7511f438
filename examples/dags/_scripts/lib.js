'use strict';
// Helpers shared by the example ML scripts: argument parsing, the per-run work dir, a
// seeded PRNG, atomic file writes and clear failures. Plain Node (>= 20), no dependencies.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Rows per dataset name; the DAGs' `dataset` param is one of these keys. */
const DATASETS = { small: 1_000, medium: 20_000, large: 200_000 };

/** Exit codes: 1 = the work ran but failed a check, 2 = bad arguments or missing inputs. 99 would mean "skipped". */
const EXIT_CHECK_FAILED = 1;
const EXIT_USAGE = 2;

class ScriptError extends Error {
  constructor(message, fix, exitCode = EXIT_USAGE) {
    super(message);
    this.fix = fix;
    this.exitCode = exitCode;
  }
}

/** Runs `main` and turns a ScriptError (or any error) into one clear line and an exit code. */
function runMain(name, main) {
  try {
    main();
  } catch (err) {
    if (err instanceof ScriptError) {
      console.error(`[${name}] ERROR: ${err.message}${err.fix ? `\n[${name}] Fix: ${err.fix}` : ''}`);
      process.exit(err.exitCode);
    }
    console.error(`[${name}] ERROR (unexpected): ${err && err.stack ? err.stack : err}`);
    process.exit(EXIT_CHECK_FAILED);
  }
}

/**
 * Parses `--name value` / `--name=value` arguments. `spec` maps a name to
 * { type: 'string'|'integer'|'number', default?, min?, exclusiveMin?, choices?, env? } (env: fallback variable).
 */
function parseArgs(argv, spec, usage) {
  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!m) throw new ScriptError(`unexpected argument ${JSON.stringify(arg)}`, usage);
    const name = m[1];
    if (!(name in spec)) throw new ScriptError(`unknown option --${name}`, `use only ${Object.keys(spec).map((k) => `--${k}`).join(', ')}`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ScriptError(`option --${name} needs a value`, usage);
    }
    raw[name] = value;
  }
  const out = {};
  for (const [name, s] of Object.entries(spec)) {
    let value = raw[name];
    if (value === undefined && s.env && process.env[s.env]) value = process.env[s.env];
    if (value === undefined || value === '') {
      if (s.default === undefined) {
        throw new ScriptError(`option --${name} is required${s.env ? ` (or set ${s.env})` : ''}`, usage);
      }
      out[name] = s.default;
      continue;
    }
    out[name] = convert(name, s, value);
  }
  return out;
}

function convert(name, s, value) {
  if (s.type === 'string') {
    if (s.choices && !s.choices.includes(value)) {
      throw new ScriptError(`--${name} must be one of ${s.choices.join(', ')} (got ${JSON.stringify(value)})`, `pass e.g. --${name} ${s.choices[0]}`);
    }
    return value;
  }
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new ScriptError(`--${name} must be a number (got ${JSON.stringify(value)})`, `pass e.g. --${name} ${s.default ?? 1}`);
  if (s.type === 'integer' && !Number.isInteger(n)) throw new ScriptError(`--${name} must be a whole number (got ${value})`, `pass e.g. --${name} ${s.default ?? 1}`);
  if (s.min !== undefined && n < s.min) throw new ScriptError(`--${name} must be >= ${s.min} (got ${value})`, `pass a value of at least ${s.min}`);
  if (s.exclusiveMin !== undefined && n <= s.exclusiveMin) throw new ScriptError(`--${name} must be > ${s.exclusiveMin} (got ${value})`, `pass a positive value, e.g. --${name} ${s.default}`);
  if (s.max !== undefined && n > s.max) throw new ScriptError(`--${name} must be <= ${s.max} (got ${value})`, `pass a value of at most ${s.max}`);
  return n;
}

/** Options every script takes to find its run's folder (the worker also sets the env vars). */
const RUN_OPTIONS = {
  'dag-id': { type: 'string', env: 'SWARMFLOW_DAG_ID', default: 'manual' },
  'run-id': { type: 'string', env: 'SWARMFLOW_RUN_ID' },
};

/** A run id or DAG id as one safe path segment. */
function segment(what, value) {
  const safe = value.replace(/[^A-Za-z0-9_.:+-]/g, '_');
  if (safe === '' || safe === '.' || safe === '..') throw new ScriptError(`${what} ${JSON.stringify(value)} cannot name a folder`, `pass another ${what}`);
  return safe;
}

/** `$SWARMFLOW_EXAMPLES_DATA` (default `<tmpdir>/swarmflow-examples`). */
function dataRoot() {
  return process.env.SWARMFLOW_EXAMPLES_DATA || path.join(os.tmpdir(), 'swarmflow-examples');
}

/**
 * With an artefacts store (the worker sets SWARMFLOW_ARTIFACTS_URL for the try), files pass
 * between tasks through it: inputs are fetched from the upstream task's newest try, outputs
 * stored under this try's prefix, and each try works in a fresh folder of its own, so tasks
 * run on workers that share no folder. Without one, a run's tasks share a folder.
 */
const ARTIFACTS = Boolean(process.env.SWARMFLOW_ARTIFACTS_URL && process.env.SWARMFLOW_ARTIFACTS_RUN_URL);
const ARTIFACTS_JS = path.join(__dirname, 'artifacts.js');

/** Runs artifacts.js (async S3 calls) to its end; returns its exit code. */
function artifacts(...argv) {
  const res = require('node:child_process').spawnSync(process.execPath, [ARTIFACTS_JS, ...argv], { stdio: ['ignore', 'inherit', 'inherit'] });
  return res.status === null ? 1 : res.status;
}

/**
 * Set by a script that runs others as steps of one task (prepare_data.js: ingest.js, then
 * preprocess.js): with artefacts, the steps share that try's scratch folder, which the parent removes.
 */
const TRY_DIR_ENV = 'SWARMFLOW_EXAMPLES_TRY_DIR';

/** `<data root>/<dag id>/<run id>`: one folder per run, so concurrent runs never share files (with artefacts: a fresh folder per try). */
function runDir(args, { create = false } = {}) {
  if (ARTIFACTS) {
    if (process.env[TRY_DIR_ENV]) return process.env[TRY_DIR_ENV];
    // Everything worth keeping is in the store by the time the script exits.
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmflow-try-'));
    process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
    return scratch;
  }
  const dir = path.join(dataRoot(), segment('dag id', args['dag-id']), segment('run id', args['run-id']));
  if (create) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new ScriptError(`cannot create the run folder ${dir}: ${err.code ?? err.message}`, 'make SWARMFLOW_EXAMPLES_DATA (or the temp dir) a writable directory on the worker', EXIT_CHECK_FAILED);
    }
  }
  return dir;
}

/** Fails with a clear message when an input of this task is missing (an upstream task did not run here). */
function requireFile(file, producedBy) {
  if (ARTIFACTS && !fs.existsSync(file)) {
    if (artifacts('get', producedBy, path.basename(file), file) === 0) console.log(`[artifacts] read ${path.basename(file)} of task ${producedBy}`);
  }
  if (!fs.existsSync(file)) {
    throw new ScriptError(
      `input file ${file} does not exist`,
      `run the "${producedBy}" task of the same run first (same --dag-id and --run-id, same SWARMFLOW_EXAMPLES_DATA; on several workers this folder must be shared)`,
    );
  }
  return file;
}

function readJson(file, producedBy) {
  requireFile(file, producedBy);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScriptError(`${file} is not valid JSON: ${err.message}`, `re-run the "${producedBy}" task`);
  }
}

/** Writes through a temporary file and a rename, so a killed try never leaves a half-written file. */
function writeAtomic(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
  if (ARTIFACTS) {
    if (artifacts('put', file, path.basename(file)) !== 0) throw new ScriptError(`cannot store ${path.basename(file)} in ${process.env.SWARMFLOW_ARTIFACTS_URL}`, 'check the artefacts store (artifacts_s3_* variables) and its log line above', EXIT_CHECK_FAILED);
    console.log(`[artifacts] stored ${path.basename(file)} in ${process.env.SWARMFLOW_ARTIFACTS_URL}`);
  }
}

const writeJson = (file, value) => writeAtomic(file, JSON.stringify(value));

/** mulberry32: a small, fast, seeded PRNG (same seed = same sequence on every machine). */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    // Box-Muller; 1 - u keeps log() away from 0.
    const u = 1 - next();
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const shuffle = (arr) => {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
  };
  return { next, normal, shuffle };
}

/** A stable 32-bit seed from a string (FNV-1a), e.g. the dataset name. */
function seedOf(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

/** Predicted probability of label 1 for one standardised row. */
function predict(model, row) {
  let z = model.bias;
  for (let j = 0; j < row.length; j++) z += model.weights[j] * row[j];
  return sigmoid(z);
}

module.exports = {
  DATASETS, EXIT_CHECK_FAILED, EXIT_USAGE, ScriptError, runMain, parseArgs, RUN_OPTIONS, ARTIFACTS, TRY_DIR_ENV, dataRoot, runDir,
  requireFile, readJson, writeAtomic, writeJson, prng, seedOf, sigmoid, predict,
};

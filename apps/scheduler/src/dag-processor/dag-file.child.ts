// The DAG processor's child process: imports DAG files in isolation (a file that loops,
// crashes or pollutes globals cannot hurt the scheduler) and sends back validated DAGs.
// Started by DagProcessor with tsx's require hook, so TypeScript DAG files load as is.
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { DagValidationError, validateDag, type DagInput, type SerializedDag } from '@swarmflow/core';
import { describeImportError } from './import-error';

export type ChildRequest = { folder: string; files: string[] };
export type ChildReply =
  | { type: 'begin'; file: string }
  /** `deps`: the folder's other files the import loaded (paths relative to the folder). */
  | { type: 'result'; file: string; dags: SerializedDag[]; deps: string[] }
  | { type: 'error'; file: string; message: string; deps: string[] | null }
  | { type: 'done' };

// A DAG file that spins at import time never lets this thread notice that the scheduler is
// gone; a watchdog thread does: when the parent changes (it died, even by SIGKILL), this
// process kills its process group (it leads one), itself included, rather than spin on as an orphan.
// The parent is read here, not in the thread: the thread may start after the parent died.
// No --require (tsx) in it: it starts quicker.
new Worker(
  `const { workerData } = require('node:worker_threads');
   const check = () => { if (process.ppid !== workerData.parent) { try { process.kill(-process.pid, 'SIGKILL'); } catch {} process.kill(process.pid, 'SIGKILL'); } };
   check();
   setInterval(check, 200);`,
  { eval: true, execArgv: [], workerData: { parent: process.ppid } },
).unref();

// `import … from 'swarmflow'` in a DAG file resolves to this build's SDK, wherever the DAGs folder is.
const sdkEntry = path.resolve(__dirname, '../../../../libs/sdk/src/index' + path.extname(__filename));
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === 'swarmflow' ? sdkEntry : resolve.call(this, request, ...rest);
};

// Loaded before any request, so a child forked ahead of time (see DagProcessor.watch) starts importing at once.
require(sdkEntry);

function send(reply: ChildReply): Promise<void> {
  return new Promise((done) => process.send!(reply, () => done()));
}

/** The folder's files `abs` loaded, itself aside: its module's children, recursively (Node lists cached ones too). */
function localDeps(folder: string, abs: string): string[] {
  const seen = new Set<string>();
  const walk = (m: NodeJS.Module | undefined) => {
    for (const child of m?.children ?? []) {
      if (seen.has(child.filename)) continue;
      seen.add(child.filename);
      walk(child);
    }
  };
  walk(require.cache[abs]);
  return [...seen]
    .filter((f) => f !== abs && !f.includes(`${path.sep}node_modules${path.sep}`) && !path.relative(folder, f).startsWith('..'))
    .map((f) => path.relative(folder, f))
    .sort();
}

/** What a module exported, in a few words, for a file that exports no DAG. */
function describeExport(exported: unknown): string {
  const kind = (v: unknown): string => {
    if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}: call it and export what it returns`;
    if (v === null || typeof v !== 'object') return `${typeof v === 'number' ? 'a number' : typeof v === 'string' ? 'a string' : String(typeof v)} (${inspect(v, { breakLength: Infinity, maxStringLength: 40 })})`;
    if (Array.isArray(v)) return `an array of ${v.length} without a DAG`;
    return `an object without a DAG`;
  };
  if (exported === null || typeof exported !== 'object' || Array.isArray(exported)) return `module.exports is ${kind(exported)}`;
  const entries = Object.entries(exported as Record<string, unknown>).filter(([k]) => k !== '__esModule');
  if (entries.length === 0) return 'nothing (no export at all)';
  return entries.slice(0, 5).map(([k, v]) => `${k === 'default' ? 'the default export' : `export "${k}"`} is ${kind(v)}`).join('; ');
}

function load(folder: string, file: string): { dags: SerializedDag[]; deps: string[] } {
  const abs = path.join(folder, file);
  if (/\.ya?ml$/.test(file)) {
    // The YAML loader validates too: its errors carry the line and the YAML spelling of fields.
    const { loadYamlDags } = require(sdkEntry) as typeof import('@swarmflow/sdk');
    return { dags: loadYamlDags(readFileSync(abs, 'utf8'), file), deps: [] };
  }
  const { isDag } = require(sdkEntry) as typeof import('@swarmflow/sdk');
  const exported = require(abs) as unknown;
  const deps = localDeps(folder, abs);
  const found = new Map<string, DagInput>();
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isDag(v)) found.set(v.id, v.toInput());
  };
  if (isDag(exported) || Array.isArray(exported)) visit(exported);
  else if (exported !== null && typeof exported === 'object') Object.values(exported).forEach(visit);
  if (found.size === 0) {
    throw new NoDagError(`${file}: the file exports no DAG: ${describeExport(exported)}. ` +
      `Fix: export the DAG (export default dag({...}, () => {...})), or an array of DAGs; a helper module goes in a folder whose name starts with "_" (e.g. _shared/).`);
  }
  // Every DAG is validated; all invalid ones are reported, not only the first.
  const dags: SerializedDag[] = [];
  const invalid: string[] = [];
  for (const input of found.values()) {
    try {
      dags.push(validateDag(input, file));
    } catch (err) {
      if (!(err instanceof DagValidationError)) throw err;
      invalid.push(err.message);
    }
  }
  if (invalid.length === 1) throw new DagValidationErrors(invalid[0]);
  if (invalid.length > 1) throw new DagValidationErrors(`${invalid.length} DAGs of ${file} are invalid:\n${invalid.map((m) => `- ${m}`).join('\n')}`);
  return { dags, deps };
}

/** A file that loads but exports nothing the SDK built. */
class NoDagError extends Error {}
/** The validation errors of all a file's invalid DAGs, as one message. */
class DagValidationErrors extends Error {}

process.on('message', async (req: ChildRequest) => {
  for (const file of req.files) {
    await send({ type: 'begin', file });
    let loaded: { dags: SerializedDag[]; deps: string[] };
    try {
      loaded = load(req.folder, file);
    } catch (err) {
      const abs = path.join(req.folder, file);
      const deps = require.cache[abs] ? localDeps(req.folder, abs) : null;
      const message = err instanceof NoDagError || err instanceof DagValidationErrors ? err.message : describeImportError(req.folder, file, err);
      await send({ type: 'error', file, message, deps });
      continue;
    }
    await send({ type: 'result', file, ...loaded });
  }
  await send({ type: 'done' });
  process.exit(0);
});

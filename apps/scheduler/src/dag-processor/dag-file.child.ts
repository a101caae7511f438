// The DAG processor's child process: imports DAG files in isolation (a file that loops,
// crashes or pollutes globals cannot hurt the scheduler) and sends back validated DAGs.
// Started by DagProcessor with tsx's require hook, so TypeScript DAG files load as is.
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateDag, type DagInput, type SerializedDag } from '@swarmflow/core';
import { describeImportError } from './import-error';

export type ChildRequest = { folder: string; files: string[] };
export type ChildReply =
  | { type: 'begin'; file: string }
  | { type: 'result'; file: string; dags: SerializedDag[] }
  | { type: 'error'; file: string; message: string }
  | { type: 'done' };

// `import … from 'swarmflow'` in a DAG file resolves to this build's SDK, wherever the DAGs folder is.
const sdkEntry = path.resolve(__dirname, '../../../../libs/sdk/src/index' + path.extname(__filename));
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === 'swarmflow' ? sdkEntry : resolve.call(this, request, ...rest);
};

function send(reply: ChildReply): Promise<void> {
  return new Promise((done) => process.send!(reply, () => done()));
}

function load(folder: string, file: string): SerializedDag[] {
  const abs = path.join(folder, file);
  if (/\.ya?ml$/.test(file)) {
    // The YAML loader validates too: its errors carry the line and the YAML spelling of fields.
    const { loadYamlDags } = require(sdkEntry) as typeof import('@swarmflow/sdk');
    return loadYamlDags(readFileSync(abs, 'utf8'), file);
  }
  const { isDag } = require(sdkEntry) as typeof import('@swarmflow/sdk');
  const exported = require(abs) as Record<string, unknown>;
  const found = new Map<string, DagInput>();
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isDag(v)) found.set(v.id, v.toInput());
  };
  Object.values(exported).forEach(visit);
  return [...found.values()].map((input) => validateDag(input, file));
}

process.on('message', async (req: ChildRequest) => {
  for (const file of req.files) {
    await send({ type: 'begin', file });
    try {
      await send({ type: 'result', file, dags: load(req.folder, file) });
    } catch (err) {
      await send({ type: 'error', file, message: describeImportError(req.folder, file, err) });
    }
  }
  await send({ type: 'done' });
  process.exit(0);
});

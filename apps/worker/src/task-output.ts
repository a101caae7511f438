import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskMessage } from '@swarmflow/core';

/** The variable that names a process task's output file (and, in a container, /swarmflow/output.json). */
export const OUTPUT_VARIABLE = 'SWARMFLOW_OUTPUT';

/** Why a try's outputs cannot be taken: the try fails with this reason (not retried: it would write the same). */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/** Random bytes drawn at once for {@link OutputFiles}: 6 a name, so one draw names 682 tries. */
const RANDOM_POOL_BYTES = 4092;
const NAME_RANDOM_BYTES = 6;

/**
 * Names process tries' output files in one folder, each with a random part no other user
 * of the host can guess (the task creates the file if it has outputs; the name is not
 * created). A worker names one per try, so the folder is resolved once (`os.tmpdir()`
 * reads three variables, ~4 µs) and the random bytes come from a pool drawn 4 KiB at a
 * time (`randomBytes(6)` cost ~3 µs a try): a name costs well under a microsecond.
 */
export class OutputFiles {
  private pool = Buffer.alloc(0);
  private offset = 0;
  private readonly prefix: string;

  constructor(dir: string) {
    this.prefix = join(dir, 'swarmflow-output-');
  }

  /** A fresh output file path for one process try (not created: the task creates it if it has outputs). */
  pathFor(task: Pick<TaskMessage, 'tiId' | 'tryNumber'>): string {
    if (this.offset + NAME_RANDOM_BYTES > this.pool.length) {
      this.pool = randomBytes(RANDOM_POOL_BYTES);
      this.offset = 0;
    }
    const random = this.pool.toString('hex', this.offset, (this.offset += NAME_RANDOM_BYTES));
    return `${this.prefix}${task.tiId}-${task.tryNumber}-${random}.json`;
  }
}

function tooLarge(size: number, maxBytes: number): OutputError {
  return new OutputError(
    `the task's output file is ${size} bytes, over the cap of ${maxBytes} bytes. Fix: write a small JSON object to $${OUTPUT_VARIABLE} ` +
    `(put large data in files or an artefact store and output their location), or raise SWARMFLOW_MAX_OUTPUT_BYTES on the worker`,
  );
}

/**
 * The outputs in an output file's content: a JSON object. An empty file is no outputs.
 * @throws OutputError naming what is wrong and how to fix it
 */
export function parseOutputs(content: Buffer, maxBytes: number): Record<string, unknown> | undefined {
  if (content.length > maxBytes) throw tooLarge(content.length, maxBytes);
  const text = content.toString('utf8').trim();
  if (text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OutputError(`the task's output file is not JSON (${(err as Error).message}). Fix: write one JSON object, e.g. {"model_uri": "s3://…"}, to $${OUTPUT_VARIABLE}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OutputError(`the task's output file holds ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}, not a JSON object. Fix: write an object such as {"rows": 1000} to $${OUTPUT_VARIABLE}`);
  }
  return value as Record<string, unknown>;
}

/** Same as {@link parseOutputs}, for a size the container executor found over the cap. */
export function outputTooLarge(size: number, maxBytes: number): OutputError {
  return tooLarge(size, maxBytes);
}

/**
 * Reads and removes a process try's output file: its outputs, or undefined when the task
 * wrote none. Synchronous: most tries write none, and a test for the file costs ~1.5 µs
 * where an asynchronous one costs a thread-pool round trip. The test comes first because
 * a failed `openSync` throws, and that error (message, stack) cost ~18 µs a try, the
 * largest of the worker's per-task costs the output file added. Reads at most `maxBytes`
 * bytes (the cap is checked on the file's size first).
 * @throws OutputError
 */
export function takeOutputFile(path: string, maxBytes: number): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let fd: number;
  try {
    // The task chose what is at the path: never follow a symlink (it may point at what only the
    // worker may read), and never wait on a FIFO (a blocking open would stop the worker).
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    removeFile(path);
    if (code === 'ELOOP') throw notRegular(path);
    throw new OutputError(`cannot read the task's output file ${path}: ${(err as Error).message}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw notRegular(path);
    const { size } = stats;
    if (size > maxBytes) throw tooLarge(size, maxBytes);
    const buffer = Buffer.alloc(size);
    const read = size > 0 ? readSync(fd, buffer, 0, size, 0) : 0;
    return parseOutputs(buffer.subarray(0, read), maxBytes);
  } finally {
    closeSync(fd);
    removeFile(path);
  }
}

function notRegular(path: string): OutputError {
  return new OutputError(`the task's output file ${path} is not a regular file (a symlink, FIFO or folder). Fix: write the JSON object to $${OUTPUT_VARIABLE} itself`);
}

/**
 * Removes an output file; never throws. Most tries wrote none: the test first, as in
 * {@link takeOutputFile} (an `unlinkSync` that fails throws an error costing ~9 µs).
 */
export function discardOutputFile(path: string): void {
  // lstat, not existsSync: a dangling symlink the task left is removed too.
  if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return;
  removeFile(path);
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // absent, or already gone
  }
}

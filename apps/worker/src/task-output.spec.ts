import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { discardOutputFile, OutputError, OutputFiles, parseOutputs, takeOutputFile } from './task-output';

describe('task outputs', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'sf-output-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each try its own path, not created', () => {
    const files = new OutputFiles(dir);
    const a = files.pathFor({ tiId: 3, tryNumber: 1 });
    expect(a).toMatch(/swarmflow-output-3-1-[0-9a-f]{12}\.json$/);
    expect(a).not.toBe(files.pathFor({ tiId: 3, tryNumber: 1 }));
    expect(a).not.toBe(new OutputFiles(dir).pathFor({ tiId: 3, tryNumber: 1 }));
    expect(existsSync(a)).toBe(false);
  });

  it("one worker's names: a random part per try, past the end of one draw of random bytes", () => {
    const files = new OutputFiles(dir);
    const names = Array.from({ length: 2000 }, (_, i) => files.pathFor({ tiId: 7, tryNumber: 1 + (i % 2) }));
    for (const n of names) expect(n).toMatch(new RegExp(`^${dir}/swarmflow-output-7-[12]-[0-9a-f]{12}\\.json$`));
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(names.map((n) => n.slice(-17, -5))).size).toBe(names.length);
  });

  it('discarding removes a file or a dangling symlink the task left, and is a no-op without one', () => {
    const file = path.join(dir, 'out.json');
    writeFileSync(file, '{}');
    discardOutputFile(file);
    expect(existsSync(file)).toBe(false);
    const link = path.join(dir, 'link.json');
    symlinkSync(path.join(dir, 'nowhere'), link);
    discardOutputFile(link);
    expect(() => readlinkSync(link)).toThrow(/ENOENT/);
    expect(() => discardOutputFile(path.join(dir, 'none.json'))).not.toThrow();
  });

  it('no file, or an empty one: no outputs', () => {
    expect(takeOutputFile(path.join(dir, 'none.json'), 100)).toBeUndefined();
    const empty = path.join(dir, 'empty.json');
    writeFileSync(empty, '\n');
    expect(takeOutputFile(empty, 100)).toBeUndefined();
  });

  it('reads a JSON object and removes the file', () => {
    const file = path.join(dir, 'out.json');
    writeFileSync(file, '{"model_uri": "s3://m/1", "accuracy": 0.93}\n');
    expect(takeOutputFile(file, 100)).toEqual({ model_uri: 's3://m/1', accuracy: 0.93 });
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a file over the cap, naming the cap and the setting', () => {
    const file = path.join(dir, 'big.json');
    writeFileSync(file, `{"x": "${'a'.repeat(200)}"}`);
    expect(() => takeOutputFile(file, 100)).toThrow(new OutputError(
      'the task\'s output file is 209 bytes, over the cap of 100 bytes. Fix: write a small JSON object to $SWARMFLOW_OUTPUT ' +
      '(put large data in files or an artefact store and output their location), or raise SWARMFLOW_MAX_OUTPUT_BYTES on the worker',
    ));
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a symlink in place of the file (a task run as another user cannot have the worker read what it may not), and leaves its target", () => {
    const target = path.join(dir, 'worker-only.json');
    writeFileSync(target, '{"password": "worker-secret"}');
    const file = path.join(dir, 'out.json');
    symlinkSync(target, file);
    let error: unknown;
    try {
      takeOutputFile(file, 100);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OutputError);
    expect((error as Error).message).toMatch(/^the task's output file .* is not a regular file/);
    expect((error as Error).message).not.toContain('worker-secret');
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(target, 'utf8')).toContain('worker-secret');
  });

  it('refuses a FIFO in place of the file at once (opening it to read would block the worker)', () => {
    const file = path.join(dir, 'out.json');
    execFileSync('mkfifo', [file]);
    expect(() => takeOutputFile(file, 100)).toThrow(/is not a regular file/);
    expect(existsSync(file)).toBe(false);
  });

  it.each([
    ['not JSON', 'rows=3', /^the task's output file is not JSON \(.+\)\. Fix: write one JSON object/],
    ['an array', '[1]', /^the task's output file holds an array, not a JSON object\./],
    ['a number', '3', /^the task's output file holds 3, not a JSON object\./],
    ['null', 'null', /^the task's output file holds null, not a JSON object\./],
  ])('refuses %s', (_what, content, message) => {
    expect(() => parseOutputs(Buffer.from(content), 100)).toThrow(message);
  });
});

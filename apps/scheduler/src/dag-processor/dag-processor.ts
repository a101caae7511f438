import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dagHash, type SerializedDag } from '@swarmflow/core';
import type { DagRepository } from '@swarmflow/persistence';
import type { ChildReply, ChildRequest } from './dag-file.child';

export interface DagProcessorOptions {
  folder: string;
  /** Time one file may take to import before it is reported as an import error. */
  fileTimeoutMs: number;
}

export interface ParseResult {
  dags: { dag: SerializedDag; hash: string }[];
  errors: { fileloc: string; message: string }[];
}

const DAG_FILE = /\.(ts|js|cjs|ya?ml)$/;

/**
 * Finds DAG files: YAML files, and TypeScript/JavaScript files that mention `swarmflow`
 * (helper modules beside them are imported by DAG files, not parsed on their own).
 * Skips dot- and underscore-prefixed names and node_modules.
 */
export function findDagFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name.startsWith('_') || entry.name === 'node_modules') continue;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(abs);
      else if (DAG_FILE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        if (/\.ya?ml$/.test(entry.name) || readFileSync(abs, 'utf8').includes('swarmflow')) out.push(path.relative(folder, abs));
      }
    }
  };
  walk(folder);
  return out.sort();
}

/** Files a DAG file may import or read: code, JSON and YAML, in helper folders (`_shared/`) too. */
const SOURCE_FILE = /\.(ts|tsx|mts|cts|js|mjs|cjs|json|ya?ml)$/;

/**
 * What decides whether the folder must be parsed again: path, mtime and size of every
 * source file, helper modules included, so a change to a module the DAG files import
 * (which is no DAG file itself) shows up in the DAGs too. Skips dot-prefixed names and
 * node_modules.
 */
export function folderFingerprint(folder: string): string {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(abs);
      else if (SOURCE_FILE.test(entry.name)) {
        const s = statSync(abs, { throwIfNoEntry: false });
        if (s) out.push(`${path.relative(folder, abs)}:${s.mtimeMs}:${s.size}`);
      }
    }
  };
  walk(folder);
  return out.sort().join('|');
}

/**
 * Parses the DAGs folder in a child process with a time limit per file and records the
 * result: a content-hashed version per DAG, an import error per broken file. A broken
 * file never stops the others; its DAGs keep their last good version.
 */
export class DagProcessor {
  private fingerprint = '';

  constructor(private readonly options: DagProcessorOptions, private readonly dags: DagRepository) {}

  /**
   * Parses and records when a source file (a DAG file or a module beside it) changed since
   * the last run, or with `force`; returns null when skipped.
   */
  async run(now: Date, force = false): Promise<ParseResult | null> {
    const fingerprint = folderFingerprint(this.options.folder);
    if (!force && fingerprint === this.fingerprint) return null;
    const owners = new Map((await this.dags.list()).map((d) => [d.dagId, d.fileloc]));
    const result = await this.parse(findDagFiles(this.options.folder), owners);
    await this.dags.recordParse(result.dags, result.errors, now);
    this.fingerprint = fingerprint;
    return result;
  }

  /**
   * Imports `files` and validates their DAGs. Two files defining one DAG id: the file that
   * defined it so far (`owners`: DAG id → file) keeps it, else the first by name; the other
   * file is an import error, so a stray copy never takes over a running DAG.
   */
  async parse(files: string[], owners: ReadonlyMap<string, string> = new Map()): Promise<ParseResult> {
    const result: ParseResult = { dags: [], errors: [] };
    const loaded: { file: string; dags: SerializedDag[] }[] = [];
    let remaining = files;
    while (remaining.length > 0) {
      const { replies, unfinished } = await this.parseInChild(remaining);
      for (const reply of replies) {
        if (reply.type === 'error') result.errors.push({ fileloc: reply.file, message: reply.message });
        if (reply.type === 'result') loaded.push({ file: reply.file, dags: reply.dags });
      }
      remaining = unfinished;
    }
    loaded.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const definers = new Map<string, string[]>();
    for (const { file, dags } of loaded) for (const dag of dags) definers.set(dag.id, [...(definers.get(dag.id) ?? []), file]);
    const keeper = (id: string): string => {
      const files = definers.get(id)!;
      const owner = owners.get(id);
      return owner !== undefined && files.includes(owner) ? owner : files[0];
    };
    for (const { file, dags } of loaded) {
      const clash = dags.find((d) => keeper(d.id) !== file);
      if (clash) {
        result.errors.push({
          fileloc: file,
          message: `${file}: DAG "${clash.id}" is already defined in ${keeper(clash.id)}. Fix: give one of them another id.`,
        });
        continue;
      }
      for (const dag of dags) result.dags.push({ dag, hash: dagHash(dag) });
    }
    return result;
  }

  /** Runs one child over `files`; if a file hangs or kills the child, reports it and returns the files after it. */
  private parseInChild(files: string[]): Promise<{ replies: ChildReply[]; unfinished: string[] }> {
    const ext = path.extname(__filename);
    const child: ChildProcess = fork(path.join(__dirname, `dag-file.child${ext}`), [], {
      execArgv: ['--require', require.resolve('tsx/cjs')],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // From source (tests), tsx maps the @swarmflow/* aliases with the repository's tsconfig;
      // the compiled build has them rewritten already.
      env: ext === '.ts' ? { ...process.env, TSX_TSCONFIG_PATH: path.resolve(__dirname, '../../../../tsconfig.json') } : process.env,
    });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const replies: ChildReply[] = [];
    let current: string | null = null;
    let finished = false;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (failure: string | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        const done = new Set(replies.filter((r) => r.type === 'result' || r.type === 'error').map((r) => (r as { file: string }).file));
        // The file being imported when the child hung or died gets the blame; if the child died
        // before its first file, every file does (otherwise the caller would retry forever).
        const blamed = failure ? (current ? [current] : files) : [];
        for (const file of blamed.filter((f) => !done.has(f))) {
          replies.push({ type: 'error', file, message: `${file}: ${failure}` });
          done.add(file);
        }
        resolve({ replies, unfinished: failure ? files.filter((f) => !done.has(f)) : [] });
      };
      child.on('message', (reply: ChildReply) => {
        replies.push(reply);
        if (reply.type === 'begin') {
          current = reply.file;
          clearTimeout(timer);
          timer = setTimeout(
            () => settle(`import timed out after ${this.options.fileTimeoutMs / 1000}s (a loop or a blocking call at import time?)`),
            this.options.fileTimeoutMs,
          );
        } else if (reply.type === 'done') settle(null);
      });
      child.on('exit', (code, signal) => {
        const tail = stderr.trim().split('\n').slice(-5).join('\n  ');
        settle(`the DAG processor exited while importing this file (code ${code ?? signal})${tail ? `:\n  ${tail}` : ''}`);
      });
      child.send({ folder: path.resolve(this.options.folder), files } satisfies ChildRequest);
    });
  }
}

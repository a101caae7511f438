import { writeFileSync } from 'node:fs';
import type { TaskMessage } from '@swarmflow/core';
import { SwarmflowClient } from './api-client';
import { readIfExists, resolveApiUrl, resolveToken } from './config';

/** A terminal-like output stream: cli-progress writes escape codes to it and reads its width. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Everything the CLI touches outside itself, so that tests can run commands in-process. */
export interface CliDeps {
  /** Raw writes to stdout / stderr. */
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Waits between polls (--wait, --follow). */
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** Default the global fetch. */
  fetch?: typeof fetch;
  /** Reads a file (the standalone file, `variables import`); null when absent. Default: the file system. */
  readFile?(path: string): string | null;
  /** Writes a file (`variables export <file>`). Default: the file system. */
  writeFile?(path: string, text: string): void;
  /** Reads stdin to its end (`variables set <key> -`). Default: the process's stdin. */
  readStdin?(): Promise<string>;
  /**
   * Where a progress bar draws (`dags backfill`): a bar with counts and ETA when the stream's
   * `isTTY` is true, plain progress lines (through stdout/stderr above) otherwise. Default: process.stderr.
   */
  progressStream?: ProgressStream;
  /** Calls `handler` on Ctrl-C (SIGINT) until the returned function is called. Default: a process SIGINT listener. */
  onInterrupt?(handler: () => void): () => void;
  /** Runs one task in the foreground (`tasks test`). Default: the worker's runTaskLocally. */
  runTask?(message: TaskMessage, out: (line: string) => void): Promise<{ exitCode: number | null; outcome: 'success' | 'failed' | 'skipped' }>;
}

/** What a command's action gets. */
export class CommandContext {
  /** The code the process exits with once the command returns. */
  exitCode = 0;
  private cachedClient: SwarmflowClient | null = null;

  constructor(readonly deps: CliDeps) {}

  /** Prints one line (or several joined by \n) to stdout. */
  print(text: string): void {
    this.deps.stdout(`${text}\n`);
  }

  /** Prints one line to stderr: progress and notes that must not mix with JSON on stdout. */
  printErr(text: string): void {
    this.deps.stderr(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  /** Reads a file; null when it does not exist. */
  readFile(path: string): string | null {
    return (this.deps.readFile ?? readIfExists)(path);
  }

  writeFile(path: string, text: string): void {
    (this.deps.writeFile ?? ((p: string, t: string) => writeFileSync(p, t)))(path, text);
  }

  readStdin(): Promise<string> {
    return (this.deps.readStdin ?? readProcessStdin)();
  }

  /** The API client, created on first use (so `--help` never reads any config). */
  client(): SwarmflowClient {
    if (!this.cachedClient) {
      const url = resolveApiUrl(this.deps.env, this.deps.readFile);
      const token = resolveToken(this.deps.env, url, this.deps.readFile ?? readIfExists);
      this.cachedClient = new SwarmflowClient(url, { fetch: this.deps.fetch, token: token?.token ?? null });
    }
    return this.cachedClient;
  }
}

export function defaultDeps(): CliDeps {
  // A reader that stops early (`swarmflow runs show … | head`) closes the pipe: the output is
  // no longer wanted, which is no error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
  };
}

async function readProcessStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('type the value, then press Enter and Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

import type { TaskMessage } from '@swarmflow/core';
import { SwarmflowClient } from './api-client';
import { resolveApiUrl } from './config';

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
  /** Reads the standalone file; null when absent. Default: the file system. */
  readFile?(path: string): string | null;
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

  printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  /** The API client, created on first use (so `--help` never reads any config). */
  client(): SwarmflowClient {
    this.cachedClient ??= new SwarmflowClient(resolveApiUrl(this.deps.env, this.deps.readFile), { fetch: this.deps.fetch });
    return this.cachedClient;
  }
}

export function defaultDeps(): CliDeps {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
  };
}

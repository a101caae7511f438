import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const CLI = path.join(REPO, 'bin', 'swarmflow.js');

/** A `swarmflow` process started by a test, with its output kept for failure messages. */
export class SwarmflowProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  /** `cwd`: its working folder (default the repository). */
  constructor(readonly name: string, args: string[], env: NodeJS.ProcessEnv, { cwd = REPO }: { cwd?: string } = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Resolves when the output contains `text`; rejects after `timeoutMs` or if the process exits first. */
  waitForOutput(text: string | RegExp, timeoutMs = 20_000): Promise<void> {
    const found = () => (typeof text === 'string' ? this.output.includes(text) : text.test(this.output));
    return new Promise((resolve, reject) => {
      if (found()) return resolve();
      const timer = setTimeout(() => finish(new Error(`${this.name}: no "${text}" after ${timeoutMs} ms. Output:\n${this.output}`)), timeoutMs);
      const onData = () => found() && finish();
      const onExit = (code: number | null) => finish(new Error(`${this.name} exited (${code}) before "${text}". Output:\n${this.output}`));
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.child.stdout!.off('data', onData);
        this.child.stderr!.off('data', onData);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', onData);
      this.child.once('exit', onExit);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Runs the CLI to completion; `stdin`, when given, is what it reads on its standard input. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, ...env } });
    if (stdin !== undefined) child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`swarmflow ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` every `everyMs` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

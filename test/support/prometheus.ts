import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually, freePort } from './processes';

// Debian's `prometheus` package: `promtool` lints an exposition, the server scrapes.
// Missing, the tests that need them are skipped with a message, except under CI=true
// where they fail (CI installs the package).

/** The path of a binary of the prometheus package, or null when it is not installed. */
export function prometheusBinary(name: 'promtool' | 'prometheus'): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/bin')) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** `it` that needs a binary of the prometheus package (see the top of this file). */
export function itWithPrometheus(binary: 'promtool' | 'prometheus', name: string, fn: () => Promise<void>, timeoutMs?: number): void {
  if (prometheusBinary(binary)) return it(name, fn, timeoutMs);
  if (process.env.CI === 'true') {
    return it(name, () => {
      throw new Error(`${binary} is required under CI=true but is not installed. Fix: apt-get install prometheus`);
    });
  }
  console.warn(`skipping "${name}": ${binary} is not installed (apt-get install prometheus)`);
  it.skip(name, fn);
}

/** Runs `promtool check metrics` on an exposition; resolves to its output, rejects naming the problems. */
export function promtoolCheck(exposition: string, what: string): string {
  const result = spawnSync(prometheusBinary('promtool')!, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`promtool check metrics failed on ${what} (exit ${result.status}):\n${output}`);
  return output;
}

export interface RunningPrometheus {
  url: string;
  /** An instant query; the result vector. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/** Starts a Prometheus that scrapes `target` (host:port, path /metrics) every second, with its data in a temporary folder. */
export async function startPrometheus(target: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(config, [
    'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: swarmflow',
    `    static_configs: [{ targets: ['${target}'] }]`,
  ].join('\n') + '\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(prometheusBinary('prometheus')!, [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-10_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${output}`);
      const res = await fetch(`${url}/-/ready`).catch(() => null);
      return res?.ok ? true : undefined;
    }, 30_000, `Prometheus to be ready at ${url}`, 200);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; data?: { result: [] }; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus query ${promql} failed: ${body.error}`);
      return body.data!.result;
    },
    stop,
  };
}

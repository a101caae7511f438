/**
 * Runs every benchmark in bench/ (`*.bench.ts`), one process each and one after
 * another, with the caller's environment (BENCH_*). Exits non-zero when any fails.
 * `npm run bench` → `tsx bench/run.ts`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const only = process.argv.slice(2);
const benches = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
if (benches.length === 0) {
  process.stderr.write(`no benchmark matches ${only.join(', ')}; available: ${readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts')).join(', ')}\n`);
  process.exit(2);
}

let failed = 0;
for (const file of benches) {
  console.log(`\n=== bench/${file}`);
  const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', path.join('bench', file)], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`bench/${file} failed (${result.signal ?? `exit ${result.status}`})\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);

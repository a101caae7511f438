import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from '../../scheduler/src/test-support/use-stack';
import { useCliOnStack } from './test-support/cli-on-stack';

// Each task appends a line to its counter file when its process starts: a cached task adds none.
const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-cli-cache-'));
const count = (task: string): number => {
  try {
    return readFileSync(path.join(dir, `${task}.count`), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

const DAGS = {
  'cli_cache.yaml': `
id: cli_cache
defaults: { cache: true }
tasks:
  prep: { shell: "echo run >> ${dir}/prep.count" }
  train: { shell: "echo run >> ${dir}/train.count", upstream: [prep] }
`,
  'cli_cache_ttl.yaml': `
id: cli_cache_ttl
tasks:
  fit: { shell: "echo run >> ${dir}/fit.count", cache: true, cache_ttl: 2s }
`,
};

// The real commands against a webserver over the database a scheduler and a worker run on.
describeWithPostgres('swarmflow cache list / invalidate and dags trigger --force / --force-task (webserver, scheduler, worker)', () => {
  const stack = useStack({ dagFiles: DAGS });
  const cli = useCliOnStack(stack, 'admin', 'ada');

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let day = 0;
  /** `swarmflow dags trigger <dag> [flags]`, then the states its run ended with. */
  async function trigger(dagId: string, flags: string[] = []): Promise<Record<string, string>> {
    const runId = `cli_${++day}`;
    const res = await cli(['dags', 'trigger', dagId, '--run-id', runId, '--logical-date', new Date(Date.UTC(2025, 0, day)).toISOString(), ...flags]);
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(new RegExp(`^triggered ${dagId} run ${runId} `));
    const run = (await stack().repos.runs.get(dagId, runId))!;
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    return Object.fromEntries([...tis].map(([id, t]) => [id, t.state]).sort());
  }
  const keysOf = async (args: string[]): Promise<Array<{ key: string; taskId: string; runId: string }>> => {
    const res = await cli(['cache', 'list', '--json', ...args]);
    expect(res.code).toBe(0);
    return JSON.parse(res.out);
  };

  it('a first run fills the cache: cache list prints its entries', async () => {
    expect(await trigger('cli_cache')).toEqual({ prep: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([1, 1]);
    const listed = await cli(['cache', 'list', '--dag', 'cli_cache']);
    expect(listed.code).toBe(0);
    const entries = await keysOf(['--dag', 'cli_cache']);
    expect(entries.map((e) => [e.taskId, e.runId]).sort()).toEqual([['prep', 'cli_1'], ['train', 'cli_1']]);
    const lines = listed.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+DAG\s+RUN\s+TASK\s+TRY\s+CREATED\s+OUTPUTS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 5)).sort()).toEqual([
      [entries.find((e) => e.taskId === 'prep')!.key.slice(0, 12), 'cli_cache', 'cli_1', 'prep', '1'],
      [entries.find((e) => e.taskId === 'train')!.key.slice(0, 12), 'cli_cache', 'cli_1', 'train', '1'],
    ].sort());
    expect((await cli(['cache', 'list', '--task', 'prep'])).out.trimEnd().split('\n')).toHaveLength(2);
  });

  it('a second trigger without flags: every task is cached, no process starts', async () => {
    expect(await trigger('cli_cache')).toEqual({ prep: 'cached', train: 'cached' });
    expect([count('prep'), count('train')]).toEqual([1, 1]);
  });

  it("--force-task '^train$' runs only train", async () => {
    expect(await trigger('cli_cache', ['--force-task', '^train$'])).toEqual({ prep: 'cached', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([1, 2]);
  });

  it('--force runs every task', async () => {
    expect(await trigger('cli_cache', ['--force'])).toEqual({ prep: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([2, 3]);
  });

  it('cache invalidate --key: the entries with that key end, and the next run runs that task', async () => {
    const [prep] = await keysOf(['--dag', 'cli_cache', '--task', 'prep']);
    const before = (await keysOf(['--key', prep.key])).length;
    expect(before).toBeGreaterThan(0);
    const res = await cli(['cache', 'invalidate', '--key', prep.key]);
    expect(res).toEqual({ code: 0, err: '', out: `invalidated ${before} cache entr${before === 1 ? 'y' : 'ies'}\n` });
    expect((await cli(['cache', 'list', '--key', prep.key])).out).toBe('No cache entries.\n');
    expect((await keysOf(['--task', 'train'])).length).toBeGreaterThan(0);
    // prep runs again; its key unchanged, train's is too: train stays cached.
    expect(await trigger('cli_cache')).toEqual({ prep: 'success', train: 'cached' });
    expect([count('prep'), count('train')]).toEqual([3, 3]);
  });

  it('cache invalidate with nothing named is refused', async () => {
    const res = await cli(['cache', 'invalidate']);
    expect(res.code).not.toBe(0);
    expect(res.err).toContain('name what to invalidate');
  });

  it('cache_ttl: an entry is taken while fresh; once older than its TTL, the task runs again', async () => {
    expect(await trigger('cli_cache_ttl')).toEqual({ fit: 'success' });
    expect(count('fit')).toBe(1);
    // Right away: well within the 2 s TTL (the run above ended moments ago).
    expect(await trigger('cli_cache_ttl')).toEqual({ fit: 'cached' });
    expect(count('fit')).toBe(1);
    // The TTL is time itself: wait until the entry is older than it.
    const [entry] = await cli(['cache', 'list', '--json', '--dag', 'cli_cache_ttl']).then((r) => JSON.parse(r.out) as Array<{ createdAt: string }>);
    await waitUntil('the cache entry of fit to be older than its 2 s TTL', () => Date.now() - Date.parse(entry.createdAt) > 2_100, { timeoutMs: 6_000, intervalMs: 50 });
    expect(await trigger('cli_cache_ttl')).toEqual({ fit: 'success' });
    expect(count('fit')).toBe(2);
  });
});

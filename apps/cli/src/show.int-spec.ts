import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeWithDocker, TEST_IMAGE, TEST_LABEL } from '@swarmflow/executors/test-support/docker';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from '../../scheduler/src/test-support/use-stack';
import { useCliOnStack } from './test-support/cli-on-stack';

// `runs show` and `tasks show` through the real CLI, against a webserver over the database a
// scheduler and a worker run on: a try's outputs, the try a cached task came from, and (a
// container try) the image digest it ran; `tasks clear [--latest-images]` of a container task.

// Each task appends a line to its counter file when its process starts: a cached task adds none.
// (Outputs are stored as jsonb, which orders an object's keys shorter first: prep writes them so.)
const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-cli-show-'));
const count = (task: string): number => {
  try {
    return readFileSync(path.join(dir, `${task}.count`), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

const docker = (args: string[], input?: string): string => execFileSync('/usr/bin/docker', args, { encoding: 'utf8', input }).trim();
const tag = `swarmflow/cli-show:${randomBytes(4).toString('hex')}`;
const v2tag = `${tag}-v2`;

const DAGS = {
  'show_cache.yaml': `
id: show_cache
defaults: { cache: true }
tasks:
  prep:
    shell: |
      echo run >> ${dir}/prep.count
      printf '{"uri": "s3://data/rows", "rows": 3}' > "$SWARMFLOW_OUTPUT"
  train:
    upstream: [prep]
    shell: |
      echo run >> ${dir}/train.count
      printf '{"model": "m-{{ outputs.prep.rows }}"}' > "$SWARMFLOW_OUTPUT"
`,
  // A container try writes its outputs to /swarmflow/output.json; the marker tells which image ran.
  'show_image.yaml': `
id: show_image
tasks:
  fit:
    docker:
      image: ${tag}
      command: |
        m=$(cat /etc/marker 2>/dev/null || echo base)
        echo "{\\"marker\\": \\"$m\\"}" > /swarmflow/output.json
`,
  // Reads the outputs of a task that is not upstream of it: refused when the file is parsed.
  'show_bad.yaml': `
id: show_bad
tasks:
  prep: { shell: "true" }
  train: { shell: "echo {{ outputs.prep.rows }}" }
`,
};

describeWithPostgres('runs show / tasks show: outputs, cached-from and image digests through the CLI (webserver, scheduler, worker)', () => {
  const stack = useStack({ dagFiles: DAGS });
  const cli = useCliOnStack(stack, 'operator', 'olga');

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** The command's output; fails on a non-zero exit or anything on stderr. */
  async function ok(args: string[]): Promise<string> {
    const res = await cli(args);
    expect({ args, code: res.code, err: res.err }).toEqual({ args, code: 0, err: '' });
    return res.out;
  }

  let day = 0;
  /** `swarmflow dags trigger <dag> --run-id <id>`, then waits for the run to end. */
  async function trigger(dagId: string, runId: string): Promise<Record<string, string>> {
    const out = await ok(['dags', 'trigger', dagId, '--run-id', runId, '--logical-date', new Date(Date.UTC(2025, 5, ++day)).toISOString()]);
    expect(out).toMatch(new RegExp(`^triggered ${dagId} run ${runId} `));
    const { state, tis } = await stack().waitForRun((await stack().repos.runs.get(dagId, runId))!, 60_000);
    expect(state).toBe('success');
    return Object.fromEntries([...tis].map(([id, t]) => [id, t.state]).sort());
  }
  const cacheKeyOf = async (dagId: string, runId: string, taskId: string): Promise<string> => {
    const [entry] = JSON.parse(await ok(['cache', 'list', '--json', '--dag', dagId, '--task', taskId])) as Array<{ key: string; runId: string }>;
    expect(entry.runId).toBe(runId);
    return entry.key;
  };

  it('a first run: runs show prints each task\'s outputs; tasks show its outputs and its try (exit code, worker, cache key)', async () => {
    expect(await trigger('show_cache', 'first')).toEqual({ prep: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([1, 1]);

    const run = (await ok(['runs', 'show', 'show_cache', 'first'])).trimEnd().split('\n');
    expect(run[0]).toMatch(/^show_cache run first: success \(manual, logical date 2025-06-01 00:00:00, started \S+ \S+, ended \S+ \S+\)$/);
    expect(run[1]).toMatch(/^TASK\s+STATE\s+TRY\s+WORKER\s+EXIT/);
    expect(run.slice(-3)).toEqual(['outputs:', '  prep: {"uri":"s3://data/rows","rows":3}', '  train: {"model":"m-3"}']);
    expect(run.join('\n')).not.toContain('cached from');

    const worker = stack().workers[0].name;
    const key = await cacheKeyOf('show_cache', 'first', 'train');
    const task = (await ok(['tasks', 'show', 'show_cache', 'first', 'train'])).trimEnd().split('\n');
    expect(task[0]).toMatch(new RegExp(`^show_cache run first task train: success \\(try 1/1 on ${worker}, started \\S+ \\S+, ended \\S+ \\S+\\)$`));
    expect(task).toHaveLength(3);
    expect(task[1]).toBe('outputs: {"model":"m-3"}');
    // The host too, though a try this short sends no task.started (its end carries the host).
    expect(task[2]).toBe(`try 1: succeeded, exit code 0, on ${worker} (localhost), cache key ${key}`);
  });

  it('the same run again: runs show and tasks show say which try each cached task came from, with its outputs', async () => {
    expect(await trigger('show_cache', 'second')).toEqual({ prep: 'cached', train: 'cached' });
    expect([count('prep'), count('train')]).toEqual([1, 1]);

    const run = (await ok(['runs', 'show', 'show_cache', 'second'])).trimEnd().split('\n');
    expect(run.find((l) => l.startsWith('prep '))).toMatch(/^prep\s+cached\s+0\/1\s+-\s+-\s+-\s+\S+ \S+\s+cached: took the outputs of show_cache\.prep try 1 in run first/);
    expect(run.slice(-5)).toEqual([
      'prep: cached from show_cache run first (prep try 1)',
      'train: cached from show_cache run first (train try 1)',
      'outputs:', '  prep: {"uri":"s3://data/rows","rows":3}', '  train: {"model":"m-3"}',
    ]);

    const key = await cacheKeyOf('show_cache', 'first', 'train');
    const task = (await ok(['tasks', 'show', 'show_cache', 'second', 'train'])).trimEnd().split('\n');
    expect(task[0]).toMatch(/^show_cache run second task train: cached \(try 0\/1, started -, ended \S+ \S+\)$/);
    expect(task.slice(1)).toEqual([
      `reason: cached: took the outputs of show_cache.train try 1 in run first (cache key ${key.slice(0, 12)})`,
      'cached from: show_cache run first task train try 1',
      'outputs: {"model":"m-3"}',
      `no try ran: cached, cache key ${key}`,
    ]);
  });

  it('dags errors names a template that reads the outputs of a task not upstream of it', async () => {
    const out = await ok(['dags', 'errors']);
    expect(out).toContain('show_bad.yaml');
    expect(out).toContain('reads outputs.prep, but "prep" is not upstream of "train" (it has no upstream task): its outputs may not exist when "train" runs');
    expect(out).toContain('upstream: [prep] in YAML');
    expect((await cli(['dags', 'show', 'show_bad'])).code).not.toBe(0);
  });

  describeWithDocker('container tries', () => {
    let v1: string;
    let v2: string;

    beforeAll(() => {
      docker(['tag', TEST_IMAGE, tag]);
      v1 = docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
      docker(['build', '-q', '-t', v2tag, '-'], `FROM ${TEST_IMAGE}\nRUN echo v2 > /etc/marker\nLABEL ${TEST_LABEL}=cli-show\n`);
      v2 = docker(['image', 'inspect', '--format', '{{.Id}}', v2tag]);
      expect(v2).not.toBe(v1);
    }, 120_000);

    afterAll(() => {
      for (const t of [tag, v2tag]) {
        try {
          docker(['rmi', t]);
        } catch {
          // already gone
        }
      }
    });

    const waitForRun = async (runId: string) => {
      const { state } = await stack().waitForRun((await stack().repos.runs.get('show_image', runId))!, 60_000);
      expect(state).toBe('success');
    };
    const tryLines = async (runId: string) => (await ok(['tasks', 'show', 'show_image', runId, 'fit'])).trimEnd().split('\n').filter((l) => l.startsWith('try '));

    it('runs show prints the version set and tasks show the digest each try ran; tasks clear reuses it unless --latest-images', async () => {
      expect(await trigger('show_image', 'img')).toEqual({ fit: 'success' });
      const worker = stack().workers[0].name;
      const run = (await ok(['runs', 'show', 'show_image', 'img'])).trimEnd().split('\n');
      expect(run.slice(-4)).toEqual(['outputs:', '  fit: {"marker":"base"}', 'images (version set):', `  ${tag} -> ${v1}`]);
      const [first] = await tryLines('img');
      expect(first).toMatch(new RegExp(`^try 1: succeeded, exit code 0, on ${worker} \\(localhost\\), image ${tag.replace(/[.:/]/g, '\\$&')} -> ${v1}, container [0-9a-f]{12}$`));

      // The tag moves to other content: a cleared try runs the digest the run recorded.
      docker(['tag', v2tag, tag]);
      expect(await ok(['tasks', 'clear', 'show_image', 'img', 'fit'])).toBe('cleared fit in run img; the scheduler runs it again\n');
      await waitForRun('img');
      const again = await tryLines('img');
      expect(again).toHaveLength(2);
      expect(again[0]).toMatch(new RegExp(`^try 2: succeeded, exit code 0, on ${worker} \\(localhost\\), image \\S+ -> ${v1}, container [0-9a-f]{12}$`));
      expect((await ok(['runs', 'show', 'show_image', 'img'])).trimEnd().split('\n').slice(-3)).toEqual(['  fit: {"marker":"base"}', 'images (version set):', `  ${tag} -> ${v1}`]);

      // --latest-images: the tag's image now.
      expect(await ok(['tasks', 'clear', 'show_image', 'img', 'fit', '--latest-images'])).toBe('cleared fit in run img; the scheduler runs it again\n');
      await waitForRun('img');
      const latest = await tryLines('img');
      expect(latest.map((l) => l.replace(/ container [0-9a-f]{12}$/, ' container C'))).toEqual([
        `try 3: succeeded, exit code 0, on ${worker} (localhost), image ${tag} -> ${v2}, container C`,
        `try 2: succeeded, exit code 0, on ${worker} (localhost), image ${tag} -> ${v1}, container C`,
        `try 1: succeeded, exit code 0, on ${worker} (localhost), image ${tag} -> ${v1}, container C`,
      ]);
      expect((await ok(['runs', 'show', 'show_image', 'img'])).trimEnd().split('\n').slice(-3)).toEqual(['  fit: {"marker":"v2"}', 'images (version set):', `  ${tag} -> ${v2}`]);
    }, 180_000);
  });
});

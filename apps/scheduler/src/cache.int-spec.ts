import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AmqpBroker, EVENTS_QUEUE, LOGS_QUEUE, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { quietLogger } from './test-support/stack';
import { ClearService } from '../../webserver/src/services/clear.service';
import { useStack } from './test-support/use-stack';

// Each task appends a line to its counter file when its process starts: a cached task adds none.
const counters = mkdtempSync(path.join(tmpdir(), 'swarmflow-cache-'));
const count = (task: string): number => {
  try {
    return readFileSync(path.join(counters, `${task}.count`), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

const DAGS = `
import { dag, shell } from 'swarmflow';
const dir = ${JSON.stringify(counters)};
const params = { n: { type: 'integer', default: 10 }, lr: { type: 'number', default: 0.1 } } as const;
const prep = () => shell('prep', \`echo run >> \${dir}/prep.count; printf '{"rows": %s}' {{ params.n }} > "$SWARMFLOW_OUTPUT"\`, { cache: true });
export const a = dag({ id: 'cache_a', params, defaults: { cache: true }, cacheNamespace: 'shared' }, () => {
  prep()
    .then(shell('train', \`echo run >> \${dir}/train.count; printf '{"model": "m-%s-%s"}' {{ outputs.prep.rows }} {{ params.lr }} > "$SWARMFLOW_OUTPUT"\`))
    .then(shell('report', \`echo run >> \${dir}/report.count; echo {{ outputs.train.model }} > \${dir}/report.out\`, { cache: false }));
});
// Another DAG of the same namespace with the same first task: it shares prep's cached try.
export const b = dag({ id: 'cache_b', params, cacheNamespace: 'shared' }, () => {
  prep().then(shell('other', \`echo run >> \${dir}/other.count; echo {{ outputs.prep.rows }} > \${dir}/other.out\`));
});
export const big = dag({ id: 'big_output' }, () => {
  shell('big', 'head -c 70000 /dev/zero > "$SWARMFLOW_OUTPUT"');
  shell('bad', 'echo "[1, 2]" > "$SWARMFLOW_OUTPUT"');
});
`;

describeWithPostgres('task outputs and the cache (real PostgreSQL)', () => {
  const stack = useStack({ dagFiles: { 'cache.ts': DAGS } });
  afterAll(() => rmSync(counters, { recursive: true, force: true }));

  const outputsOf = async (runPk: number): Promise<Record<string, unknown>> => {
    const rows = await stack().repos.results.latestForRuns([runPk]);
    return Object.fromEntries(rows.map((r) => [r.taskId, r.outputs]));
  };
  const states = (tis: Map<string, { state: string }>): Record<string, string> =>
    Object.fromEntries([...tis].map(([id, t]) => [id, t.state]).sort());

  let first: { pk: number; runId: string };

  it('stores outputs with the try and passes them to downstream templates', async () => {
    const run = await stack().trigger('cache_a');
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ prep: 'success', report: 'success', train: 'success' });
    expect(await outputsOf(run.pk)).toEqual({ prep: { rows: 10 }, train: { model: 'm-10-0.1' } });
    expect(readFileSync(path.join(counters, 'report.out'), 'utf8').trim()).toBe('m-10-0.1');
    expect([count('prep'), count('train'), count('report')]).toEqual([1, 1, 1]);
    first = run;
  });

  it('the same conf again: every cacheable task is cached, no process started, outputs equal', async () => {
    const run = await stack().trigger('cache_a');
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ prep: 'cached', report: 'success', train: 'cached' });
    expect([count('prep'), count('train'), count('report')]).toEqual([1, 1, 2]);
    expect(await outputsOf(run.pk)).toEqual(await outputsOf(first.pk));
    expect(tis.get('train')!.reason).toMatch(new RegExp(`^cached: took the outputs of cache_a\\.train try 1 in run ${first.runId}`));
    const [cached] = await stack().repos.results.forTaskInstance(tis.get('prep')!.id);
    expect(cached).toMatchObject({ cachedFromTry: 1, succeeded: true });
  });

  it('another DAG of the namespace takes the shared first task from the cache', async () => {
    const run = await stack().trigger('cache_b');
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ other: 'success', prep: 'cached' });
    expect(count('prep')).toBe(1);
    expect(readFileSync(path.join(counters, 'other.out'), 'utf8').trim()).toBe('10');
  });

  it('--force runs every task', async () => {
    const run = await stack().trigger('cache_a', {}, undefined, { cacheForce: '.*' });
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ prep: 'success', report: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([2, 2]);
  });

  it('--force-task runs the matching tasks only', async () => {
    const run = await stack().trigger('cache_a', {}, undefined, { cacheForce: '^train$' });
    const { tis } = await stack().waitForRun(run);
    expect(states(tis)).toEqual({ prep: 'cached', report: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([2, 3]);
  });

  it('one changed param: only the tasks it reaches run', async () => {
    const run = await stack().trigger('cache_a', { lr: 0.2 });
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ prep: 'cached', report: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([2, 4]);
    expect(readFileSync(path.join(counters, 'report.out'), 'utf8').trim()).toBe('m-10-0.2');
    // Upstream of train changed: a new n reruns both.
    const again = await stack().trigger('cache_a', { n: 11, lr: 0.2 });
    expect(states((await stack().waitForRun(again)).tis)).toEqual({ prep: 'success', report: 'success', train: 'success' });
    expect([count('prep'), count('train')]).toEqual([3, 5]);
  });

  it('a cleared cached task runs again', async () => {
    const run = await stack().trigger('cache_a');
    expect(states((await stack().waitForRun(run)).tis)).toEqual({ prep: 'cached', report: 'success', train: 'cached' });
    const clears = new ClearService(stack().repos, () => stack().scheduler.runner.nudge(), () => new Date());
    expect(await clears.clear('cache_a', run.runId, 'train', { downstream: true })).toEqual({ cleared: ['train', 'report'] });
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('success');
    expect(states(tis)).toEqual({ prep: 'cached', report: 'success', train: 'success' });
    expect(count('train')).toBe(6);
  });

  it('cache invalidate: the entries of a task end, and it runs again', async () => {
    const listed = await stack().repos.results.listCache({ dagId: 'cache_a', taskId: 'prep' });
    expect(listed.length).toBeGreaterThan(0);
    expect(await stack().repos.results.invalidate({ dagId: 'cache_a', taskId: 'prep' }, new Date())).toBe(listed.length);
    expect(await stack().repos.results.listCache({ dagId: 'cache_a', taskId: 'prep' })).toEqual([]);
    const before = count('prep');
    const run = await stack().trigger('cache_a');
    // prep runs again; with its outputs unchanged, train's key is the same: train stays cached.
    expect(states((await stack().waitForRun(run)).tis)).toEqual({ prep: 'success', report: 'success', train: 'cached' });
    expect(count('prep')).toBe(before + 1);
  });

  it('a new artefacts store: cached tries of the old one are not taken (their files are not there); the same store again hits', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'swarmflow-cache-store-'));
    const [prep, train] = [count('prep'), count('train')];
    try {
      await stack().restartScheduler({ artifactsUrl: `file://${store}` });
      const moved = await stack().trigger('cache_a');
      expect(states((await stack().waitForRun(moved)).tis)).toEqual({ prep: 'success', report: 'success', train: 'success' });
      expect([count('prep'), count('train')]).toEqual([prep + 1, train + 1]);
      const again = await stack().trigger('cache_a');
      expect(states((await stack().waitForRun(again)).tis)).toEqual({ prep: 'cached', report: 'success', train: 'cached' });
    } finally {
      await stack().restartScheduler();
      rmSync(store, { recursive: true, force: true });
    }
    // Back to no store: the keys are those of before, and their tries are taken again.
    const back = await stack().trigger('cache_a');
    expect(states((await stack().waitForRun(back)).tis)).toEqual({ prep: 'cached', report: 'success', train: 'cached' });
    expect([count('prep'), count('train')]).toEqual([prep + 1, train + 1]);
  });

  it('an output file over the cap or not an object fails the try, saying why and how to fix it', async () => {
    const run = await stack().trigger('big_output');
    const { state, tis } = await stack().waitForRun(run);
    expect(state).toBe('failed');
    expect(tis.get('big')!.reason).toBe(
      'the task\'s output file is 70000 bytes, over the cap of 65536 bytes. Fix: write a small JSON object to $SWARMFLOW_OUTPUT ' +
      '(put large data in files or an artefact store and output their location), or raise SWARMFLOW_MAX_OUTPUT_BYTES on the worker',
    );
    expect(tis.get('bad')!.reason).toMatch(/^the task's output file holds an array, not a JSON object\. Fix: /);
  });
});

describeWithPostgres('the example train/test DAGs share prepare_data through the cache (real PostgreSQL)', () => {
  const data = mkdtempSync(path.join(tmpdir(), 'swarmflow-examples-'));
  process.env.SWARMFLOW_EXAMPLES_DATA = data;
  // The example file as is, its helpers imported from the examples folder.
  const examples = path.resolve(__dirname, '../../../examples/dags');
  const source = readFileSync(path.join(examples, 'train_test.ts'), 'utf8').replace("'./_shared/common'", JSON.stringify(path.join(examples, '_shared/common')));
  const stack = useStack({ dagFiles: { 'train_test.ts': source } });
  afterAll(() => {
    delete process.env.SWARMFLOW_EXAMPLES_DATA;
    rmSync(data, { recursive: true, force: true });
  });

  it('ml_training prepares the data; ml_testing then finds prepare_data cached and reads its folder', async () => {
    const training = await stack().trigger('ml_training');
    const trained = await stack().waitForRun(training, 60_000);
    const tm = trained.tis.get('train_model')!;
    if (tm.state !== 'success') throw new Error((await stack().repos.logs.read(tm.id, tm.tryNumber)).lines.map((l) => l.line).join('\n'));
    expect([...trained.tis.values()].map((t) => `${t.taskId}=${t.state}${t.reason ? `: ${t.reason}` : ''}`).sort()).toEqual(['prepare_data=success', 'train_model=success']);
    const testing = await stack().trigger('ml_testing');
    const tested = await stack().waitForRun(testing, 60_000);
    expect(Object.fromEntries([...tested.tis].map(([id, t]) => [id, t.state]))).toEqual({ prepare_data: 'cached', build_model: 'success', test_model: 'success' });
    const [prepared] = (await stack().repos.results.latestForRuns([testing.pk])).filter((r) => r.taskId === 'prepare_data');
    expect(prepared.outputs).toEqual({ data_dir: path.join(data, '_shared', 'prepare_data-small'), dataset: 'small', rows: 1000 });
  }, 90_000);
});

describeWithPostgres('the example train/test DAGs with a file:// artefacts store, as standalone has (real PostgreSQL)', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-examples-store-'));
  const data = path.join(folder, 'data');
  const store = path.join(folder, 'store');
  // Set before the stack starts: the DAG file, parsed then, forwards it to the tasks.
  beforeAll(() => {
    process.env.SWARMFLOW_EXAMPLES_DATA = data;
  });
  const examples = path.resolve(__dirname, '../../../examples/dags');
  const source = readFileSync(path.join(examples, 'train_test.ts'), 'utf8').replace("'./_shared/common'", JSON.stringify(path.join(examples, '_shared/common')));
  const stack = useStack({ dagFiles: { 'train_test.ts': source }, scheduler: { artifactsUrl: `file://${store}` } });
  afterAll(() => {
    delete process.env.SWARMFLOW_EXAMPLES_DATA;
    rmSync(folder, { recursive: true, force: true });
  });

  const failure = async (tis: Map<string, { id: number; taskId: string; state: string; tryNumber: number }>): Promise<string> => {
    const logs = await Promise.all([...tis.values()].map(async (t) =>
      `--- ${t.taskId} (${t.state}):\n${(await stack().repos.logs.read(t.id, t.tryNumber)).lines.map((l) => l.line).join('\n')}`));
    return logs.join('\n');
  };

  it('prepare_data stores its split under its try; ml_testing finds it cached and reads it from that try, no shared folder', async () => {
    const training = await stack().trigger('ml_training');
    const trained = await stack().waitForRun(training, 60_000);
    if (trained.state !== 'success') throw new Error(await failure(trained.tis));
    const prep = trained.tis.get('prepare_data')!;
    const prefix = `file://${store}/ml_training/${training.runId}/prepare_data/try-1.ti-${prep.id}/`;
    const [ran] = (await stack().repos.results.latestForRuns([training.pk])).filter((r) => r.taskId === 'prepare_data');
    expect(ran.outputs).toEqual({ data_url: prefix, dataset: 'small', rows: 1000 });

    const testing = await stack().trigger('ml_testing');
    const tested = await stack().waitForRun(testing, 60_000);
    if (tested.state !== 'success') throw new Error(await failure(tested.tis));
    expect(Object.fromEntries([...tested.tis].map(([id, t]) => [id, t.state]))).toEqual({ prepare_data: 'cached', build_model: 'success', test_model: 'success' });
    const [cached] = (await stack().repos.results.latestForRuns([testing.pk])).filter((r) => r.taskId === 'prepare_data');
    expect(cached).toMatchObject({ cachedFromTi: prep.id, cachedFromTry: 1, outputs: ran.outputs });
    for (const task of ['build_model', 'test_model']) {
      const ti = tested.tis.get(task)!;
      const log = (await stack().repos.logs.read(ti.id, ti.tryNumber)).lines.map((l) => l.line).join('\n');
      expect({ task, read: log.includes(`[artifacts] read ${task === 'build_model' ? 'train' : 'test'}.json of task prepare_data`) }).toEqual({ task, read: true });
    }
    // The split is in the store, under the try ml_training ran; nothing went to the data root.
    expect(readdirSync(path.join(store, 'ml_training', training.runId, 'prepare_data', `try-1.ti-${prep.id}`)).sort())
      .toEqual(['raw.csv', 'scaler.json', 'test.json', 'train.json']);
    expect(existsSync(path.join(data, '_shared'))).toBe(false);
  }, 90_000);
});

describeWithPostgres('the cache over RabbitMQ (real PostgreSQL and RabbitMQ)', () => {
  describeWithRabbitMQ('the cache over RabbitMQ', () => {
    const prefix = `sfcache-${randomBytes(4).toString('hex')}.`;
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-cache-amqp-'));
    const runs = (task: string): number => {
      try {
        return readFileSync(path.join(dir, `${task}.count`), 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    const stack = useStack({
      dagFiles: {
        'amqp.yaml': `
id: cache_amqp
params: { n: { type: integer, default: 3 } }
defaults: { cache: true }
tasks:
  prep: { shell: "echo run >> ${dir}/prep.count; echo '{\\"rows\\": {{ params.n }}}' > \\"$SWARMFLOW_OUTPUT\\"" }
  train: { shell: "echo run >> ${dir}/train.count; echo '{\\"model\\": \\"m{{ outputs.prep.rows }}\\"}' > \\"$SWARMFLOW_OUTPUT\\"", upstream: [prep] }
`,
      },
      makeBroker: async () => {
        const broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: quietLogger, connectionName: `swarmflow cache test ${prefix}` });
        await broker.start();
        return broker;
      },
    });
    afterAll(async () => {
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name, EVENTS_QUEUE.name, LOGS_QUEUE.name]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('the same conf twice: the second run starts no process and has the same outputs; --force runs all', async () => {
      const outputs = async (pk: number) => Object.fromEntries((await stack().repos.results.latestForRuns([pk])).map((r) => [r.taskId, r.outputs]));
      const first = await stack().trigger('cache_amqp');
      expect((await stack().waitForRun(first)).state).toBe('success');
      expect(await outputs(first.pk)).toEqual({ prep: { rows: 3 }, train: { model: 'm3' } });
      const second = await stack().trigger('cache_amqp');
      const { tis } = await stack().waitForRun(second);
      expect([...tis.values()].map((t) => t.state)).toEqual(['cached', 'cached']);
      expect([runs('prep'), runs('train')]).toEqual([1, 1]);
      expect(await outputs(second.pk)).toEqual(await outputs(first.pk));
      const forced = await stack().trigger('cache_amqp', {}, undefined, { cacheForce: '.*' });
      expect([...(await stack().waitForRun(forced)).tis.values()].map((t) => t.state)).toEqual(['success', 'success']);
      expect([runs('prep'), runs('train')]).toEqual([2, 2]);
    });
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArtifactsUrl } from '@swarmflow/core';
import { S3ArtifactStore } from '@swarmflow/executors';
import { AmqpBroker, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { runCli } from '../../cli/src/program';
import { createTestToken } from '../../webserver/src/test-support/auth';
import { createWebserver } from '../../webserver/src/webserver';
import { useStack } from './test-support/use-stack';
// s3rver ships no types; the little used here is declared by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };

// The ML pipeline (ingest -> train -> evaluate) across two workers that share no folder:
// ingest and evaluate on worker A's queue, train on worker B's. Data passes only through
// the artefacts store, an S3-compatible server (s3rver) reached with the AWS SDK from the
// tasks, configured by SWARMFLOW_ARTIFACTS_URL and the artifacts_s3_* secret variables.

const tmp = mkdtempSync(path.join(tmpdir(), 'swarmflow-artifacts-it-'));
const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
const nodeModules = path.resolve(__dirname, '..', '..', '..', 'node_modules');

// What a task runs to use its artefacts: `put <name> <text>` into its own try's prefix,
// `get <task> <name>` from the newest try of an upstream task of the same run. Each call
// works in a fresh temporary folder: nothing is shared on disk.
const HELPER = `
const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');
const s3 = new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION, forcePathStyle: true });
const split = (url) => { const m = /^s3:\\/\\/([^/]+)\\/(.*)$/.exec(url); return { Bucket: m[1], Key: m[2] }; };
(async () => {
  const [cmd, a, b] = process.argv.slice(2);
  if (cmd === 'put') {
    const { Bucket, Key } = split(process.env.SWARMFLOW_ARTIFACTS_URL);
    await s3.send(new PutObjectCommand({ Bucket, Key: Key + a, Body: b }));
  } else {
    const { Bucket, Key } = split(process.env.SWARMFLOW_ARTIFACTS_RUN_URL);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: Key + a + '/' }));
    const keys = (listed.Contents || []).map((o) => o.Key).filter((k) => k.endsWith('/' + b))
      .sort((x, y) => Number(/try-(\\d+)/.exec(x)[1]) - Number(/try-(\\d+)/.exec(y)[1]));
    if (keys.length === 0) throw new Error('no ' + b + ' from ' + a);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: keys[keys.length - 1] }));
    process.stdout.write(await got.Body.transformToString());
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
`;
writeFileSync(path.join(tmp, 'artifact.js'), HELPER);
const art = `node ${path.join(tmp, 'artifact.js')}`;

const ML = `id: ml_two_workers
defaults: { env: { NODE_PATH: "${nodeModules}" } }
tasks:
  ingest:
    queue: worker_a
    shell: '${art} put dataset.csv "3,4,5"'
  train:
    queue: worker_b
    shell: 'd=$(${art} get ingest dataset.csv) && w=$(echo "$d" | tr , + | bc) && ${art} put model.json "{\\"w\\": $w}"'
    upstream: [ingest]
  evaluate:
    queue: worker_a
    shell: 'm=$(${art} get train model.json) && echo "model $m" && ${art} put metrics.json "{\\"model\\": $m, \\"ok\\": true}"'
    upstream: [train]
`;

// A cacheable train: its second run ends `cached`, and evaluate still finds the model, which
// stays under the first run's prefix (SWARMFLOW_ARTIFACTS_CACHED_URLS, read by the examples'
// artifacts.js). evaluate is not cacheable: the map reaches it all the same.
const ARTIFACTS_JS = path.resolve(__dirname, '..', '..', '..', 'examples', 'dags', '_scripts', 'artifacts.js');
const ML_CACHED = `id: ml_cached
defaults: { env: { NODE_PATH: "${nodeModules}" } }
tasks:
  train:
    queue: worker_b
    cache: true
    shell: 'cd "$(mktemp -d)" && echo "{\\"w\\": 7}" > m.json && node ${ARTIFACTS_JS} put m.json model.json && rm -r "$PWD"'
  evaluate:
    queue: worker_a
    shell: 'cd "$(mktemp -d)" && node ${ARTIFACTS_JS} get train model.json got.json && echo "model $(cat got.json)" && rm -r "$PWD"'
    upstream: [train]
`;

describeWithRabbitMQ('artefacts in an S3-compatible store, across two workers', () => {
  describeWithPostgres('', () => {
    let server: { run(): Promise<{ port: number }>; close(): Promise<void> };
    let endpoint = '';
    const stack = useStack({
      // The example ML pipeline itself (examples/dags), its scripts passing data through the store.
      dagFiles: {
        'ml.yaml': ML,
        'ml_cached.yaml': ML_CACHED,
        'example_ml.ts': `// a swarmflow DAG file\nexport { mlPipelineParametrised } from ${JSON.stringify(path.resolve(__dirname, '..', '..', '..', 'examples', 'dags', 'ml_pipeline'))};\n`,
      },
      makeBroker: async () => {
        const broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: { log: () => {}, warn: () => {}, error: () => {} }, connectionName: `swarmflow artifacts test ${prefix}` });
        await broker.start();
        return broker;
      },
      workers: [{ queues: ['worker_a', 'default'], name: `worker-a-${process.pid}` }, { queues: ['worker_b', 'default'], name: `worker-b-${process.pid}` }],
      scheduler: { artifactsUrl: 's3://swarmflow-ml/runs' },
    });

    beforeAll(async () => {
      server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3'), configureBuckets: [{ name: 'swarmflow-ml' }] });
      endpoint = `http://127.0.0.1:${(await server.run()).port}`;
      const s = stack();
      const now = new Date();
      for (const [key, value, secret] of [
        ['artifacts_s3_endpoint', endpoint, false], ['artifacts_s3_access_key_id', 'S3RVER', true], ['artifacts_s3_secret_access_key', 'S3RVER', true],
      ] as const) {
        await s.repos.variables.upsert({ key, value: secret ? s.clusterKey.encrypt(value) : value, isSecret: secret, description: '' }, now);
      }
    });

    afterAll(async () => {
      await server?.close();
      await deleteRabbitMQTopology(prefix, [taskQueue('worker_a').name, taskQueue('worker_b').name]).catch(() => {});
      rmSync(tmp, { recursive: true, force: true });
    });

    it('train writes the model on one worker, evaluate reads it on the other; every try has its prefix', async () => {
      const s = stack();
      const run = await s.trigger('ml_two_workers');
      const { state, tis } = await s.waitForRun(run, 30_000);
      expect(state).toBe('success');
      expect(tis.get('ingest')!.worker).toBe(`worker-a-${process.pid}`);
      expect(tis.get('train')!.worker).toBe(`worker-b-${process.pid}`);
      expect(tis.get('evaluate')!.worker).toBe(`worker-a-${process.pid}`);

      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        const listed = await store.list(parseArtifactsUrl(`s3://swarmflow-ml/runs/ml_two_workers/${run.runId}`));
        const at = (task: string) => `${task}/try-1.ti-${tis.get(task)!.id}`;
        expect(listed.map((o) => o.name)).toEqual([`${at('evaluate')}/metrics.json`, `${at('ingest')}/dataset.csv`, `${at('train')}/model.json`]);
        const metrics = await store.get(parseArtifactsUrl(`s3://swarmflow-ml/runs/ml_two_workers/${run.runId}/${at('evaluate')}`), 'metrics.json');
        expect(JSON.parse(metrics.toString())).toEqual({ model: { w: 12 }, ok: true });
      } finally {
        store.destroy();
      }
      // The API (and `tasks artifacts`) lists what each try stored.
      const app = await createWebserver({ repos: s.repos, logger: false, clusterKey: s.clusterKey, artifactsUrl: 's3://swarmflow-ml/runs' });
      await app.listen(0, '127.0.0.1');
      try {
        const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
        const token = await createTestToken(s.repos, 'viewer');
        let out = '';
        let err = '';
        const code = await runCli(['tasks', 'artifacts', 'ml_two_workers', run.runId, 'train'], {
          stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
          sleep: async () => {}, now: () => new Date(), readFile: () => null,
        });
        expect(err).toBe('');
        expect(code).toBe(0);
        const train = `train/try-1.ti-${tis.get('train')!.id}`;
        expect(out).toContain(`try 1 of ml_two_workers.train (run ${run.runId}): s3://swarmflow-ml/runs/ml_two_workers/${run.runId}/${train}/`);
        expect(out).toMatch(new RegExp(`^model\\.json\\s+9\\s+\\S+ \\S+\\s+s3://swarmflow-ml/runs/ml_two_workers/${run.runId.replace(/[.+]/g, '\\$&')}/${train.replace(/[.+]/g, '\\$&')}/model\\.json$`, 'm'));
      } finally {
        await app.close();
      }

      // The secret access key never reaches the log; the model line does.
      const logs = await s.repos.logs.read(tis.get('evaluate')!.id, 1, 0);
      expect(logs.lines.map((l) => l.line)).toContain('model {"w": 12}');
    }, 60_000);

    it('the example ML pipeline keeps its dataset, model and metrics in the store; each try works in a folder of its own', async () => {
      const s = stack();
      const run = await s.trigger('ml_pipeline', { dataset: 'small' });
      const { state, tis } = await s.waitForRun(run, 60_000);
      const logOf = async (task: string) => (await s.repos.logs.read(tis.get(task)!.id, 1, 0)).lines.map((l) => l.line);
      if (state !== 'success') throw new Error(`the example failed: ${JSON.stringify(Object.fromEntries(await Promise.all([...tis.keys()].map(async (t) => [t, await logOf(t)]))))}`);
      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        const names = (await store.list(parseArtifactsUrl(`s3://swarmflow-ml/runs/ml_pipeline/${run.runId}`))).map((o) => o.name);
        expect(names).toEqual(expect.arrayContaining([
          ...[['ingest', 'raw.csv'], ['preprocess', 'train.json'], ['preprocess', 'test.json'], ['train', 'model.json'], ['evaluate', 'metrics.json']]
            .map(([task, name]) => `${task}/try-1.ti-${tis.get(task)!.id}/${name}`),
        ]));
      } finally {
        store.destroy();
      }
      expect(await logOf('evaluate')).toEqual(expect.arrayContaining(['[artifacts] read model.json of task train', '[artifacts] read test.json of task preprocess']));
      expect(await logOf('train')).toContain('[artifacts] read train.json of task preprocess');
    }, 90_000);

    it('a cached task\'s artefacts stay under its source try\'s prefix, and downstream tasks are told where', async () => {
      const s = stack();
      const first = await s.trigger('ml_cached');
      expect((await s.waitForRun(first, 30_000)).state).toBe('success');
      const firstTrain = (await s.repos.tis.forRuns([first.pk])).find((t) => t.taskId === 'train')!;
      const run = await s.trigger('ml_cached');
      const { state, tis } = await s.waitForRun(run, 30_000);
      const log = (await s.repos.logs.read(tis.get('evaluate')!.id, 1, 0)).lines.map((l) => l.line);
      expect({ state, train: tis.get('train')!.state, log }).toMatchObject({ state: 'success', train: 'cached' });
      expect(log).toContain('model {"w": 7}');
      // Nothing was copied: the second run's prefix holds no train folder.
      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        expect((await store.list(parseArtifactsUrl(`s3://swarmflow-ml/runs/ml_cached/${run.runId}`))).map((o) => o.name)).toEqual([]);
        expect((await store.list(parseArtifactsUrl(`s3://swarmflow-ml/runs/ml_cached/${first.runId}`))).map((o) => o.name)).toEqual([`train/try-1.ti-${firstTrain.id}/model.json`]);
      } finally {
        store.destroy();
      }
      // `tasks artifacts` of the cached train lists its source try's files, and says so.
      const app = await createWebserver({ repos: s.repos, logger: false, clusterKey: s.clusterKey, artifactsUrl: 's3://swarmflow-ml/runs' });
      await app.listen(0, '127.0.0.1');
      try {
        const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
        const token = await createTestToken(s.repos, 'viewer');
        let out = '';
        let err = '';
        const code = await runCli(['tasks', 'artifacts', 'ml_cached', run.runId, 'train'], {
          stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
          sleep: async () => {}, now: () => new Date(), readFile: () => null,
        });
        expect(err).toBe('');
        expect(code).toBe(0);
        const source = `s3://swarmflow-ml/runs/ml_cached/${first.runId}/train/try-1.ti-${firstTrain.id}/`;
        expect(out).toContain(`ml_cached.train (run ${run.runId}) is cached: its artefacts are those of try 1 of ml_cached.train in run ${first.runId}: ${source}`);
        expect(out).toMatch(new RegExp(`^model\\.json\\s+\\d+\\s+\\S+ \\S+\\s+${source.replace(/[.+]/g, '\\$&')}model\\.json$`, 'm'));
        const api = await fetch(`${url}/api/v1/dags/ml_cached/runs/${encodeURIComponent(run.runId)}/tasks/train/artifacts`, { headers: { authorization: `Bearer ${token}` } });
        expect(await api.json()).toMatchObject({
          url: source, cachedFrom: { dagId: 'ml_cached', runId: first.runId, taskId: 'train', tryNumber: 1 }, artifacts: [{ name: 'model.json' }],
        });
      } finally {
        await app.close();
      }
    }, 60_000);
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArtifactsUrl } from '@swarmflow/core';
import { S3ArtifactStore } from '@swarmflow/executors';
import { EVENTS_QUEUE, LOGS_QUEUE, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { Database, Repositories, type TaskInstance } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { eventually, freePort, REPO, runCli, SwarmflowProcess } from '../support/processes';
// s3rver ships no types; the little used here is declared by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };

// The example ML DAGs (examples/dags, the DAGs folder of `npm start`) on two `swarmflow
// worker` processes that share no folder: each has its own working folder, TMPDIR and HOME,
// and its own queue. SWARMFLOW_EXAMPLES_QUEUES puts train on one worker's queue and evaluate on
// the other's (ingest and preprocess on `default`, which the evaluate worker also serves), so
// the data crosses workers both ways through the artefacts store: an S3-compatible server
// (s3rver) on loopback, its endpoint and keys in secret variables. Likewise for train_test.ts:
// prepare_data (on `default`) on the evaluate worker, the models on the train worker; ml_testing
// then takes prepare_data from the cache and reads its data from ml_training's try in the store.

const BUCKET = 'swarmflow-ml';
const ARTIFACTS_URL = `s3://${BUCKET}/runs`;

jest.setTimeout(180_000);

describeWithPostgres('the ML example on two workers (PostgreSQL)', () => {
  describeWithRabbitMQ('the ML example on two worker processes that share no folder, artefacts in s3rver', () => {
    let testDb: TestDatabase;
    let db: Database;
    let repos: Repositories;
    let folder: string;
    let s3: { run(): Promise<{ port: number }>; close(): Promise<void> } | null = null;
    let endpoint: string;
    let cliEnv: NodeJS.ProcessEnv;
    let api: string;
    let token: string;
    const procs: SwarmflowProcess[] = [];
    const prefix = `e2e-ml-${process.pid}-${Date.now()}.`;
    const workers = {
      train: { name: 'ml-worker-train', queues: 'ml_train', dir: '' },
      evaluate: { name: 'ml-worker-evaluate', queues: 'ml_eval,default', dir: '' },
    };

    beforeAll(async () => {
      testDb = await createTestDatabase();
      db = new Database({ url: testDb.url, poolSize: 2 });
      repos = new Repositories(db);
      folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-e2e-ml-'));

      s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(folder, 's3'), configureBuckets: [{ name: BUCKET }] });
      endpoint = `http://127.0.0.1:${(await s3.run()).port}`;

      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      const clusterKey = randomBytes(32).toString('base64');
      const broker = { SWARMFLOW_AMQP_URL: rabbitmqUrl(), SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_CLUSTER_KEY: clusterKey, SWARMFLOW_HEARTBEAT_INTERVAL: '1s' };
      const server: NodeJS.ProcessEnv = {
        ...broker,
        SWARMFLOW_DATABASE_URL: testDb.url, SWARMFLOW_DAGS_FOLDER: path.join(REPO, 'examples', 'dags'),
        SWARMFLOW_ARTIFACTS_URL: ARTIFACTS_URL, SWARMFLOW_EXAMPLES_QUEUES: 'train=ml_train,evaluate=ml_eval,train_model=ml_train,build_model=ml_train,test_model=ml_train',
        // No shared data root: the scripts' data passes through the store only.
        SWARMFLOW_EXAMPLES_DATA: '',
        SWARMFLOW_HEARTBEAT_TIMEOUT: '6s', SWARMFLOW_SCHEDULER_TICK: '200ms',
        SWARMFLOW_WEB_PORT: String(port), SWARMFLOW_WEB_HOST: '127.0.0.1',
        SWARMFLOW_ADMIN_PASSWORD_FILE: path.join(folder, 'admin-password'),
      };
      writeFileSync(server.SWARMFLOW_ADMIN_PASSWORD_FILE!, 'e2e-admin-password\n', { mode: 0o600 });

      const scheduler = new SwarmflowProcess('scheduler', ['scheduler'], server);
      procs.push(scheduler);
      await scheduler.waitForOutput('scheduler running');
      const web = new SwarmflowProcess('webserver', ['webserver'], server);
      procs.push(web);
      await web.waitForOutput('REST API on');
      const created = await runCli(['tokens', 'create', '--name', 'e2e-ml', '--user', 'admin', '--database'], server);
      expect(created).toMatchObject({ code: 0, stdout: expect.stringMatching(/^sfw_\S+\n$/) });
      token = created.stdout.trim();
      cliEnv = { SWARMFLOW_URL: api, SWARMFLOW_TOKEN: token };

      // The store's endpoint and keys, as an operator sets them: the keys from stdin, sealed with the cluster key.
      for (const [key, value, ...flags] of [
        ['artifacts_s3_endpoint', endpoint], ['artifacts_s3_access_key_id', 'S3RVER', '--secret'], ['artifacts_s3_secret_access_key', 'S3RVER', '--secret'],
      ]) {
        const set = await runCli(['variables', 'set', key, '-', ...flags], cliEnv, 30_000, value);
        expect({ key, code: set.code, stderr: set.stderr }).toEqual({ key, code: 0, stderr: '' });
      }

      // Each worker: its own working folder (the tasks' cwd), TMPDIR (the scripts' scratch folders) and HOME.
      for (const w of Object.values(workers)) {
        w.dir = mkdtempSync(path.join(folder, `${w.name}-`));
        for (const sub of ['tmp', 'home']) mkdirSync(path.join(w.dir, sub));
        const proc = new SwarmflowProcess(w.name, ['worker', '--name', w.name, '--queues', w.queues, '--concurrency', '2'],
          { ...broker, TMPDIR: path.join(w.dir, 'tmp'), HOME: path.join(w.dir, 'home') }, { cwd: w.dir });
        procs.push(proc);
        await proc.waitForOutput(`serving ${w.queues.replace(',', ', ')}`);
      }

      // The scheduler has parsed the examples folder with the queues set.
      for (const id of ['ml_pipeline', 'ml_training', 'ml_testing']) await eventually(async () => ((await repos.dags.get(id)) ? true : undefined), 60_000, `${id} to be parsed`);
    });

    afterAll(async () => {
      await Promise.all(procs.map((p) => p.stop('SIGTERM').catch(() => undefined)));
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name, taskQueue('ml_train').name, taskQueue('ml_eval').name, EVENTS_QUEUE.name, LOGS_QUEUE.name])
        .catch(() => undefined);
      await s3?.close();
      await db?.close();
      await testDb?.drop();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    /** `tasks logs` of a task's current try: its lines, or what the CLI said instead. */
    const logOf = async (runId: string, task: string, dagId = 'ml_pipeline'): Promise<string> => {
      const res = await runCli(['tasks', 'logs', dagId, runId, task], cliEnv);
      return res.code === 0 ? res.stdout : `(tasks logs exited ${res.code}) ${res.stdout}${res.stderr}`;
    };

    /** Triggers `dagId` through the API and waits for the run to end: it must succeed (else the tasks' logs and the processes' output). */
    const runToSuccess = async (dagId: string, conf: Record<string, unknown>): Promise<{ runId: string; tis: Map<string, TaskInstance> }> => {
      const res = await fetch(`${api}/api/v1/dags/${dagId}/runs`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ conf }),
      });
      expect(res.status).toBe(201);
      const runId = ((await res.json()) as { runId: string }).runId;
      const state = await eventually(async () => {
        const run = await repos.runs.get(dagId, runId);
        return run && (run.state === 'success' || run.state === 'failed') ? run.state : undefined;
      }, 120_000, `${dagId} run ${runId} to end`, 200);
      const run = (await repos.runs.get(dagId, runId))!;
      const tis = new Map<string, TaskInstance>((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      if (state !== 'success') {
        const logs = await Promise.all([...tis.keys()].map(async (t) => `--- ${t} (${tis.get(t)!.state}):\n${await logOf(runId, t, dagId)}`));
        throw new Error(`${dagId} ended ${state}:\n${logs.join('\n')}\n${procs.map((p) => `--- ${p.name}:\n${p.output}`).join('\n')}`);
      }
      return { runId, tis };
    };

    /** A task's log once it holds `line` (the log reaches the database a little after the task ends). */
    const logWith = (dagId: string, runId: string, task: string, line: string): Promise<string> =>
      eventually(async () => {
        const log = await logOf(runId, task, dagId);
        return log.includes(line) ? log : undefined;
      }, 20_000, `${dagId}.${task}'s log to say ${JSON.stringify(line)}`);

    it('succeeds with train on one worker and evaluate on the other, evaluate reading the model train stored in the S3 server', async () => {
      const res = await fetch(`${api}/api/v1/dags/ml_pipeline/runs`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ conf: { dataset: 'small', epochs: 7, learning_rate: 0.05 } }),
      });
      expect(res.status).toBe(201);
      const runId = ((await res.json()) as { runId: string }).runId;

      const state = await eventually(async () => {
        const run = await repos.runs.get('ml_pipeline', runId);
        return run && (run.state === 'success' || run.state === 'failed') ? run.state : undefined;
      }, 120_000, `ml_pipeline run ${runId} to end`, 200);
      const run = (await repos.runs.get('ml_pipeline', runId))!;
      const tis = new Map<string, TaskInstance>((await repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      if (state !== 'success') {
        const logs = await Promise.all([...tis.keys()].map(async (t) => `--- ${t} (${tis.get(t)!.state}):\n${await logOf(runId, t)}`));
        throw new Error(`the ML example ended ${state}:\n${logs.join('\n')}\n${procs.map((p) => `--- ${p.name}:\n${p.output}`).join('\n')}`);
      }

      // Routed by queue: train on one worker, evaluate (and the default queue's ingest, preprocess) on the other.
      expect(Object.fromEntries([...tis.values()].map((t) => [t.taskId, [t.state, t.queue, t.worker]]))).toEqual({
        ingest: ['success', 'default', workers.evaluate.name],
        preprocess: ['success', 'default', workers.evaluate.name],
        train: ['success', 'ml_train', workers.train.name],
        evaluate: ['success', 'ml_eval', workers.evaluate.name],
      });

      // A try's folder in the store: try-<n>.ti-<task instance id> (artefact keys never shared between tries).
      const tryDir = (task: string) => `try-1.ti-${tis.get(task)!.id}`;
      // The model is in the S3 server under train's try, with the run's params.
      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        const runPrefix = `${ARTIFACTS_URL}/ml_pipeline/${runId}`;
        expect((await store.list(parseArtifactsUrl(runPrefix))).map((o) => o.name)).toEqual(expect.arrayContaining([
          `ingest/${tryDir('ingest')}/raw.csv`, `preprocess/${tryDir('preprocess')}/train.json`, `preprocess/${tryDir('preprocess')}/test.json`,
          `train/${tryDir('train')}/model.json`, `evaluate/${tryDir('evaluate')}/metrics.json`,
        ]));
        const model = JSON.parse((await store.get(parseArtifactsUrl(`${runPrefix}/train/${tryDir('train')}`), 'model.json')).toString());
        expect(model).toMatchObject({ epochs: 7, learningRate: 0.05 });
      } finally {
        store.destroy();
      }

      // Each task worked in a scratch folder under its own worker's TMPDIR...
      const trainLog = await eventually(async () => {
        const log = await logOf(runId, 'train');
        return log.includes('[train] wrote model to') ? log : undefined;
      }, 20_000, "train's log");
      const evaluateLog = await eventually(async () => {
        const log = await logOf(runId, 'evaluate');
        return log.includes('[evaluate] PASS') ? log : undefined;
      }, 20_000, "evaluate's log");
      expect(trainLog).toContain(`[train] wrote model to ${path.join(workers.train.dir, 'tmp')}/swarmflow-try-`);
      expect(trainLog).toContain(`[artifacts] stored model.json in ${ARTIFACTS_URL}/ml_pipeline/${runId}/train/${tryDir('train')}/`);
      expect(evaluateLog).toContain(`[evaluate] wrote ${path.join(workers.evaluate.dir, 'tmp')}/swarmflow-try-`);
      // ...and evaluate, on the other worker, read the model train stored: its params are the model's.
      expect(evaluateLog).toContain('[artifacts] read model.json of task train');
      expect(evaluateLog).toContain('[evaluate] scoring the model (7 epochs, learning_rate=0.05)');
      // Nothing was left in the workers' folders to share: the scratch folders are gone.
      for (const w of Object.values(workers)) expect(readdirSync(path.join(w.dir, 'tmp')).filter((f) => f.startsWith('swarmflow-try-'))).toEqual([]);

      // `tasks artifacts` (through the API) lists what train's try stored.
      const listed = await runCli(['tasks', 'artifacts', 'ml_pipeline', runId, 'train'], cliEnv);
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(listed.stdout).toContain(`try 1 of ml_pipeline.train (run ${runId}): ${ARTIFACTS_URL}/ml_pipeline/${runId}/train/${tryDir('train')}/`);
      expect(listed.stdout).toMatch(new RegExp(`^model\\.json\\s+\\d+\\s+\\S+ \\S+\\s+${`${ARTIFACTS_URL}/ml_pipeline/${runId}/train/${tryDir('train')}/model.json`.replace(/[.+]/g, '\\$&')}$`, 'm'));
    });

    it('ml_testing takes prepare_data from the cache and reads its data from ml_training\'s try in the S3 server, on the other worker', async () => {
      // ml_training: prepare_data on the evaluate worker (default queue), train_model on the train worker.
      const training = await runToSuccess('ml_training', { dataset: 'small' });
      expect(Object.fromEntries([...training.tis.values()].map((t) => [t.taskId, [t.state, t.worker]]))).toEqual({
        prepare_data: ['success', workers.evaluate.name], train_model: ['success', workers.train.name],
      });
      const prepared = `${ARTIFACTS_URL}/ml_training/${training.runId}/prepare_data/try-1.ti-${training.tis.get('prepare_data')!.id}/`;
      await logWith('ml_training', training.runId, 'train_model', '[artifacts] read train.json of task prepare_data');

      // ml_testing: prepare_data cached from ml_training's try; build_model and test_model on the train worker.
      const testing = await runToSuccess('ml_testing', { dataset: 'small', min_accuracy: 0.6 });
      expect(Object.fromEntries([...testing.tis.values()].map((t) => [t.taskId, [t.state, t.worker]]))).toEqual({
        prepare_data: ['cached', null], build_model: ['success', workers.train.name], test_model: ['success', workers.train.name],
      });
      const shown = await fetch(`${api}/api/v1/dags/ml_testing/runs/${testing.runId}/tasks/prepare_data`, { headers: { authorization: `Bearer ${token}` } });
      expect(shown.status).toBe(200);
      expect(await shown.json()).toMatchObject({
        state: 'cached',
        cachedFrom: { dagId: 'ml_training', runId: training.runId, taskId: 'prepare_data', tryNumber: 1 },
        // Where the data is: the store, not a folder of one worker.
        outputs: { data_url: prepared, dataset: 'small', rows: 1000 },
      });

      // build_model and test_model read the split from the S3 server, where ml_training's try stored it.
      await logWith('ml_testing', testing.runId, 'build_model', '[artifacts] read train.json of task prepare_data');
      const testLog = await logWith('ml_testing', testing.runId, 'test_model', '[evaluate] PASS');
      expect(testLog).toContain('[artifacts] read test.json of task prepare_data');
      expect(testLog).toContain('[artifacts] read model.json of task build_model');
      const listed = await runCli(['tasks', 'artifacts', 'ml_testing', testing.runId, 'prepare_data'], cliEnv);
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(listed.stdout).toContain(`ml_testing.prepare_data (run ${testing.runId}) is cached: its artefacts are those of try 1 of ml_training.prepare_data in run ${training.runId}: ${prepared}`);
      for (const name of ['train.json', 'test.json', 'scaler.json']) expect(listed.stdout).toContain(`${prepared}${name}`);

      // No folder was shared: the scripts' data root on each worker (<TMPDIR>/swarmflow-examples) holds no _shared data.
      for (const w of Object.values(workers)) {
        expect(existsSync(path.join(w.dir, 'tmp', 'swarmflow-examples', '_shared'))).toBe(false);
        expect(readdirSync(path.join(w.dir, 'tmp')).filter((f) => f.startsWith('swarmflow-try-'))).toEqual([]);
      }
    });
  });
});

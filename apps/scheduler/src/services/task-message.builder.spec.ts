import { parseArtifactsUrl, validateDag, type TaskSpec } from '@swarmflow/core';
import type { DagRun, TaskInstance, VariableRecord, WorkerRecord } from '@swarmflow/persistence';
import { ClusterKey, TaskSigner, taskSecretContext } from '@swarmflow/secrets';
import { buildTaskMessage, NO_RESULTS, checkGpuCapacity, DispatchError, signTaskMessage, variableKeysOf } from './task-message.builder';

const dag = validateDag({
  id: 'ml',
  params: { epochs: { type: 'integer', default: 3 } },
  tasks: [
    { id: 'prep', command: 'echo {{ params.epochs }}', env: { RUN: '{{ run_id }}' } },
    {
      id: 'train', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'], secrets: ['s3_key', 'plain_token'],
      docker: { image: 'trainer:{{ params.epochs }}', registryCredentials: 'registry', resources: { gpus: 2 } }, queue: 'gpu',
    },
  ],
}, 'ml.ts');
const prep = dag.tasks[0];
const train = dag.tasks[1];
const run: DagRun = {
  pk: 1, dagId: 'ml', runId: 'manual__1', versionHash: 'h', runType: 'manual', state: 'running',
  logicalDate: new Date('2026-01-02T03:04:05Z'), conf: {}, params: { epochs: 7 }, createdAt: new Date(), startedAt: null, endedAt: null, reason: null, cacheForce: null,
};
const ti = (task: TaskSpec): TaskInstance => ({
  id: 9, runPk: 1, dagId: 'ml', taskId: task.id, state: 'queued', tryNumber: 2, maxTries: 3, queue: task.queue, pool: 'default_pool',
  poolSlots: 1, priority: 0, worker: null, hostname: null, pid: null, exitCode: null, reason: null, queuedAt: null,
  startedAt: null, endedAt: null, nextRetryAt: null,
});
const key = ClusterKey.generate();
const variable = (k: string, value: string, isSecret: boolean): [string, VariableRecord] =>
  [k, { key: k, value: isSecret ? key.encrypt(value) : value, isSecret, description: '', updatedAt: new Date() }];
const variables = new Map([
  variable('s3_key', 'AKIA-secret', true), variable('plain_token', 'tok-123', false),
  variable('registry', '{"username":"u","password":"p"}', true),
]);

describe('buildTaskMessage', () => {
  it('renders a process task with its templated command and env', () => {
    const m = buildTaskMessage(ti(prep), prep, { run, dag }, new Map(), null);
    expect(m).toMatchObject({ kind: 'process', command: 'echo 7', env: { RUN: 'manual__1' }, tryNumber: 2, queue: 'default' });
    expect(m.secrets).toBeUndefined();
  });

  it('seals every variable a container task mounts for this try, none in plain text', () => {
    const m = buildTaskMessage(ti(train), train, { run, dag }, variables, key);
    expect(m.kind).toBe('docker');
    expect(m.docker).toMatchObject({ image: 'trainer:7', gpus: 2, network: 'none' });
    expect(m.command).toEqual(['python', 'train.py', '--epochs', '7']);
    expect(m.secrets!.map((s) => [s.key, key.decryptFor(s.ciphertext, taskSecretContext('secret', s.key, 9, 2))]))
      .toEqual([['s3_key', 'AKIA-secret'], ['plain_token', 'tok-123']]);
    expect(key.decryptFor(m.registryAuth!, taskSecretContext('registry', 'registry', 9, 2))).toBe('{"username":"u","password":"p"}');
    const wire = JSON.stringify(m);
    for (const plain of ['AKIA-secret', 'tok-123', '"password"']) expect(wire).not.toContain(plain);
  });

  it('never copies the at-rest ciphertext: what the database holds opens nothing in a message', () => {
    const m = buildTaskMessage(ti(train), train, { run, dag }, variables, key);
    expect(m.secrets![0].ciphertext).not.toBe(variables.get('s3_key')!.value);
    // Sealed for try 2 of task instance 9: not for try 3, not for another instance.
    expect(() => key.decryptFor(m.secrets![0].ciphertext, taskSecretContext('secret', 's3_key', 9, 3))).toThrow(/sealed for another task try/);
    expect(() => key.decryptFor(m.secrets![0].ciphertext, taskSecretContext('secret', 's3_key', 10, 2))).toThrow(/sealed for another task try/);
  });

  it('signs the message it serialized once: the signature covers the issue time and every byte', () => {
    const signer = new TaskSigner(key);
    const signed = signTaskMessage(buildTaskMessage(ti(prep), prep, { run, dag }, new Map(), null), signer, 1_700_000_000_000);
    expect(signed).toMatchObject({ tiId: 9, tryNumber: 2, issuedAt: 1_700_000_000_000 });
    expect(JSON.parse(signed.message)).toMatchObject({ command: 'echo 7', tiId: 9 });
    expect(signer.verify(signed.issuedAt, signed.message, signed.sig)).toBe(true);
    expect(signer.verify(signed.issuedAt, signed.message.replace('echo 7', 'echo 8'), signed.sig)).toBe(false);
  });

  it('fails with a fix when a variable is missing', () => {
    const missing = new Map([...variables].filter(([k]) => k !== 's3_key'));
    expect(() => buildTaskMessage(ti(train), train, { run, dag }, missing, key)).toThrow(
      new DispatchError('variable "s3_key" does not exist. Fix: swarmflow variables set s3_key - --secret (the value is read from stdin)'),
    );
  });

  it('fails when a plain variable must be encrypted and the scheduler has no cluster key', () => {
    expect(() => buildTaskMessage(ti(train), train, { run, dag }, variables, null)).toThrow(/variable "s3_key" must be sealed .* no cluster key/);
  });

  it('lists the variables the tasks need', () => {
    expect(variableKeysOf([prep, train]).sort()).toEqual(['plain_token', 'registry', 's3_key']);
  });
});

describe('checkGpuCapacity', () => {
  const worker = (name: string, queues: string[], gpus: number): WorkerRecord => ({
    name, hostname: 'h', queues, concurrency: 4, gpus, state: 'active', running: [], firstSeenAt: new Date(), lastHeartbeatAt: new Date(),
    processed: 0, failed: 0, startedAt: null, version: null, unacked: {},
  });

  it('waits while no live worker serves the queue, or one has enough GPUs', () => {
    expect(() => checkGpuCapacity(train, [])).not.toThrow();
    expect(() => checkGpuCapacity(train, [worker('w1', ['default'], 8)])).not.toThrow();
    expect(() => checkGpuCapacity(train, [worker('w1', ['gpu'], 1), worker('w2', ['gpu'], 2)])).not.toThrow();
  });

  it('fails a task asking for more GPUs than any worker of its queue has', () => {
    expect(() => checkGpuCapacity(train, [worker('w1', ['gpu'], 1), worker('w2', ['gpu', 'default'], 0)])).toThrow(
      new DispatchError('asks for 2 GPU(s) but the workers of queue "gpu" have at most 1 (w1: 1, w2: 0). Fix: start a worker with --gpus listing 2 GPU ids on that queue, or lower resources.gpus'),
    );
  });
});

describe('buildTaskMessage with an artefacts store', () => {
  it('gives the try its prefix and its run\'s, and nothing more for a folder', () => {
    const m = buildTaskMessage(ti(prep), prep, { run, dag }, new Map(), null, parseArtifactsUrl('file:///data/artifacts'));
    expect(m.artifacts).toEqual({ url: 'file:///data/artifacts/ml/manual__1/prep/try-2.ti-9/', runUrl: 'file:///data/artifacts/ml/manual__1/' });
  });

  it('names where the run\'s cached tasks keep their artefacts: their source tries\' prefixes', () => {
    const results = { ...NO_RESULTS, cached: new Map([['train', { dagId: 'ml_other', runId: 'manual__0', taskId: 'train', tiId: 4, tryNumber: 3 }]]) };
    const m = buildTaskMessage(ti(prep), prep, { run, dag }, new Map(), null, parseArtifactsUrl('file:///data/artifacts'), results);
    expect(m.artifacts).toEqual({
      url: 'file:///data/artifacts/ml/manual__1/prep/try-2.ti-9/', runUrl: 'file:///data/artifacts/ml/manual__1/',
      cached: { train: 'file:///data/artifacts/ml_other/manual__0/train/try-3.ti-4/' },
    });
  });

  it('seals the S3 settings for this try only', () => {
    const s3vars = new Map([
      variable('artifacts_s3_endpoint', 'http://minio:9000', false), variable('artifacts_s3_access_key_id', 'minio', true),
      variable('artifacts_s3_secret_access_key', 'minio-secret', true),
    ]);
    const m = buildTaskMessage(ti(prep), prep, { run, dag }, s3vars, key, parseArtifactsUrl('s3://ml-data/sf'));
    expect(m.artifacts!.url).toBe('s3://ml-data/sf/ml/manual__1/prep/try-2.ti-9/');
    expect(JSON.stringify(m)).not.toContain('minio-secret');
    expect(JSON.parse(key.decryptFor(m.artifacts!.s3!, taskSecretContext('secret', 'artifacts_s3', 9, 2))))
      .toEqual({ endpoint: 'http://minio:9000', region: 'us-east-1', accessKeyId: 'minio', secretAccessKey: 'minio-secret' });
    expect(() => key.decryptFor(m.artifacts!.s3!, taskSecretContext('secret', 'artifacts_s3', 9, 3))).toThrow();
  });

  it('fails the try naming the missing credentials variable', () => {
    expect(() => buildTaskMessage(ti(prep), prep, { run, dag }, new Map(), key, parseArtifactsUrl('s3://ml-data/sf')))
      .toThrow(new DispatchError('the artefacts store s3://ml-data/sf/ is in S3, and variable "artifacts_s3_access_key_id" does not exist. ' +
        'Fix: swarmflow variables set artifacts_s3_access_key_id - --secret, and the same for artifacts_s3_secret_access_key (and artifacts_s3_endpoint for MinIO)'));
  });
});

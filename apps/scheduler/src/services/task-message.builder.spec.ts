import { validateDag, type TaskSpec } from '@swarmflow/core';
import type { DagRun, TaskInstance, VariableRecord, WorkerRecord } from '@swarmflow/persistence';
import { ClusterKey } from '@swarmflow/secrets';
import { buildTaskMessage, checkGpuCapacity, DispatchError, variableKeysOf } from './task-message.builder';

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
  logicalDate: new Date('2026-01-02T03:04:05Z'), conf: {}, params: { epochs: 7 }, createdAt: new Date(), startedAt: null, endedAt: null,
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

  it('seals every variable a container task mounts: secrets copied, plain ones encrypted, none in plain text', () => {
    const m = buildTaskMessage(ti(train), train, { run, dag }, variables, key);
    expect(m.kind).toBe('docker');
    expect(m.docker).toMatchObject({ image: 'trainer:7', gpus: 2, network: 'none' });
    expect(m.command).toEqual(['python', 'train.py', '--epochs', '7']);
    expect(m.secrets!.map((s) => [s.key, key.decrypt(s.ciphertext)])).toEqual([['s3_key', 'AKIA-secret'], ['plain_token', 'tok-123']]);
    expect(key.decrypt(m.registryAuth!)).toBe('{"username":"u","password":"p"}');
    const wire = JSON.stringify(m);
    for (const plain of ['AKIA-secret', 'tok-123', '"password"']) expect(wire).not.toContain(plain);
  });

  it('fails with a fix when a variable is missing', () => {
    const missing = new Map([...variables].filter(([k]) => k !== 's3_key'));
    expect(() => buildTaskMessage(ti(train), train, { run, dag }, missing, key)).toThrow(
      new DispatchError('variable "s3_key" does not exist. Fix: swarmflow variables set s3_key - --secret (the value is read from stdin)'),
    );
  });

  it('fails when a plain variable must be encrypted and the scheduler has no cluster key', () => {
    expect(() => buildTaskMessage(ti(train), train, { run, dag }, variables, null)).toThrow(/variable "plain_token" must be encrypted .* no cluster key/);
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

import type { TaskMessage } from '@swarmflow/core';
import type { ContainerHooks, ContainerResult, ContainerSpec, DockerExecutor } from '@swarmflow/executors';
import { dockerSpec } from '@swarmflow/executors/test-support/docker';
import { controlQueue, EXCHANGES } from '@swarmflow/messaging';
import { ClusterKey } from '@swarmflow/secrets';
import { startHarness, taskMessage, type Harness, sealFor, TEST_CLUSTER_KEY, withSecrets } from './test-support/worker-harness';

/** A container executor that runs nothing: each run waits for the test to end it. */
class FakeDocker {
  readonly runs: { spec: ContainerSpec; hooks: ContainerHooks; cancelled: string | null; end(result?: Partial<ContainerResult>): void }[] = [];
  private waiters: Array<() => void> = [];

  run(spec: ContainerSpec, hooks: ContainerHooks) {
    let end!: (r: ContainerResult) => void;
    const result = new Promise<ContainerResult>((resolve) => (end = resolve));
    const entry = {
      spec, hooks, cancelled: null as string | null,
      end: (r: Partial<ContainerResult> = {}) => end({ exitCode: 0, signal: null, timedOut: false, cancelled: false, error: null, lost: null, oomKilled: false, ...r }),
    };
    this.runs.push(entry);
    for (const wake of this.waiters.splice(0)) wake();
    return {
      containerId: 'c'.repeat(64), started: Promise.resolve('c'.repeat(64)), result,
      cancel: (reason = 'cancel') => {
        entry.cancelled = reason;
        entry.end({ exitCode: 143, signal: 'SIGTERM', cancelled: true });
      },
    };
  }

  async listTaskContainers() {
    return [];
  }

  async reap() {
    return { seeds: 0, volumes: 0 };
  }

  /** Resolves once `n` runs were started (the limit names a failure; generous for a loaded machine). */
  async started(n: number, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.runs.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.runs.length} of ${n} containers started`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }
}

function gpuTask(gpus: number, overrides: Partial<TaskMessage> = {}): TaskMessage {
  return taskMessage({ kind: 'docker', command: 'train', docker: dockerSpec({ gpus }), queue: 'default', ...overrides });
}

describe('WorkerService with container tasks (fake Docker)', () => {
  let h: Harness;
  let docker: FakeDocker;

  beforeEach(() => {
    docker = new FakeDocker();
  });
  afterEach(async () => {
    for (const run of docker.runs) run.end();
    await h?.close();
  });

  async function harness(gpus: string[], concurrency = 4, clusterKey: ClusterKey = TEST_CLUSTER_KEY): Promise<Harness> {
    h = await startHarness({ gpus, concurrency }, { docker: docker as unknown as DockerExecutor, clusterKey });
    return h;
  }

  it('gives concurrent GPU tasks different GPU ids, and a waiting GPU task the ids freed', async () => {
    await harness(['0', '1', '2'], 4);
    const [a, b, c, cpu] = [gpuTask(2), gpuTask(1), gpuTask(1), taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() })];
    await h.submit(a, b, c, cpu);
    await docker.started(3);
    // c waits for a GPU while the CPU task, behind it, starts.
    expect(docker.runs.map((r) => r.spec.gpuIds)).toEqual([['0', '1'], ['2'], []]);
    expect(docker.runs[2].spec.labels['swarmflow.ti_id']).toBe(String(cpu.tiId));
    expect(docker.runs[2].spec.hideGpus).toBe(true);
    expect(h.worker.freeGpuIds()).toEqual([]);
    docker.runs[0].end();
    await docker.started(4);
    expect(docker.runs[3].spec.gpuIds).toEqual(['0']);
    expect(docker.runs[3].spec.labels['swarmflow.ti_id']).toBe(String(c.tiId));
    expect(docker.runs[3].spec.labels['swarmflow.gpus']).toBe('0');
    await h.published.finishedOf(a.tiId);
    expect(h.worker.freeGpuIds()).toEqual(['1']);
    const beat = await h.published.waitFor('a heartbeat', () => h.published.heartbeats().at(-1));
    expect(beat.gpus).toBe(3);
  });

  it('keeps the GPUs of a try whose container the executor lost track of (it may still run), frees them otherwise', async () => {
    await harness(['0', '1'], 4);
    const lost = gpuTask(1);
    const ended = gpuTask(1);
    await h.submit(lost, ended);
    await docker.started(2);
    docker.runs[0].end({ exitCode: null, error: 'lost track of container abc: socket hang up', containerMayRun: true });
    docker.runs[1].end({ exitCode: 0 });
    expect(await h.published.finishedOf(lost.tiId)).toMatchObject({ outcome: 'failed', exitCode: null });
    await h.published.finishedOf(ended.tiId);
    expect(h.worker.freeGpuIds()).toEqual([docker.runs[1].spec.gpuIds![0]]);
    await h.logger.waitForLine(new RegExp(`GPU ${docker.runs[0].spec.gpuIds![0]} of task instance ${lost.tiId} try 1 stay reserved`));
  });

  it('reports the container id, the GPU devices it gave and the runtime with the end (the try page shows them)', async () => {
    await harness(['0', '1']);
    const task = gpuTask(2);
    await h.submit(task);
    await docker.started(1);
    docker.runs[0].end({ exitCode: 0 });
    const finished = await h.published.finishedOf(task.tiId);
    const spec = task.docker!;
    expect(docker.runs[0].spec.gpuIds).toHaveLength(2);
    expect(finished.container).toEqual({
      id: 'c'.repeat(64), gpus: docker.runs[0].spec.gpuIds, runtime: spec.runtime ?? (spec.gpuMode === 'runtime' ? 'nvidia' : null),
    });
  });

  it('a confirmed cache hit: the executor gets the cached digest; the end names the source try, with no container', async () => {
    await harness([]);
    const digest = `sha256:${'d'.repeat(64)}`;
    const task = taskMessage({
      kind: 'docker', command: 'train', docker: dockerSpec({ image: 'ml/train:latest' }), cacheKey: 'a'.repeat(64), cacheCheck: { tiId: 7, tryNumber: 2, digest },
    });
    await h.submit(task);
    await docker.started(1);
    expect(docker.runs[0].spec.cachedDigest).toBe(digest);
    docker.runs[0].end({ exitCode: null, imageDigest: digest, cacheHit: true });
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'success', exitCode: null, reason: null, cachedFrom: { tiId: 7, tryNumber: 2 }, image: { ref: 'ml/train:latest', digest }, cacheKey: 'a'.repeat(64) });
    expect(finished.container).toBeUndefined();
    expect(finished.retryable).toBeUndefined();
    expect(h.published.logLines(task.tiId).map((l) => l.line)).toEqual([
      'try 1 of dag1.task1 (run manual__2024-01-01) started on w1, to confirm its cache hit (or else run a container of ml/train:latest)',
      'ended cached: takes the outputs of task instance 7 try 2, whose image digest it still has',
    ]);
  });

  it('a task message without a cache check gives the executor none, and its end names no source', async () => {
    await harness([]);
    const task = taskMessage({ kind: 'docker', command: 'train', docker: dockerSpec(), cacheKey: 'a'.repeat(64) });
    await h.submit(task);
    await docker.started(1);
    expect(docker.runs[0].spec.cachedDigest).toBeUndefined();
    docker.runs[0].end({ exitCode: 0 });
    expect((await h.published.finishedOf(task.tiId)).cachedFrom).toBeUndefined();
  });

  it('fails a task that needs more GPUs than the worker has, without running it, not retryable', async () => {
    await harness(['0', '1']);
    const task = gpuTask(4);
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toEqual({
      type: 'task.finished', tiId: task.tiId, tryNumber: 1, worker: 'w1', outcome: 'failed', exitCode: null, signal: null,
      reason: 'needs 4 GPUs, worker w1 has 2', logTail: [], retryable: false, at: expect.any(String),
      logs: { seq: 1, lines: [expect.objectContaining({ stream: 'system' })] },
    });
    expect(docker.runs).toEqual([]);
    await h.consumers.waitFor('the ack', () => h.consumers.settlements.find((s) => s.tiId === task.tiId && s.as === 'ack'));
    expect(h.published.logLines(task.tiId)).toEqual([{ stream: 'system', line: `try 1 of dag1.task1 (run manual__2024-01-01) not run on w1: needs 4 GPUs, worker w1 has 2` }]);
  });

  it('drops a task cancelled before its message arrived, reporting it cancelled and not retryable', async () => {
    await harness([]);
    const task = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() });
    await h.control('worker.all', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 });
    await h.control(`worker.w1`, { type: 'task.cancel', tiId: 999_999, tryNumber: 1 });
    await h.consumers.waitFor('the cancels', () => h.consumers.settlements.filter((s) => s.queue === controlQueue('w1').name).length >= 2);
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'failed', reason: 'cancelled', retryable: false, exitCode: null });
    expect(docker.runs).toEqual([]);
  });

  it('a user cancel stops the container and is not retryable; a shutdown cancel is', async () => {
    await harness([]);
    const [a, b] = [taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() }), taskMessage({ kind: 'docker', command: 'y', docker: dockerSpec() })];
    await h.submit(a, b);
    await docker.started(2);
    await h.control('worker.all', { type: 'task.cancel', tiId: a.tiId, tryNumber: 1 });
    expect(await h.published.finishedOf(a.tiId)).toMatchObject({ outcome: 'failed', reason: 'cancelled', retryable: false, exitCode: 143 });
    expect(docker.runs[0].cancelled).toBe('cancelled');
    void h.worker.shutdown('worker shutdown');
    const finished = await h.published.finishedOf(b.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', reason: 'worker shutdown' });
    expect(finished.retryable).toBeUndefined();
  });

  it('cancels a try waiting in the buffer', async () => {
    await harness(['0'], 2);
    const [a, b] = [gpuTask(1), gpuTask(1)];
    await h.submit(a, b);
    await docker.started(1);
    await h.control('worker.all', { type: 'task.cancel', tiId: b.tiId, tryNumber: 1 });
    expect(await h.published.finishedOf(b.tiId)).toMatchObject({ outcome: 'failed', reason: 'cancelled', retryable: false });
    docker.runs[0].end();
    await h.published.finishedOf(a.tiId);
    expect(docker.runs).toHaveLength(1);
  });

  it('decrypts secrets and registry credentials, and masks their values in every line, the tail and the reason', async () => {
    const key = ClusterKey.generate();
    await harness([], 2, key);
    const task = withSecrets(taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec({ registryCredentials: 'registry' }) }), { db_password: 'hunter2' }, key);
    task.registryAuth = sealFor(task, 'registry', JSON.stringify({ username: 'bot', password: 'regpass', serveraddress: 'registry.local' }), key, 'registry');
    await h.submit(task);
    await docker.started(1);
    const { spec, hooks } = docker.runs[0];
    expect(spec.secrets).toEqual([{ key: 'db_password', value: 'hunter2' }]);
    expect(spec.registryAuth).toEqual({ username: 'bot', password: 'regpass', serveraddress: 'registry.local' });
    expect(JSON.parse(spec.labels['swarmflow.sealed_secrets'])).toEqual([{ k: 'db_password', c: task.secrets![0].ciphertext }]);
    hooks.onLine('stdout', 'password is hunter2, registry regpass');
    hooks.onStatus!('pulling with regpass');
    docker.runs[0].end({ exitCode: null, error: 'denied for hunter2' });
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ reason: 'denied for ***', logTail: ['password is ***, registry ***'] });
    const all = JSON.stringify(h.published.all.filter((p) => p.exchange !== EXCHANGES.tasks));
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('regpass');
    expect(h.published.logLines(task.tiId).map((l) => l.line)).toContain('pulling with ***');
  });

  it('masks a multi-line secret line by line, leaves one too short to mask alone and warns about it by name', async () => {
    const key = ClusterKey.generate();
    await harness([], 2, key);
    const task = withSecrets(taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() }),
      { tls_key: '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----', pin: 'a' }, key);
    await h.submit(task);
    await docker.started(1);
    const { hooks } = docker.runs[0];
    // The executor masks before its line cut; the worker hands it the masker.
    expect(hooks.mask!('MIIBOgIBAAJBAKj34').length).toBe(3);
    for (const line of ['-----BEGIN KEY-----', 'MIIBOgIBAAJBAKj34', '-----END KEY-----', 'a banana']) hooks.onLine('stdout', line);
    docker.runs[0].end();
    await h.published.finishedOf(task.tiId);
    const lines = h.published.logLines(task.tiId).map((l) => l.line);
    expect(lines).toEqual(expect.arrayContaining(['***', 'a banana']));
    expect(lines.filter((l) => l === '***')).toHaveLength(3);
    expect(lines).toContain('warning: pin is shorter than 4 characters and not masked in this log ' +
      '(masking it would hide every occurrence of those characters); use a longer secret value');
  });

  it('says which secret cannot be decrypted with the worker\'s key', async () => {
    await harness([], 2, ClusterKey.generate());
    const task = withSecrets(taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() }), { k: 'v' }, ClusterKey.generate());
    await h.submit(task);
    expect((await h.published.finishedOf(task.tiId)).reason).toMatch(/^cannot decrypt secret "k": the ciphertext was sealed for another task try or variable, or with another cluster key/);
  });

  it('reports an OOM kill as out of memory', async () => {
    await harness([]);
    const task = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec({ memoryBytes: 6_000_000 }) });
    await h.submit(task);
    await docker.started(1);
    docker.runs[0].end({ exitCode: 137, oomKilled: true });
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'failed', exitCode: 137, reason: 'out of memory (limit 6000000 bytes)' });
  });

  it('fails container tasks on a worker without Docker', async () => {
    h = await startHarness({}, { docker: null });
    const task = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'failed', reason: 'worker w1 has no Docker engine to run container tasks' });
  });
});

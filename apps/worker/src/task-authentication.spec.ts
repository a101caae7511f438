import { EXCHANGES, MemoryBroker, taskQueue, type MessageHandler } from '@swarmflow/messaging';
import { ClusterKey, TaskSigner } from '@swarmflow/secrets';
import { openTaskMessage, TaskMessageRefusedError } from './task-message.decoder';
import {
  PublishRecorder, RecordingLogger, sealFor, signed, startHarness, taskMessage, TEST_CLUSTER_KEY, withSecrets, type Harness,
} from './test-support/worker-harness';
import { WorkerService } from './worker.service';

/** What a forger would run; the tests check that no process starts at all. */
const forgedCommand = 'echo forged-ran';

describe('task messages are authenticated', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** Publishes `body` raw on the task exchange, waits for the worker's refusal line, and checks nothing ran or is left queued. */
  async function expectRefused(body: object, reason: string): Promise<void> {
    await h.broker.publish(EXCHANGES.tasks, 'default', body);
    await h.logger.waitForLine(new RegExp(`refused a task message on queue default.*: ${reason}: `));
    expect(h.processes.spawned).toBe(0);
    expect(h.published.events('task.started')).toEqual([]);
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 0, consumers: 1 });
    expect(h.worker.refusedTaskMessages()[reason as 'unsigned']).toBe(1);
  }

  it('runs a message signed with its cluster key', async () => {
    h = await startHarness();
    const task = taskMessage({ command: 'true' });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'success' });
    expect(h.worker.refusedTaskMessages()).toEqual({});
  });

  it('refuses a bare, unsigned task message (what a forger publishes)', async () => {
    h = await startHarness();
    await expectRefused(taskMessage({ command: forgedCommand }), 'unsigned');
    expect(h.logger.lines.find((l) => l.includes('refused'))).toMatch(/\(it names task instance \d+ try 1\)/);
    expect(h.published.finished()).toEqual([]);
  });

  it('refuses a message signed with another key', async () => {
    h = await startHarness();
    await expectRefused(signed(taskMessage({ command: forgedCommand }), ClusterKey.generate()), 'bad_signature');
    expect(h.published.finished()).toEqual([]);
  });

  it('refuses a signed message whose command was altered, and one whose signature was moved to another message', async () => {
    h = await startHarness();
    const genuine = signed(taskMessage({ command: 'true' }));
    await expectRefused({ ...genuine, message: genuine.message.replace('"true"', JSON.stringify(forgedCommand)) }, 'bad_signature');
    const other = signed(taskMessage({ command: forgedCommand }));
    await h.broker.publish(EXCHANGES.tasks, 'default', { ...other, sig: genuine.sig });
    await h.logger.waitForLine(new RegExp(`refused a task message on queue default \\(it names task instance ${other.tiId} try 1\\): bad_signature: `));
    expect(h.processes.spawned).toBe(0);
    expect(h.worker.refusedTaskMessages()).toEqual({ bad_signature: 2 });
  });

  it('refuses a signed message issued too long ago: reported failed (retryable), never run', async () => {
    h = await startHarness({ maxMessageAgeMs: 60_000 });
    const task = taskMessage({ command: forgedCommand });
    await h.broker.publish(EXCHANGES.tasks, 'default', signed(task, TEST_CLUSTER_KEY, Date.now() - 120_000));
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^task message refused: issued 120 s ago, more than this worker's max age of 60 s/) });
    expect(finished.retryable).toBeUndefined();
    expect(h.processes.spawned).toBe(0);
    expect(h.worker.refusedTaskMessages()).toEqual({ stale: 1 });
  });

  // A message the broker delivered just before the consumers were paused reaches a worker
  // that no longer takes work. Stale, it must still be reported (nothing else would report
  // it, and its try would stay queued); fresh, it goes back to the queue for another worker.
  it.each(['draining', 'stopping'] as const)('reports a stale message reaching a %s worker failed (retryable) instead of dropping it', async (state) => {
    const logger = new RecordingLogger();
    const broker = new MemoryBroker({ logger });
    await broker.start();
    const published = new PublishRecorder(broker);
    let onTask: MessageHandler | undefined;
    const consume = broker.consume.bind(broker);
    broker.consume = async (spec, handler, options) => {
      if (spec.name === taskQueue('default').name) onTask = handler as MessageHandler;
      return consume(spec, handler, options);
    };
    const worker = new WorkerService(broker, {
      name: 'w1', hostname: 'h', queues: ['default'], concurrency: 1, heartbeatIntervalMs: 60_000, logFlushMs: 20, graceMs: 1000,
    }, { logger, docker: null, clusterKey: TEST_CLUSTER_KEY });
    await worker.start();
    try {
      const busy = taskMessage({ command: 'sleep 30' });
      await broker.publish(EXCHANGES.tasks, 'default', signed(busy));
      await published.startedOf(busy.tiId);
      const stopping = state === 'draining' ? worker.pause() : worker.drain();
      await published.waitFor(`the ${state} heartbeat`, () => published.heartbeats().find((b) => b.state === state));
      expect(worker.state).toBe(state);

      const stale = taskMessage({ command: forgedCommand });
      let settle!: (as: string) => void;
      const settled = new Promise<string>((resolve) => (settle = resolve));
      await onTask!({
        body: signed(stale, TEST_CLUSTER_KEY, Date.now() - 48 * 3_600_000), routingKey: 'default', redelivered: false,
        ack: () => settle('ack'), nack: (requeue) => settle(`nack(${requeue})`),
      });
      const finished = await published.finishedOf(stale.tiId);
      expect(finished).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^task message refused: issued 172800 s ago/) });
      expect(finished.retryable).toBeUndefined();
      expect(await settled).toBe('ack');
      expect(worker.refusedTaskMessages()).toEqual({ stale: 1 });
      if (state === 'draining') await stopping;
    } finally {
      await worker.shutdown();
      await broker.close();
    }
  }, 60_000);

  it('refuses everything when the worker has no cluster key', async () => {
    h = await startHarness({}, { clusterKey: null });
    await expectRefused(signed(taskMessage({ command: forgedCommand })), 'no_key');
  });
});

describe('sealed secrets open only for their try', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  const dockerTask = () => taskMessage({
    kind: 'docker', command: ['true'], docker: {
      image: 'busybox', pullPolicy: 'never', entrypoint: null, user: null, volumes: [], network: 'none', labels: {},
      registryCredentials: null, cpus: null, memoryBytes: null, gpus: 0, gpuMode: 'device-request', runtime: null, autoRemove: true,
      secretsPath: '/secrets/variables',
    },
  });

  it.each([
    ['the at-rest ciphertext from the database', () => TEST_CLUSTER_KEY.encrypt('hunter2')],
    ['a ciphertext sealed for another try', (t: ReturnType<typeof dockerTask>) => sealFor({ tiId: t.tiId, tryNumber: t.tryNumber + 1 }, 'db_password', 'hunter2')],
    ['a ciphertext sealed for another task instance', (t: ReturnType<typeof dockerTask>) => sealFor({ tiId: t.tiId + 1000, tryNumber: t.tryNumber }, 'db_password', 'hunter2')],
    ['a ciphertext sealed for another variable', (t: ReturnType<typeof dockerTask>) => sealFor(t, 'other', 'hunter2')],
  ])('a signed message carrying %s fails its try without running it, and counts the refusal', async (_what, ciphertext) => {
    const runs: unknown[] = [];
    h = await startHarness({}, { docker: { run: (spec: unknown) => { runs.push(spec); throw new Error('must not run'); } } as never });
    const task = dockerTask();
    task.secrets = [{ key: 'db_password', ciphertext: ciphertext(task) }];
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^cannot decrypt secret "db_password": the ciphertext (is not sealed for this task try|was sealed for another task try)/) });
    expect(JSON.stringify(h.published.all.filter((p) => p.exchange !== EXCHANGES.tasks))).not.toContain('hunter2');
    expect(h.logger.lines.join('\n')).not.toContain('hunter2');
    expect(runs).toEqual([]);
    expect(h.worker.refusedTaskMessages()).toEqual({ secret_not_bound: 1 });
  });

  it('opens a secret sealed for this very try', async () => {
    const runs: Array<{ secrets: unknown }> = [];
    const ended = { exitCode: 0, signal: null, timedOut: false, cancelled: false, error: null, lost: null, oomKilled: false };
    const docker = { run: (spec: { secrets: unknown }) => (runs.push(spec), { containerId: null, result: Promise.resolve(ended), cancel: () => undefined }) };
    h = await startHarness({}, { docker: docker as never });
    const task = withSecrets(dockerTask(), { db_password: 'hunter2' });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'success' });
    expect(runs[0]?.secrets).toEqual([{ key: 'db_password', value: 'hunter2' }]);
    expect(h.worker.refusedTaskMessages()).toEqual({});
  });
});

describe('openTaskMessage', () => {
  const signer = new TaskSigner(TEST_CLUSTER_KEY);

  it('returns what was signed; refusals name their reason and never the body', () => {
    const task = taskMessage({ env: { TOKEN: 'abc' } });
    expect(openTaskMessage(signed(task), signer, Date.now(), 60_000)).toEqual(task);
    const refusal = (body: unknown, s: TaskSigner | null = signer): TaskMessageRefusedError => {
      try {
        openTaskMessage(body, s, Date.now(), 60_000);
      } catch (err) {
        return err as TaskMessageRefusedError;
      }
      throw new Error('not refused');
    };
    expect(refusal(task).reason).toBe('unsigned');
    expect(refusal({ ...signed(task), sig: 'AAAA' }).reason).toBe('bad_signature');
    expect(refusal(signed(task), null).reason).toBe('no_key');
    expect(refusal(signed(task, TEST_CLUSTER_KEY, Date.now() + 3_600_000)).message).toMatch(/in the future: the scheduler's and this worker's clocks differ/);
    const lying = signed(task);
    expect(refusal({ ...lying, tiId: task.tiId + 1 }).message).toMatch(/^signed, but its envelope names task instance \d+ try 1 and its message \d+ try 1$/);
    for (const err of [refusal(task), refusal({ ...signed(task), sig: 'AAAA' })]) expect(err.message).not.toContain('abc');
  });
});

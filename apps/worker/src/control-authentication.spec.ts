import type { TaskClaimReply } from '@swarmflow/core';
import { controlQueue, EXCHANGES, MemoryBroker, taskQueue } from '@swarmflow/messaging';
import { ClusterKey } from '@swarmflow/secrets';
import { PublishRecorder, RecordingLogger, signed, signedControl, startHarness, taskMessage, TEST_CLUSTER_KEY, type Harness } from './test-support/worker-harness';
import { WorkerService } from './worker.service';

// Control messages (cancel, drain, shutdown, resume, claim answers, heartbeat requests) are
// signed like task messages, with a key of their own: anyone who can publish to the broker
// must not be able to stop tries, drain workers or answer claims.
describe('control messages are authenticated', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** Publishes `body` raw to `routingKey` and waits for the worker to refuse it (log line, nack without requeue). */
  async function expectRefused(routingKey: string, body: object, reason: string): Promise<void> {
    const before = h.consumers.settlements.filter((s) => s.queue === controlQueue('w1').name).length;
    await h.broker.publish(EXCHANGES.control, routingKey, body);
    await h.logger.waitForLine(new RegExp(`refused a control message on ${routingKey.replace('.', '\\.')}: ${reason}: `));
    const settled = await h.consumers.waitFor('the control message settled', () => h.consumers.settlements.filter((s) => s.queue === controlQueue('w1').name)[before]);
    expect(settled).toMatchObject({ as: 'nack', requeue: false });
  }

  async function runningSleeper(): Promise<ReturnType<typeof taskMessage>> {
    const task = taskMessage({ command: 'sleep 30' });
    await h.submit(task);
    await h.published.startedOf(task.tiId);
    return task;
  }

  it('obeys a command signed with its cluster key for the routing key it came on', async () => {
    h = await startHarness();
    const task = await runningSleeper();
    await h.control('worker.w1', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 });
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'failed', reason: 'cancelled', retryable: false });
    expect(h.worker.refusedControlMessages()).toEqual({});
  });

  it('refuses a bare, unsigned cancel (what a forger publishes): the try runs on', async () => {
    h = await startHarness();
    const task = await runningSleeper();
    await expectRefused('worker.all', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 }, 'unsigned');
    expect(h.worker.runningTasks()).toEqual([{ tiId: task.tiId, tryNumber: 1 }]);
    expect(h.published.finished()).toEqual([]);
    expect(h.worker.refusedControlMessages()).toEqual({ unsigned: 1 });
  });

  it('refuses a drain signed with another key, and a shutdown signed for another worker: it stays active', async () => {
    h = await startHarness();
    await expectRefused('worker.w1', signedControl('worker.w1', { type: 'worker.drain', worker: 'w1' }, ClusterKey.generate()), 'bad_signature');
    // Genuinely signed, but for worker.w2's routing key: moved to this worker's, it does not verify.
    await expectRefused('worker.all', signedControl('worker.w2', { type: 'worker.shutdown', worker: 'all' }), 'bad_signature');
    expect(h.worker.state).toBe('active');
    expect(h.worker.refusedControlMessages()).toEqual({ bad_signature: 2 });
  });

  it('refuses an altered command', async () => {
    h = await startHarness();
    const genuine = signedControl('worker.w1', { type: 'worker.resume', worker: 'w1' });
    await expectRefused('worker.w1', { ...genuine, control: genuine.control.replace('worker.resume', 'worker.shutdown') }, 'bad_signature');
    expect(h.worker.state).toBe('active');
  });

  it('refuses one issued too long ago, and a replayed copy of one it obeyed', async () => {
    h = await startHarness();
    await expectRefused('worker.w1', signedControl('worker.w1', { type: 'worker.drain', worker: 'w1' }, TEST_CLUSTER_KEY, Date.now() - 10 * 60_000), 'stale');
    expect(h.worker.state).toBe('active');
    const drain = signedControl('worker.w1', { type: 'worker.drain', worker: 'w1' });
    await h.broker.publish(EXCHANGES.control, 'worker.w1', drain);
    await h.logger.waitForLine(/draining: taking no new task/);
    await h.control('worker.w1', { type: 'worker.resume', worker: 'w1' });
    await h.logger.waitForLine(/resumed: taking work again/);
    await expectRefused('worker.w1', drain, 'replayed');
    expect(h.worker.state).toBe('active');
    expect(h.worker.refusedControlMessages()).toEqual({ stale: 1, replayed: 1 });
  });

  it('refuses a replayed copy whose signature is spelled another way (same bytes in base64)', async () => {
    h = await startHarness();
    const drain = signedControl('worker.w1', { type: 'worker.drain', worker: 'w1' });
    await h.broker.publish(EXCHANGES.control, 'worker.w1', drain);
    await h.logger.waitForLine(/draining: taking no new task/);
    await h.control('worker.w1', { type: 'worker.resume', worker: 'w1' });
    await h.logger.waitForLine(/resumed: taking work again/);
    // Node's base64 decoder ignores padding and characters outside the alphabet: these decode to the same MAC.
    await expectRefused('worker.w1', { ...drain, sig: drain.sig.replace(/=+$/, '') }, 'bad_signature');
    await expectRefused('worker.w1', { ...drain, sig: `${drain.sig.slice(0, 10)}\n${drain.sig.slice(10)}` }, 'bad_signature');
    expect(h.worker.state).toBe('active');
  });

  it('refuses an unsigned heartbeat request: no heartbeat is sent for it', async () => {
    h = await startHarness();
    const beats = h.published.heartbeats().length;
    await expectRefused('worker.all', { type: 'worker.heartbeat.request' }, 'unsigned');
    expect(h.published.heartbeats()).toHaveLength(beats);
  });

  it('refuses every command when the worker has no cluster key', async () => {
    h = await startHarness({}, { clusterKey: null });
    await expectRefused('worker.w1', signedControl('worker.w1', { type: 'worker.shutdown', worker: 'w1' }), 'no_key');
    expect(h.worker.state).toBe('active');
  });
});

describe('claim answers are authenticated', () => {
  it('a forged "run" answer does not run a redelivered try; the scheduler\'s signed "drop" settles it', async () => {
    const logger = new RecordingLogger();
    const broker = new MemoryBroker({ logger });
    await broker.start();
    const published = new PublishRecorder(broker);
    const task = taskMessage({ command: 'true' });
    let given!: () => void;
    const givenBack = new Promise<void>((resolve) => (given = resolve));
    const first = await broker.consume(taskQueue('default'), (msg) => {
      msg.nack(true);
      given();
    }, { prefetch: 1 });
    await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await givenBack;
    await first.cancel();
    const worker = new WorkerService(broker, {
      name: 'w1', hostname: 'h', queues: ['default'], concurrency: 1, heartbeatIntervalMs: 60_000, logFlushMs: 20,
      startedDelayMs: 0, claimRedeliveries: true, claimTimeoutMs: 10_000,
    }, { logger, docker: null, clusterKey: TEST_CLUSTER_KEY });
    await worker.start();
    try {
      await published.waitFor('the claim', () => published.events('task.claim')[0]);
      const reply = (verdict: 'run' | 'drop', reason: string | null): TaskClaimReply => ({ type: 'task.claim.reply', tiId: task.tiId, tryNumber: 1, verdict, reason });
      await broker.publish(EXCHANGES.control, 'worker.w1', reply('run', null));
      await broker.publish(EXCHANGES.control, 'worker.w1', signedControl('worker.w1', reply('run', null), ClusterKey.generate()));
      await logger.waitForLine(/refused a control message on worker\.w1: bad_signature: /);
      await broker.publish(EXCHANGES.control, 'worker.w1', signedControl('worker.w1', reply('drop', 'it runs on w2')));
      await logger.waitForLine(/not running redelivered task instance \d+ try 1: it runs on w2/);
      expect(published.events('task.started')).toEqual([]);
      expect(worker.refusedControlMessages()).toEqual({ unsigned: 1, bad_signature: 1 });
    } finally {
      await worker.shutdown();
      await broker.close();
    }
  });
});

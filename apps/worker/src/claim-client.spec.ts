import type { TaskClaimReply } from '@swarmflow/core';
import { EXCHANGES, MemoryBroker, taskQueue } from '@swarmflow/messaging';
import { PublishRecorder, RecordingLogger, signed, signedControl, taskMessage, TEST_CLUSTER_KEY } from './test-support/worker-harness';
import { WorkerService } from './worker.service';

// A redelivered task message may have run on another worker already (whose connection died
// before it acked): the worker claims the try from the scheduler first and runs it only if told to.
describe('a worker given a redelivered task message', () => {
  async function setUp(claimTimeoutMs = 5000) {
    const logger = new RecordingLogger();
    const broker = new MemoryBroker({ logger });
    await broker.start();
    const published = new PublishRecorder(broker);
    const task = taskMessage({ command: 'true' });
    // Delivered once to a consumer that gave it back: the next delivery is flagged redelivered.
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
      startedDelayMs: 0, claimRedeliveries: true, claimTimeoutMs,
    }, { logger, docker: null, clusterKey: TEST_CLUSTER_KEY });
    await worker.start();
    const answer = (verdict: 'run' | 'drop', reason: string | null = null) => {
      const reply: TaskClaimReply = { type: 'task.claim.reply', tiId: task.tiId, tryNumber: 1, verdict, reason };
      return broker.publish(EXCHANGES.control, 'worker.w1', signedControl('worker.w1', reply));
    };
    return { broker, published, logger, task, worker, answer, close: async () => { await worker.shutdown(); await broker.close(); } };
  }

  it('claims the try and drops the message when the scheduler says it ran elsewhere', async () => {
    const t = await setUp();
    const claim = await t.published.waitFor('the claim', () => t.published.events('task.claim')[0]);
    expect(claim).toMatchObject({ type: 'task.claim', tiId: t.task.tiId, tryNumber: 1, worker: 'w1' });
    await t.answer('drop', 'it runs on w2');
    await t.logger.waitForLine(/not running redelivered task instance \d+ try 1: it runs on w2/);
    expect(t.published.events('task.started')).toEqual([]);
    expect(t.published.finished()).toEqual([]);
    expect((await t.broker.queueStats(taskQueue('default').name)).messages).toBe(0);
    await t.close();
  });

  it('runs it when the scheduler grants the claim', async () => {
    const t = await setUp();
    await t.published.waitFor('the claim', () => t.published.events('task.claim')[0]);
    expect(t.published.events('task.started')).toEqual([]);
    await t.answer('run');
    expect(await t.published.finishedOf(t.task.tiId)).toMatchObject({ outcome: 'success' });
    await t.close();
  });

  it('gives the message back when nobody answers', async () => {
    const t = await setUp(200);
    await t.logger.waitForLine(/no answer to the claim of redelivered task instance \d+ try 1; giving it back/);
    expect(t.published.finished()).toEqual([]);
    await t.close();
  });

  it('heartbeats at once when the scheduler asks, while a claim waits on it', async () => {
    const t = await setUp();
    const before = t.published.heartbeats().length;
    await t.broker.publish(EXCHANGES.control, 'worker.all', signedControl('worker.all', { type: 'worker.heartbeat.request' }));
    await t.published.waitFor('a heartbeat', () => t.published.heartbeats().length > before);
    await t.close();
  });
});

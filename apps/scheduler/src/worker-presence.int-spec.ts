import type { WorkerHeartbeatEvent } from '@swarmflow/core';
import { controlQueue, EXCHANGES } from '@swarmflow/messaging';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// A worker killed with SIGKILL loses its broker connection, and with it its exclusive
// control queue: the scheduler finds it lost in seconds, long before the heartbeat timeout.
describeWithPostgres('workers whose broker connection closed', () => {
  const stack = useStack({
    dagFiles: { 'far.yaml': 'id: far\ndefaults: { retries: 1, retry_delay: 1h, queue: elsewhere }\ntasks:\n  job: { shell: "sleep 30" }\n' },
    scheduler: { heartbeatTimeoutMs: 60_000, workerGoneMs: 1000 },
  });

  it('are lost, and their tries failed for a retry, within seconds', async () => {
    const broker = await stack().broker();
    // The worker "ghost", played by hand: its control queue, a heartbeat, a try running on it.
    const control = await broker.consume(controlQueue('ghost'), (msg) => msg.ack(), { prefetch: 1 });
    const beat: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: 'ghost', hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running: [],
      state: 'active', at: new Date().toISOString(),
    };
    await broker.publish(EXCHANGES.events, 'worker.heartbeat', beat);
    const run = await stack().trigger('far');
    const queued = await waitUntil('the try queued', async () => (await stack().repos.tis.forRuns([run.pk])).find((t) => t.state === 'queued'), { timeoutMs: 30_000, intervalMs: 20 });
    await stack().db.query(`UPDATE task_instance SET state = 'running', worker = 'ghost', started_at = now() WHERE id = $1`, [queued.id]);
    await waitUntil('the scheduler to see the control queue of ghost', () => stack().scheduler.runner.presence.sees('ghost'), { timeoutMs: 30_000, intervalMs: 20 });
    const killedAt = Date.now();
    await control.cancel(); // the connection is gone: RabbitMQ deletes the exclusive, auto-delete queue
    const ti = await waitUntil('the try no longer running', async () => {
      const [now] = await stack().repos.tis.byIds([queued.id]);
      return now.state !== 'running' ? now : null;
    }, { timeoutMs: 30_000, intervalMs: 20 });
    // The reason tells the closed connection from the heartbeat timeout (60 s here, twice the wait
    // above): it is what proves the fast path, not a clock. The delay is printed (workerGoneMs is 1 s).
    expect(ti).toMatchObject({ state: 'up_for_retry', reason: 'worker ghost lost: its broker connection closed' });
    process.stdout.write(`worker-presence: the try of a worker whose connection closed failed ${Date.now() - killedAt} ms after (workerGoneMs 1000)\n`);
    expect((await stack().repos.workers.list()).find((w) => w.name === 'ghost')?.state).toBe('lost');
  }, 90_000);
});

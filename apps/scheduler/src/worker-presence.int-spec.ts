import type { WorkerHeartbeatEvent } from '@swarmflow/core';
import { controlQueue, EXCHANGES } from '@swarmflow/messaging';
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
    let tiId = 0;
    for (let i = 0; i < 250 && !tiId; i++) {
      const [ti] = await stack().repos.tis.forRuns([run.pk]);
      if (ti?.state === 'queued') {
        await stack().db.query(`UPDATE task_instance SET state = 'running', worker = 'ghost', started_at = now() WHERE id = $1`, [ti.id]);
        tiId = ti.id;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 250 && !stack().scheduler.runner.presence.sees('ghost'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(stack().scheduler.runner.presence.sees('ghost')).toBe(true);
    const killedAt = Date.now();
    await control.cancel(); // the connection is gone: RabbitMQ deletes the exclusive, auto-delete queue
    let ti = (await stack().repos.tis.byIds([tiId]))[0];
    for (let i = 0; i < 400 && ti.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      ti = (await stack().repos.tis.byIds([tiId]))[0];
    }
    expect(ti).toMatchObject({ state: 'up_for_retry', reason: 'worker ghost lost: its broker connection closed' });
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect((await stack().repos.workers.list()).find((w) => w.name === 'ghost')?.state).toBe('lost');
  }, 20_000);
});

import type { TaskClaimReply, TaskClaimRequest, TaskFinishedEvent, TaskStartedEvent, WorkerHeartbeatEvent } from '@swarmflow/core';
import { controlQueue, EXCHANGES } from '@swarmflow/messaging';
import type { TaskInstance } from '@swarmflow/persistence';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';
import type { SignedControlEnvelope } from '@swarmflow/secrets';
import { openedControl } from '../../worker/src/test-support/worker-harness';

// A worker given a redelivered task message claims the try before running it: the
// scheduler drops the claim when the try runs elsewhere or has ended, and grants a queued
// try only once every other live worker has been heard from since (one of them may have
// had the message first and run it unreported).
describeWithPostgres('claims of redelivered task messages', () => {
  const stack = useStack({
    // Queue "elsewhere" has no worker here: the tests play the workers with hand-made messages.
    dagFiles: { 'far.yaml': 'id: far\ndefaults: { queue: elsewhere }\ntasks:\n  job: { shell: "sleep 30" }\n' },
  });

  async function queuedTi(): Promise<TaskInstance> {
    const run = await stack().trigger('far');
    for (let i = 0; i < 200; i++) {
      const [ti] = await stack().repos.tis.forRuns([run.pk]);
      if (ti?.state === 'queued') return ti;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the task was never queued');
  }

  const send = async (routingKey: string, body: object) => (await stack().broker()).publish(EXCHANGES.events, routingKey, body);
  const claim = (ti: TaskInstance, worker: string): TaskClaimRequest =>
    ({ type: 'task.claim', tiId: ti.id, tryNumber: 1, worker, at: new Date().toISOString() });
  const started = (ti: TaskInstance, worker: string): TaskStartedEvent => ({
    type: 'task.started', tiId: ti.id, runPk: ti.runPk, tryNumber: 1, worker, hostname: 'h', pid: 42, at: new Date().toISOString(),
  });
  const finished = (ti: TaskInstance, worker: string): TaskFinishedEvent => ({
    type: 'task.finished', tiId: ti.id, runPk: ti.runPk, tryNumber: 1, worker, outcome: 'success', exitCode: 0,
    signal: null, reason: null, logTail: [], at: new Date().toISOString(),
  });
  const beat = (worker: string, running: { tiId: number; tryNumber: number }[] = [], held: { tiId: number; tryNumber: number }[] = []): WorkerHeartbeatEvent => ({
    type: 'worker.heartbeat', worker, hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running, held, state: 'active',
    at: new Date().toISOString(),
  });
  const stateOf = async (id: number) => (await stack().repos.tis.byIds([id]))[0];
  async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 250; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** What the scheduler sends to `worker`'s control queue. */
  async function controlOf(worker: string): Promise<{ type: string }[]> {
    const got: { type: string }[] = [];
    await (await stack().broker()).consume<SignedControlEnvelope>(controlQueue(worker), (msg) => {
      got.push(openedControl(msg.body, msg.routingKey, stack().clusterKey));
      msg.ack();
    }, { prefetch: 10 });
    return got;
  }
  const replies = (got: { type: string }[]) => got.filter((m): m is TaskClaimReply => m.type === 'task.claim.reply');

  it('drops a claim of a try that runs on another worker, and of one that has ended', async () => {
    const ti = await queuedTi();
    const toB = await controlOf('claims-b');
    await send('task.started', started(ti, 'claims-a'));
    await until(async () => (await stateOf(ti.id)).state === 'running', 'the start');
    await send('task.claim', claim(ti, 'claims-b'));
    await until(() => replies(toB).length === 1, 'the answer');
    expect(replies(toB)[0]).toEqual({ type: 'task.claim.reply', tiId: ti.id, tryNumber: 1, verdict: 'drop', reason: 'it runs on claims-a' });
    await send('task.finished', finished(ti, 'claims-a'));
    await until(async () => (await stateOf(ti.id)).state === 'success', 'the end');
    await send('task.claim', claim(ti, 'claims-b'));
    await until(() => replies(toB).length === 2, 'the second answer');
    expect(replies(toB)[1]).toMatchObject({ verdict: 'drop', reason: 'it has ended (success)' });
  });

  it('grants a queued try once every other live worker has been heard from after the claim, asking them for a heartbeat', async () => {
    const ti = await queuedTi();
    const toB = await controlOf('claims-d');
    const toC = await controlOf('claims-c');
    // Worker c is alive, and heard from before the claim: it might have had the message first.
    await send('worker.heartbeat', beat('claims-c'));
    await until(async () => (await stack().repos.workers.list()).some((w) => w.name === 'claims-c'), 'c\'s heartbeat');
    await send('task.claim', claim(ti, 'claims-d'));
    await until(() => toC.some((m) => m.type === 'worker.heartbeat.request'), 'the request for a heartbeat');
    expect(replies(toB)).toEqual([]);
    // c answers: it does not run the try, so d may.
    await send('worker.heartbeat', beat('claims-c'));
    await until(() => replies(toB).length === 1, 'the answer');
    expect(replies(toB)[0]).toEqual({ type: 'task.claim.reply', tiId: ti.id, tryNumber: 1, verdict: 'run', reason: null });
  });

  it('drops the claim when the witness\'s answer shows it ran the try', async () => {
    const ti = await queuedTi();
    const toB = await controlOf('claims-f');
    const toE = await controlOf('claims-e');
    await send('worker.heartbeat', beat('claims-e'));
    await until(async () => (await stack().repos.workers.list()).some((w) => w.name === 'claims-e'), 'e\'s heartbeat');
    await send('task.claim', claim(ti, 'claims-f'));
    await until(() => toE.some((m) => m.type === 'worker.heartbeat.request'), 'the request for a heartbeat');
    // e had the message first: its start was held up (its connection died), and comes before its heartbeat.
    await send('task.started', started(ti, 'claims-e'));
    await send('worker.heartbeat', beat('claims-e', [{ tiId: ti.id, tryNumber: 1 }]));
    await until(() => replies(toB).length === 1, 'the answer');
    expect(replies(toB)[0]).toMatchObject({ verdict: 'drop', reason: 'it runs on claims-e' });
  });

  it('drops the claim while another worker holds the message unstarted in its buffer', async () => {
    const ti = await queuedTi();
    // The hand-played workers of the tests above are gone: stopped, they are not waited for.
    await stack().db.query(`UPDATE worker SET state = 'stopped' WHERE name LIKE 'claims-%'`);
    const toH = await controlOf('claims-h');
    const toG = await controlOf('claims-g');
    await send('worker.heartbeat', beat('claims-g'));
    await until(async () => (await stack().repos.workers.list()).some((w) => w.name === 'claims-g'), 'g\'s heartbeat');
    await send('task.claim', claim(ti, 'claims-h'));
    await until(() => toG.some((m) => m.type === 'worker.heartbeat.request'), 'the request for a heartbeat');
    await send('worker.heartbeat', beat('claims-g', [], [{ tiId: ti.id, tryNumber: 1 }]));
    await until(() => replies(toH).length === 1, 'the answer');
    expect(replies(toH)[0]).toMatchObject({ verdict: 'drop', reason: 'it waits on claims-g' });
  });
});

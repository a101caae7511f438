import type { ControlMessage, TaskFinishedEvent, TaskStartedEvent } from '@swarmflow/core';
import { controlQueue, EXCHANGES } from '@swarmflow/messaging';
import type { TaskInstance } from '@swarmflow/persistence';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';
import type { SignedControlEnvelope } from '@swarmflow/secrets';
import { openedControl } from '../../worker/src/test-support/worker-harness';

// A second copy of a try's task message can reach a worker: a redelivery to a worker whose
// connection had died while it was paused, or a duplicate publish. The first copy to
// start keeps the try; the scheduler cancels the other, and the other's end does not
// count as the try's end.
describeWithPostgres('second copies of a try', () => {
  const stack = useStack({
    // Queue "elsewhere" has no worker here: the tests play the workers with hand-made events.
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

  const publish = async (event: TaskStartedEvent | TaskFinishedEvent) => (await stack().broker()).publish(EXCHANGES.events, event.type, event);
  const started = (ti: TaskInstance, worker: string): TaskStartedEvent => ({
    type: 'task.started', tiId: ti.id, runPk: ti.runPk, tryNumber: 1, worker, hostname: 'h', pid: 42, at: new Date().toISOString(),
  });
  const finished = (ti: TaskInstance, worker: string, outcome: 'success' | 'failed'): TaskFinishedEvent => ({
    type: 'task.finished', tiId: ti.id, runPk: ti.runPk, tryNumber: 1, worker, outcome, exitCode: outcome === 'success' ? 0 : null,
    signal: null, reason: outcome === 'success' ? null : 'cancelled', logTail: [], at: new Date().toISOString(), retryable: false,
  });
  const stateOf = async (id: number) => (await stack().repos.tis.byIds([id]))[0];
  /** Waits until `check` holds, failing after 5 s (it used to give up silently and let the next expect fail). */
  const until = (check: () => Promise<boolean>, what = 'the condition'): Promise<boolean> => waitUntil(what, check, { intervalMs: 20 });

  /** The `task.cancel` messages sent to `worker`. */
  async function cancelsTo(worker: string): Promise<ControlMessage[]> {
    const got: ControlMessage[] = [];
    await (await stack().broker()).consume<SignedControlEnvelope>(controlQueue(worker), (msg) => {
      got.push(openedControl(msg.body, msg.routingKey, stack().clusterKey));
      msg.ack();
    }, { prefetch: 10 });
    return got;
  }

  it('cancels a copy started on a second worker and ignores its end; the first copy ends the try', async () => {
    const ti = await queuedTi();
    const toSecond = await cancelsTo('second');
    await publish(started(ti, 'first'));
    await until(async () => (await stateOf(ti.id)).state === 'running');
    await publish(started(ti, 'second'));
    await until(async () => toSecond.length > 0);
    expect(toSecond).toEqual([{ type: 'task.cancel', tiId: ti.id, tryNumber: 1 }]);
    // The cancelled copy reports its end, failed and not retryable: the try runs on.
    await publish(finished(ti, 'second', 'failed'));
    await stack().eventsApplied();
    expect(await stateOf(ti.id)).toMatchObject({ state: 'running', worker: 'first' });
    await publish(finished(ti, 'first', 'success'));
    await until(async () => (await stateOf(ti.id)).state === 'success');
    expect(await stateOf(ti.id)).toMatchObject({ state: 'success', worker: 'first' });
  });

  it('cancels a copy that starts on another worker after the try has ended', async () => {
    const ti = await queuedTi();
    const toLate = await cancelsTo('late');
    await publish(started(ti, 'first'));
    await publish(finished(ti, 'first', 'success'));
    await until(async () => (await stateOf(ti.id)).state === 'success');
    // The same message delivered again (a duplicate publish), to another worker.
    await publish(started(ti, 'late'));
    await until(async () => toLate.length > 0);
    expect(toLate).toEqual([{ type: 'task.cancel', tiId: ti.id, tryNumber: 1 }]);
    expect((await stateOf(ti.id)).state).toBe('success');
  });

  it('takes the redelivered task.started of the one execution (same worker, same try) for what it is: no second copy', async () => {
    const ti = await queuedTi();
    const toSame = await cancelsTo('same');
    const toWitness = await cancelsTo('witness');
    await publish(started(ti, 'same'));
    await publish(finished(ti, 'same', 'success'));
    await until(async () => (await stateOf(ti.id)).state === 'success');
    await publish(started(ti, 'same'));
    // A later copy on another worker is cancelled: once that cancel arrives, the redelivery above was decided.
    await publish(started(ti, 'witness'));
    await until(async () => toWitness.length > 0);
    expect(toWitness).toHaveLength(1);
    expect(toSame).toEqual([]);
  });
});

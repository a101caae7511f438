import type { TaskClaimReply, TaskClaimRequest, WorkerHeartbeatEvent } from '@swarmflow/core';
import { controlQueue, EVENTS_QUEUE, EXCHANGES, MemoryBroker } from '@swarmflow/messaging';
import type { SignedControlEnvelope } from '@swarmflow/secrets';
import { openedControl } from '../../worker/src/test-support/worker-harness';
import { Scheduler } from './scheduler';
import { quietLogger } from './test-support/stack';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

/** 51-byte lines (50 digits and the newline), 20 MB of them: batches go through the log sink. */
const BYTES = 20_000_000;
const LOUD = `
id: loud
tasks:
  talk: { shell: "yes ${'0123456789'.repeat(5)} | head -c ${BYTES}" }
`;

describeWithPostgres('a try that ended has its whole log stored', () => {
  jest.setTimeout(180_000);
  const stack = useStack({ dagFiles: { 'loud.yaml': LOUD } });

  it('20 MB of output: when the try says success, every line is stored', async () => {
    // A slow log sink: each store takes a while longer, as on a busy database.
    const logs = stack().repos.logs;
    const append = logs.append.bind(logs);
    logs.append = async (batches) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await append(batches);
    };
    const run = await stack().trigger('loud', {});
    const { state, tis } = await stack().waitForRun(run, 150_000);
    expect(state).toBe('success');
    const ti = tis.get('talk')!;
    expect(ti.state).toBe('success');
    // Read at once: no waiting for the sink.
    let cursor = 0;
    let output = 0;
    for (;;) {
      const page = await stack().repos.logs.read(ti.id, 1, cursor, 1000);
      if (page.cursor === cursor) break;
      cursor = page.cursor;
      output += page.lines.filter((l) => l.stream !== 'system').length;
    }
    expect(output).toBe(Math.ceil(BYTES / 51));
  });
});

/** 5,000 lines: more than a batch (2,000 lines), so the try publishes batches and its end waits for them. */
const COUNTING = `
id: counting
tasks:
  count: { shell: "seq 1 5000" }
`;

// Standalone, the in-memory broker dies with the process: a stop applies every event it was
// sent first, including an end the log gate still holds because its batches are not stored yet.
describeWithPostgres('a standalone stop', () => {
  jest.setTimeout(60_000);
  const stack = useStack({ dagFiles: { 'counting.yaml': COUNTING } });

  it('waits for an end held for its log, and records it, before it returns', async () => {
    const logs = stack().repos.logs;
    const append = logs.append.bind(logs);
    let openSink!: () => void;
    const sinkOpen = new Promise<void>((resolve) => (openSink = resolve));
    logs.append = async (batches) => {
      await sinkOpen;
      await append(batches);
    };
    const run = await stack().trigger('counting', {});
    const runner = stack().scheduler.runner;
    await waitUntil('the end held for its log', () => runner.endsHeldForLogs === 1, { timeoutMs: 20_000 });

    // What `npm start` does on Ctrl-C (server-commands.ts): hold dispatch, drain the worker, stop the scheduler finishing its events.
    runner.holdDispatch();
    for (const worker of stack().workers) await worker.drain();
    const broker = await stack().broker();
    const queueStats = broker.queueStats.bind(broker);
    let looks = 0;
    broker.queueStats = async (queue) => {
      if (queue === EVENTS_QUEUE.name) looks++;
      return queueStats(queue);
    };
    const stopping = stack().scheduler.stop({ finishEvents: true }).then(() => 'stopped' as const);
    // The stop keeps looking at the events queue while the end is held, rather than returning.
    const first = await Promise.race([stopping, waitUntil('the stop waiting for the held end', () => looks >= 3).then(() => 'waiting' as const)]);
    expect(first).toBe('waiting');
    expect(runner.endsHeldForLogs).toBe(1);
    openSink();
    expect(await stopping).toBe('stopped');
    const [ti] = await stack().repos.tis.forRuns([run.pk]);
    expect(ti).toMatchObject({ taskId: 'count', state: 'success' });
    expect(runner.endsHeldForLogs).toBe(0);
  });
});

/**
 * Two tries with batches: one ends before its start is reported (it stays queued until its end is applied), one after.
 * `quick` runs on a worker that defers `task.started` past any run time: within the usual 50 ms, a loaded machine
 * did not always end it (it was reported running).
 */
const TWO_COUNTS = `
id: two_counts
tasks:
  quick: { shell: "seq 1 5000", queue: quick }
  slow: { shell: "seq 1 5000; sleep 0.5" }
`;

// With two schedulers (HA), one holds a try's end until its log is stored while the other
// hears the worker's heartbeats (which no longer list the try, once the worker's memory of
// the end has passed) and its claims. The other must see the hold: neither fail the try as
// lost nor grant a claim to run it again; the holder alone applies the end.
describeWithPostgres('ends held for their logs, seen by a second scheduler', () => {
  jest.setTimeout(60_000);
  const stack = useStack({ dagFiles: { 'two_counts.yaml': TWO_COUNTS }, workers: [{}, { queues: ['quick'], startedDelayMs: 600_000 }] });

  it('the other scheduler neither fails a try as lost nor grants a claim to run it; the holder applies the ends', async () => {
    const logs = stack().repos.logs;
    const append = logs.append.bind(logs);
    let openSink!: () => void;
    const sinkOpen = new Promise<void>((resolve) => (openSink = resolve));
    logs.append = async (batches) => {
      await sinkOpen;
      await append(batches);
    };
    // The second scheduler hears only what this test sends it, on a broker of its own; same database.
    const otherBroker = new MemoryBroker();
    await otherBroker.start();
    const other = new Scheduler({
      dagsFolder: stack().folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 20_000, tickMs: 200, heartbeatTimeoutMs: 30_000, clusterKey: stack().clusterKey,
    }, stack().repos, otherBroker, quietLogger);
    // No worker listens on its broker: a try it queued (its tick may come first after the trigger) would never run.
    other.runner.holdDispatch();
    await other.start();
    try {
      const run = await stack().trigger('two_counts', {});
      const holder = stack().scheduler.runner;
      await waitUntil('both ends held for their logs', () => holder.endsHeldForLogs === 2, { timeoutMs: 20_000 });
      const tis = await waitUntil('slow running (its start applied by a tick), quick still queued', async () => {
        const all = new Map((await stack().repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
        return all.get('slow')?.state === 'running' && all.get('quick')?.state === 'queued' ? all : null;
      });
      const worker = tis.get('slow')!.worker!;

      const replies: TaskClaimReply[] = [];
      await otherBroker.consume<SignedControlEnvelope>(controlQueue(worker), (msg) => {
        replies.push(openedControl(msg.body, msg.routingKey, stack().clusterKey));
        msg.ack();
      }, { prefetch: 10 });
      // A heartbeat sent after the worker forgot the ends (it lists the tries neither running nor ended), then claims of both tries.
      const beat: WorkerHeartbeatEvent = {
        type: 'worker.heartbeat', worker, hostname: 'localhost', queues: ['default'], concurrency: 4, running: [], ended: [], state: 'active',
        at: new Date(Date.now() + 60_000).toISOString(),
      };
      await otherBroker.publish(EXCHANGES.events, 'worker.heartbeat', beat);
      for (const taskId of ['quick', 'slow']) {
        const claim: TaskClaimRequest = { type: 'task.claim', tiId: tis.get(taskId)!.id, tryNumber: 1, worker, at: new Date().toISOString() };
        await otherBroker.publish(EXCHANGES.events, 'task.claim', claim);
      }
      // Claims are answered after an iteration that applied the heartbeat sent before them.
      await waitUntil('the answers to the claims', () => replies.length === 2, { timeoutMs: 10_000 });
      const dropped = { type: 'task.claim.reply', tryNumber: 1, verdict: 'drop', reason: 'it has ended (its end waits for its log to be stored)' };
      expect(replies.sort((a, b) => a.tiId - b.tiId)).toEqual([tis.get('quick')!.id, tis.get('slow')!.id].sort((a, b) => a - b).map((tiId) => ({ ...dropped, tiId })));
      const now = new Map((await stack().repos.tis.forRuns([run.pk])).map((t) => [t.taskId, t]));
      expect([now.get('quick')?.state, now.get('slow')?.state]).toEqual(['queued', 'running']);

      openSink();
      const ended = await stack().waitForRun(run, 20_000);
      expect(ended.state).toBe('success');
      for (const taskId of ['quick', 'slow']) expect(ended.tis.get(taskId)).toMatchObject({ state: 'success', tryNumber: 1 });
    } finally {
      openSink();
      await other.stop();
      await otherBroker.close();
    }
  });
});

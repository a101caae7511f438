import { EVENTS_QUEUE } from '@swarmflow/messaging';
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

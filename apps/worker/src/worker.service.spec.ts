import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runProcess } from '@swarmflow/executors';
import { controlQueue, EXCHANGES, taskQueue } from '@swarmflow/messaging';
import { withTimeout } from '@swarmflow/messaging/test-support/wait';
import { startHarness, taskMessage, type Harness } from './test-support/worker-harness';
import { WorkerService, WorkerStateError } from './worker.service';

describe('WorkerService', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('with startedDelayMs 0, runs a task: task.started at the spawn, then its log batches, then task.finished with the last lines', async () => {
    h = await startHarness({ startedDelayMs: 0 });
    const task = taskMessage({ command: 'echo "hello $SWARMFLOW_DAG_ID/$SWARMFLOW_RUN_ID/$SWARMFLOW_TASK_ID/$SWARMFLOW_TRY_NUMBER $FOO"; echo oops >&2', env: { FOO: 'bar' } });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);

    expect(finished).toEqual({
      type: 'task.finished', tiId: task.tiId, tryNumber: 1, worker: 'w1', outcome: 'success', exitCode: 0, signal: null,
      reason: null, logTail: ['hello dag1/manual__2024-01-01/task1/1 bar', 'oops'], startedAt: expect.any(String), hostname: 'host1', at: expect.any(String),
      logs: expect.objectContaining({ seq: expect.any(Number) }),
    });
    const sequence = h.published.all
      .filter((p) => p.exchange !== EXCHANGES.tasks && p.routingKey !== 'worker.heartbeat')
      .map((p) => p.routingKey);
    expect(sequence[0]).toBe('task.started');
    expect(sequence[sequence.length - 1]).toBe('task.finished');
    expect(sequence.slice(1, -1).every((k) => k === `log.${task.tiId}`)).toBe(true);

    const started = h.published.events('task.started')[0];
    expect(started).toEqual({ type: 'task.started', tiId: task.tiId, tryNumber: 1, worker: 'w1', hostname: 'host1', pid: expect.any(Number), at: finished.startedAt });

    const batches = h.published.all.filter((p) => p.exchange === EXCHANGES.logs).map((p) => p.body);
    expect([...batches.map((b) => b.seq), finished.logs!.seq]).toEqual([...batches, finished.logs].map((_, i) => i + 1));
    const lines = h.published.logLines(task.tiId);
    expect(lines[0]).toEqual({ stream: 'system', line: expect.stringMatching(/^try 1 of dag1\.task1 \(run manual__2024-01-01\) started on w1 as pid \d+$/) });
    // stderr is stdout's pipe with the native spawner (the order kept), its own with Node's.
    expect(lines.filter((l) => l.stream !== 'system').map((l) => l.line)).toEqual(expect.arrayContaining([
      'hello dag1/manual__2024-01-01/task1/1 bar', 'oops',
    ]));
    expect(lines[lines.length - 1]).toEqual({ stream: 'system', line: expect.stringMatching(/^exited with code 0 after [\d.]+s$/) });
    await h.worker.drain();
    expect(h.published.heartbeats().at(-1)).toMatchObject({ state: 'stopped', running: [] });
  });

  it.each([
    [0, 'success'],
    [1, 'failed'],
    [99, 'skipped'],
    [3, 'failed'],
  ])('exit code %i is reported as %s (skip exit code 99)', async (code, outcome) => {
    h = await startHarness();
    const task = taskMessage({ command: `echo out; exit ${code}`, skipExitCode: 99 });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome, exitCode: code, signal: null, reason: null, logTail: ['out'] });
  });

  it('tasks inherit the environment as it was when the worker was made, without its SWARMFLOW_* settings', async () => {
    process.env.SWARMFLOW_AMQP_URL = 'amqp://user:secret@host';
    process.env.SF_WORKER_TEST_EARLY = 'early';
    try {
      h = await startHarness();
      process.env.SF_WORKER_TEST_LATE = 'late';
      const task = taskMessage({ command: 'echo "$SF_WORKER_TEST_EARLY|$SF_WORKER_TEST_LATE|$SWARMFLOW_AMQP_URL|$SWARMFLOW_TASK_ID"' });
      await h.submit(task);
      expect(await h.published.finishedOf(task.tiId)).toMatchObject({ logTail: ['early|||task1'] });
    } finally {
      delete process.env.SWARMFLOW_AMQP_URL;
      delete process.env.SF_WORKER_TEST_EARLY;
      delete process.env.SF_WORKER_TEST_LATE;
    }
  });

  it('a timeout fails the try with its reason, after killing the process group', async () => {
    h = await startHarness();
    const task = taskMessage({ command: 'echo begin; sleep 30 & wait', timeoutMs: 200 });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', exitCode: null, signal: 'SIGTERM', reason: 'timeout after 0.2s', logTail: ['begin'] });
    const system = h.published.logLines(task.tiId).filter((l) => l.stream === 'system').map((l) => l.line);
    expect(system).toContain('timeout after 0.2s: SIGTERM sent to the process group');
    expect(system[system.length - 1]).toMatch(/^ended by signal SIGTERM after [\d.]+s \(timeout after 0\.2s\)$/);
  });

  it('a spawn failure is reported as a failed try with the error', async () => {
    h = await startHarness();
    const task = taskMessage({ cwd: '/no/such/dir' });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', exitCode: null, reason: 'working directory /no/such/dir does not exist', startedAt: expect.any(String) });
    // It ended at once: no task.started.
    expect(h.published.events('task.started')).toEqual([]);
  });

  it('never runs more tasks than its concurrency, buffers the other deliveries (no nack, no pause), and runs them all', async () => {
    h = await startHarness({ concurrency: 2, startedDelayMs: 0 });
    const tasks = Array.from({ length: 6 }, () => taskMessage({ command: 'sleep 0.05' }));
    await h.submit(...tasks);
    await Promise.all(tasks.map((t) => h.published.finishedOf(t.tiId)));

    expect(h.processes.maxLive).toBe(2);
    expect(h.processes.spawned).toBe(6);
    expect(h.consumers.taskNacks()).toEqual([]);
    expect(h.consumers.pauses).toBe(0);
    expect(h.published.events('task.started')).toHaveLength(6);
    expect(h.published.finished().map((e) => e.outcome)).toEqual(Array(6).fill('success'));
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 0, consumers: 1 });
  });

  it('gives a buffered task back after maxBufferWaitMs and pauses its consumers until a slot frees', async () => {
    h = await startHarness({ concurrency: 1, maxBufferWaitMs: 100 });
    const long = taskMessage({ command: 'sleep 30' });
    const waiting = taskMessage();
    await h.submit(long);
    await h.published.startedOf(long.tiId);
    await h.submit(waiting);

    const givenBack = await h.consumers.waitFor('the waiting task given back', () =>
      h.consumers.taskNacks().find((s) => s.tiId === waiting.tiId));
    expect(givenBack.requeue).toBe(true);
    await h.consumers.waitFor('a pause', () => h.consumers.pauses === 1);
    expect(h.logger.lines).toContain('warn gave 1 task(s) back to the queue after 0.1s without a free slot; pausing until one frees');
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 1, consumers: 0 });
    expect(h.published.events('task.started').map((e) => e.tiId)).toEqual([long.tiId]);

    h.worker.cancelTask(long.tiId, 1);
    expect(await h.published.finishedOf(waiting.tiId)).toMatchObject({ outcome: 'success' });
    expect(h.consumers.resumes).toBe(1);
    // Run only once the slot freed. (Whether `true` sends a task.started of its own depends on its ending
    // within startedDelayMs, 50 ms: a loaded machine may not. If it does, it comes after the long one's end.)
    const order = h.published.all.filter((p) => [long.tiId, waiting.tiId].includes(p.body?.tiId)).map((p) => `${p.body.tiId}:${p.routingKey}`);
    expect(order.indexOf(`${long.tiId}:task.finished`)).toBeLessThan(order.indexOf(`${waiting.tiId}:task.finished`));
    expect(order.filter((k) => k.endsWith(':task.started'))).toEqual(
      order.includes(`${waiting.tiId}:task.started`) ? [`${long.tiId}:task.started`, `${waiting.tiId}:task.started`] : [`${long.tiId}:task.started`]);
    if (order.includes(`${waiting.tiId}:task.started`)) {
      expect(order.indexOf(`${long.tiId}:task.finished`)).toBeLessThan(order.indexOf(`${waiting.tiId}:task.started`));
    }
    expect(h.processes.maxLive).toBe(1);
  });

  it('frees the slot when the process exits, before task.finished is confirmed; drain waits for that report', async () => {
    // task.started at once, so the message is acked at the start and the next one can be delivered.
    h = await startHarness({ concurrency: 1, startedDelayMs: 0 });
    const first = taskMessage({ command: 'echo one' });
    const second = taskMessage();
    let confirmFirst!: () => void;
    const firstConfirmed = new Promise<void>((resolve) => (confirmFirst = resolve));
    const publish = h.broker.publish.bind(h.broker);
    h.broker.publish = async (exchange, key, body) => {
      await publish(exchange, key, body);
      if (key === 'task.finished' && (body as { tiId: number }).tiId === first.tiId) await firstConfirmed;
    };
    try {
      await h.submit(first, second);
      expect(await h.published.finishedOf(second.tiId)).toMatchObject({ outcome: 'success' });
      expect(await h.published.finishedOf(first.tiId)).toMatchObject({ outcome: 'success', logTail: ['one'] });
      const keys = h.published.all.filter((p) => p.exchange !== EXCHANGES.tasks && p.body.tiId === first.tiId).map((p) => p.routingKey);
      // The last lines ride in task.finished: no batch of its own for a quiet task.
      expect(keys).toEqual(['task.started', 'task.finished']);

      const drained = h.worker.drain();
      const beat = await h.published.waitFor('the stopping heartbeat', () => h.published.heartbeats().find((b) => b.state === 'stopping'));
      // Ended, but the scheduler has not been told yet: still listed, and the worker still stopping.
      expect(beat.running).toEqual([{ tiId: first.tiId, tryNumber: 1 }]);
      expect(h.worker.runningTasks()).toEqual([]);
      expect(h.worker.state).toBe('stopping');
      confirmFirst();
      await drained;
    } finally {
      confirmFirst();
    }
    expect(h.published.heartbeats().at(-1)).toMatchObject({ state: 'stopped', running: [] });
  });

  it('drain gives the buffered tasks back to the queue and never runs them', async () => {
    h = await startHarness({ concurrency: 2 });
    // The running tasks hold their slots until the test opens the gate (a fixed `sleep 0.3` could end,
    // on a loaded machine, before the drain, and the buffered tasks would run in the freed slots).
    const gate = path.join(mkdtempSync(path.join(tmpdir(), 'sf-drain-')), 'open');
    const holding = `echo started; until [ -e '${gate}' ]; do sleep 0.05; done`;
    const running = [taskMessage({ command: holding }), taskMessage({ command: holding })];
    const buffered = [taskMessage(), taskMessage()];
    await h.submit(...running);
    await Promise.all(running.map((t) => h.published.startedOf(t.tiId)));
    await h.submit(...buffered);
    await h.consumers.waitFor('both extra tasks delivered', () =>
      buffered.every((t) => h.consumers.deliveries.some((d) => d.tiId === t.tiId)));

    const drained = h.worker.drain();
    await h.consumers.waitFor('the buffered tasks given back', () => h.consumers.taskNacks().length === buffered.length);
    writeFileSync(gate, '');
    await drained;
    expect(h.consumers.taskNacks()).toEqual(buffered.map((t) => expect.objectContaining({ tiId: t.tiId, requeue: true })));
    expect(h.published.events('task.started').map((e) => e.tiId).sort()).toEqual(running.map((t) => t.tiId).sort());
    expect(h.published.finished().map((e) => [e.tiId, e.outcome]).sort()).toEqual(running.map((t) => [t.tiId, 'success']).sort());
    expect(h.logger.lines).toContain('log giving 2 waiting task(s) back to the queue');
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 2, consumers: 0 });
  });

  it('acks and ignores a duplicate delivery of a try waiting for a slot', async () => {
    h = await startHarness({ concurrency: 2 });
    const long = [taskMessage({ command: 'sleep 30' }), taskMessage({ command: 'sleep 30' })];
    const waiting = taskMessage();
    await h.submit(...long);
    await Promise.all(long.map((t) => h.published.startedOf(t.tiId)));
    await h.submit(waiting, waiting);
    await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${waiting.tiId} try 1`));
    h.worker.cancelTask(long[0].tiId, 1);
    await h.published.finishedOf(waiting.tiId);
    expect(h.published.finished().filter((e) => e.tiId === waiting.tiId)).toHaveLength(1);
    expect(h.consumers.taskNacks()).toEqual([]);
  });

  describe('a redelivery after a lost connection, while the first delivery is unsettled', () => {
    /** Polls the task queue until it holds `messages` ready messages. */
    async function queueHolds(messages: number, timeoutMs = 3000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const stats = await h.broker.queueStats(taskQueue('default').name);
        if (stats.messages === messages) return;
        if (Date.now() > deadline) throw new Error(`the task queue holds ${stats.messages} message(s), expected ${messages}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it('of a buffered try: the new delivery is the one given back, so the message is not lost', async () => {
      h = await startHarness({ concurrency: 1, maxBufferWaitMs: 300 });
      const long = taskMessage({ command: 'sleep 30' });
      const waiting = taskMessage({ command: 'echo ran' });
      await h.submit(long);
      await h.published.startedOf(long.tiId);
      await h.consumers.waitFor('the long task acked', () => h.consumers.settlements.some((s) => s.tiId === long.tiId && s.as === 'ack'));
      await h.submit(waiting);
      await h.consumers.waitFor('the waiting task delivered', () => h.consumers.deliveries.some((d) => d.tiId === waiting.tiId));

      expect(h.connection.drop()).toBe(1);
      await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${waiting.tiId} try 1`));
      // Given back after maxBufferWaitMs: on the live delivery, so the message is in the queue again.
      await h.consumers.waitFor('the waiting task given back', () => h.consumers.taskNacks().some((s) => s.tiId === waiting.tiId));
      await queueHolds(1);

      h.worker.cancelTask(long.tiId, 1);
      expect(await h.published.finishedOf(waiting.tiId)).toMatchObject({ outcome: 'success', logTail: ['ran'] });
      expect(h.published.finished().filter((e) => e.tiId === waiting.tiId)).toHaveLength(1);
      await queueHolds(0);
    });

    it('of a buffered try given back by drain: the message goes back to the queue', async () => {
      h = await startHarness({ concurrency: 1 });
      const long = taskMessage({ command: 'sleep 0.5' });
      const waiting = taskMessage();
      await h.submit(long);
      await h.published.startedOf(long.tiId);
      await h.consumers.waitFor('the long task acked', () => h.consumers.settlements.some((s) => s.tiId === long.tiId && s.as === 'ack'));
      await h.submit(waiting);
      await h.consumers.waitFor('the waiting task delivered', () => h.consumers.deliveries.some((d) => d.tiId === waiting.tiId));
      h.connection.drop();
      await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${waiting.tiId} try 1`));

      await h.worker.drain();
      await queueHolds(1);
      expect(h.published.finished().map((e) => e.tiId)).toEqual([long.tiId]);
    });

    it('of a running try whose task.started is unconfirmed: the requeue goes on the new delivery and the try runs again', async () => {
      h = await startHarness({ concurrency: 1, startedDelayMs: 0 });
      const publish = h.broker.publish.bind(h.broker);
      let failStarted!: () => void;
      const startedFails = new Promise<void>((resolve) => (failStarted = resolve));
      let startedSent!: () => void;
      const startedInFlight = new Promise<void>((resolve) => (startedSent = resolve));
      let first = true;
      h.broker.publish = async (exchange, key, body) => {
        if (key === 'task.started' && first) {
          first = false;
          startedSent();
          await startedFails;
          throw new Error('connection lost');
        }
        return publish(exchange, key, body);
      };
      const task = taskMessage({ command: 'sleep 0.2; echo run' });
      await h.submit(task);
      await h.consumers.waitFor('the task delivered', () => h.consumers.deliveries.length === 1);
      await withTimeout('the task.started publish', startedInFlight);

      expect(h.connection.drop()).toBe(1);
      await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${task.tiId} try 1`));
      failStarted();

      const finished = await h.published.finishedOf(task.tiId);
      expect(finished).toMatchObject({ outcome: 'success', logTail: ['run'] });
      expect(h.processes.spawned).toBe(2);
      await queueHolds(0);
    });

    it('a duplicate of a try whose message was already acked is acked', async () => {
      h = await startHarness({ concurrency: 1 });
      const task = taskMessage({ command: 'sleep 30' });
      await h.submit(task);
      await h.published.startedOf(task.tiId);
      await h.consumers.waitFor('the task acked', () => h.consumers.settlements.some((s) => s.tiId === task.tiId && s.as === 'ack'));
      await h.submit(task);
      await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${task.tiId} try 1$`));
      await h.consumers.waitFor('the duplicate acked', () => h.consumers.settlements.filter((s) => s.tiId === task.tiId && s.as === 'ack').length === 2);
      await queueHolds(0);
      expect(h.worker.runningTasks()).toEqual([{ tiId: task.tiId, tryNumber: 1 }]);
    });
  });

  it('cancels a running try on a task.cancel control message', async () => {
    h = await startHarness();
    const task = taskMessage({ command: 'sleep 30' });
    await h.submit(task);
    await h.published.startedOf(task.tiId);
    await h.control('worker.all', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 });
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', signal: 'SIGTERM', reason: 'cancelled' });
  });

  it('ignores a cancel of a try it does not run', async () => {
    h = await startHarness();
    await h.control('worker.w1', { type: 'task.cancel', tiId: 424242, tryNumber: 1 });
    const task = taskMessage();
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'success' });
  });

  it('acks and ignores a duplicate delivery of a try already running', async () => {
    h = await startHarness();
    const task = taskMessage({ command: 'sleep 30' });
    await h.submit(task);
    await h.published.startedOf(task.tiId);
    await h.submit(task);
    await h.logger.waitForLine(new RegExp(`ignoring a duplicate delivery of task instance ${task.tiId} try 1`));
    expect(h.worker.runningTasks()).toEqual([{ tiId: task.tiId, tryNumber: 1 }]);
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 0, consumers: 1 });

    h.worker.cancelTask(task.tiId, 1);
    await h.published.finishedOf(task.tiId);
    expect(h.published.events('task.started')).toHaveLength(1);
    expect(h.published.finished()).toHaveLength(1);
  });

  it('drain waits for the running task, takes no new work, then sends a stopped heartbeat', async () => {
    h = await startHarness();
    const running = taskMessage({ command: 'echo started; sleep 0.3; echo done' });
    await h.submit(running);
    await h.published.startedOf(running.tiId);

    const drained = h.worker.drain();
    expect(h.worker.state).toBe('stopping');
    expect(h.worker.drain()).toBe(drained);
    const late = taskMessage();
    await h.submit(late);
    await drained;

    expect(h.worker.state).toBe('stopped');
    const keys = h.published.all.map((p) => p.routingKey);
    expect(keys.indexOf('task.finished')).toBeLessThan(keys.lastIndexOf('worker.heartbeat'));
    expect(h.published.finished()).toEqual([expect.objectContaining({ tiId: running.tiId, outcome: 'success', logTail: ['started', 'done'] })]);
    expect(h.published.heartbeats().map((b) => b.state)).toEqual(['active', 'stopping', 'stopped']);
    expect(h.published.heartbeats()[1].running).toEqual([{ tiId: running.tiId, tryNumber: 1 }]);
    expect(h.published.events('task.started').map((e) => e.tiId)).toEqual([running.tiId]);
    // The late task stays queued for another worker.
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 1, consumers: 0 });
    await expect(h.worker.whenStopped()).resolves.toBeUndefined();
  });

  it('stops on a worker.shutdown control message for it, not on one for another worker', async () => {
    h = await startHarness();
    await h.control('worker.w2', { type: 'worker.shutdown', worker: 'w2' });
    await h.control('worker.w1', { type: 'worker.shutdown', worker: 'w1' });
    await h.worker.whenStopped();
    expect(h.worker.state).toBe('stopped');
    expect(h.published.heartbeats().map((b) => b.state)).toEqual(['active', 'stopping', 'stopped']);
  });

  it('worker.drain stops taking work and stays up; the running task finishes; worker.resume takes work again', async () => {
    h = await startHarness();
    const running = taskMessage({ command: 'echo started; sleep 0.3; echo done' });
    await h.submit(running);
    await h.published.startedOf(running.tiId);

    await h.control('worker.w1', { type: 'worker.drain', worker: 'w1' });
    const beat = await h.published.waitFor('the draining heartbeat', () => h.published.heartbeats().find((b) => b.state === 'draining'));
    expect(beat.running).toEqual([{ tiId: running.tiId, tryNumber: 1 }]);
    const late = taskMessage();
    await h.submit(late);
    expect(await h.published.finishedOf(running.tiId)).toMatchObject({ outcome: 'success', logTail: ['started', 'done'] });
    expect(h.worker.state).toBe('draining');
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 1, consumers: 0 });
    expect(h.published.events('task.started').map((e) => e.tiId)).toEqual([running.tiId]);

    await h.control('worker.all', { type: 'worker.resume', worker: 'all' });
    expect(await h.published.finishedOf(late.tiId)).toMatchObject({ outcome: 'success' });
    expect(h.worker.state).toBe('active');
    expect(h.published.heartbeats().map((b) => b.state)).toEqual(expect.arrayContaining(['active', 'draining']));
    expect(h.published.heartbeats().at(-1)).toMatchObject({ state: 'active' });
  });

  it('resume after a shutdown is refused with a WorkerStateError naming the state; a resume message is logged and ignored', async () => {
    h = await startHarness();
    await h.worker.drain();
    await expect(h.worker.resume()).rejects.toThrow(new WorkerStateError('resume', 'stopped'));
    await expect(h.worker.pause()).rejects.toThrow('cannot drain a worker that is stopped');
  });

  it('heartbeats count tries processed and failed, the uptime, the version and the messages held per queue', async () => {
    // A long startedDelayMs keeps a running try's message unacked (no task.started yet).
    h = await startHarness({ concurrency: 1, startedDelayMs: 10_000 });
    const ok = taskMessage({ command: 'true' });
    const bad = taskMessage({ command: 'exit 3' });
    await h.submit(ok);
    await h.published.finishedOf(ok.tiId);
    await h.submit(bad);
    await h.published.finishedOf(bad.tiId);
    const slow = taskMessage({ command: 'sleep 0.5' });
    await h.submit(slow);
    await h.consumers.waitFor('the slow task delivered', () => h.consumers.deliveries.some((d) => d.tiId === slow.tiId));
    await h.worker.pause();
    const beat = h.published.heartbeats().at(-1)!;
    expect(beat).toMatchObject({ state: 'draining', processed: 2, failed: 1, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(beat.uptimeMs).toBeGreaterThan(0);
    expect(beat.unacked).toEqual({ default: 1 });
    await h.published.finishedOf(slow.tiId);
  });

  it('shutdown cancels the running tasks and reports them failed with "worker shutdown"', async () => {
    h = await startHarness();
    const tasks = [taskMessage({ command: 'sleep 30' }), taskMessage({ command: 'sleep 30' })];
    await h.submit(...tasks);
    await Promise.all(tasks.map((t) => h.published.startedOf(t.tiId)));
    await h.worker.shutdown();
    expect(h.published.finished().map((e) => [e.tiId, e.outcome, e.reason])).toEqual(
      expect.arrayContaining(tasks.map((t) => [t.tiId, 'failed', 'worker shutdown'])),
    );
    expect(h.published.heartbeats().at(-1)).toMatchObject({ state: 'stopped', running: [] });
  });

  it('sends heartbeats listing the running tries', async () => {
    h = await startHarness({ heartbeatIntervalMs: 30, concurrency: 3, queues: ['default', 'gpu'] });
    const task = taskMessage({ command: 'sleep 30', queue: 'gpu' });
    await h.submit(task);
    const beat = await h.published.waitFor('a heartbeat with the task', () => h.published.heartbeats().find((b) => b.running.length > 0));
    expect(beat).toEqual({
      type: 'worker.heartbeat', worker: 'w1', hostname: 'host1', queues: ['default', 'gpu'], concurrency: 3, gpus: 0,
      running: [{ tiId: task.tiId, tryNumber: 1 }], ended: [], held: [], state: 'active', at: expect.any(String),
      processed: 0, failed: 0, uptimeMs: expect.any(Number), version: expect.any(String), unacked: { gpu: 1 },
    });
  });

  it('drops an invalid task message without running anything', async () => {
    h = await startHarness();
    await h.broker.publish(EXCHANGES.tasks, 'default', { tiId: 'x' });
    await h.logger.waitForLine(/refused a task message on queue default: unsigned: /);
    expect(await h.broker.queueStats(taskQueue('default').name)).toEqual({ messages: 0, consumers: 1 });
    expect(h.published.events('task.started')).toEqual([]);
  });

  it('requeues the message and stops the process when task.started is not confirmed', async () => {
    h = await startHarness({ concurrency: 1 });
    const publish = h.broker.publish.bind(h.broker);
    let failures = 1;
    h.broker.publish = async (exchange, key, body) => {
      if (key === 'task.started' && failures-- > 0) throw new Error('connection lost');
      return publish(exchange, key, body);
    };
    const task = taskMessage({ command: 'sleep 0.2; echo run' });
    await h.submit(task);
    await h.published.finishedOf(task.tiId);
    // First delivery: started not confirmed (never reached the recorder), requeued; the redelivery ran it once.
    expect(h.published.events('task.started')).toHaveLength(1);
    expect(h.published.finished()).toEqual([expect.objectContaining({ tiId: task.tiId, outcome: 'success', logTail: ['run'] })]);
    expect(h.consumers.taskNacks()).toEqual([expect.objectContaining({ tiId: task.tiId, requeue: true })]);
    expect(h.logger.lines.some((l) => /task\.started of task instance \d+ try 1 not confirmed, requeueing: connection lost/.test(l))).toBe(true);
  });

  it('start() twice throws an error naming the state', async () => {
    h = await startHarness();
    await expect(h.worker.start()).rejects.toThrow(new WorkerStateError('start', 'active'));
    await expect(h.worker.start()).rejects.toThrow('cannot start a worker that is active');
  });

  it('consumes its own control queue', async () => {
    h = await startHarness({ name: 'gpu-1' });
    expect(await h.broker.queueStats(controlQueue('gpu-1').name)).toEqual({ messages: 0, consumers: 1 });
  });

  describe('deferred task.started', () => {
    const gates: Array<() => void> = [];

    /** Holds the confirm of every publish with `routingKey` until release() (the message itself goes out at once). */
    function holdConfirms(routingKey: string): { release(): void } {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      gates.push(release);
      const publish = h.broker.publish.bind(h.broker);
      h.broker.publish = async (exchange, key, body) => {
        await publish(exchange, key, body);
        if (key === routingKey) await gate;
      };
      return { release };
    }

    const settlementsOf = (tiId: number) => h.consumers.settlements.filter((s) => s.tiId === tiId);
    const keysOf = (tiId: number) => h.published.all.filter((p) => p.exchange !== EXCHANGES.tasks && p.body.tiId === tiId).map((p) => p.routingKey);

    afterEach(() => {
      for (const release of gates.splice(0)) release();
    });

    it('a task that ends within startedDelayMs publishes no task.started; its message is acked once task.finished is confirmed', async () => {
      h = await startHarness({ startedDelayMs: 60_000 }); // far past `echo`, however loaded the machine
      const finishedConfirm = holdConfirms('task.finished');
      const task = taskMessage({ command: 'echo quick' });
      await h.submit(task);

      const finished = await h.published.finishedOf(task.tiId);
      expect(finished).toMatchObject({ outcome: 'success', exitCode: 0, logTail: ['quick'], startedAt: expect.any(String) });
      expect(Date.parse(finished.startedAt!)).toBeLessThanOrEqual(Date.parse(finished.at));
      expect(keysOf(task.tiId)).toEqual(['task.finished']);
      expect(finished.logs!.lines.map((l) => l.line)).toContain('quick');
      expect(h.worker.runningTasks()).toEqual([]);
      expect(settlementsOf(task.tiId)).toEqual([]);

      finishedConfirm.release();
      await h.consumers.waitFor('the ack', () => settlementsOf(task.tiId).length > 0);
      expect(settlementsOf(task.tiId)).toEqual([expect.objectContaining({ as: 'ack' })]);
      expect(h.published.events('task.started')).toEqual([]);
    });

    it('a slow task publishes task.started after startedDelayMs and is acked once it is confirmed, long before its end', async () => {
      h = await startHarness({ startedDelayMs: 100 });
      const startedConfirm = holdConfirms('task.started');
      const task = taskMessage({ command: 'echo begin; sleep 30' });
      const submittedAt = Date.now();
      await h.submit(task);

      const started = (await h.published.startedOf(task.tiId)) as { at: string; pid: number };
      // Timers may fire up to 1 ms early.
      expect(Date.now() - submittedAt).toBeGreaterThanOrEqual(99);
      expect(started).toMatchObject({ type: 'task.started', pid: expect.any(Number) });
      expect(settlementsOf(task.tiId)).toEqual([]);

      startedConfirm.release();
      await h.consumers.waitFor('the ack', () => settlementsOf(task.tiId).length > 0);
      expect(settlementsOf(task.tiId)).toEqual([expect.objectContaining({ as: 'ack' })]);
      expect(h.published.finished()).toEqual([]);
      expect(h.worker.runningTasks()).toEqual([{ tiId: task.tiId, tryNumber: 1 }]);

      h.worker.cancelTask(task.tiId, 1);
      const finished = await h.published.finishedOf(task.tiId);
      expect(finished).toMatchObject({ outcome: 'failed', reason: 'cancelled', startedAt: started.at });
      expect(settlementsOf(task.tiId)).toHaveLength(1);
    });

    it('a process that ends while task.started awaits its confirm has its task.finished published after that confirm', async () => {
      h = await startHarness({ startedDelayMs: 20 });
      const startedConfirm = holdConfirms('task.started');
      const task = taskMessage({ command: 'sleep 1; echo done' }); // outlives the 20-ms delay even when timers lag under load
      await h.submit(task);
      await h.published.startedOf(task.tiId);
      await h.consumers.waitFor('the spawn', () => h.processes.results.length === 1);
      await h.processes.results[0];
      await new Promise((resolve) => setImmediate(resolve));

      // Ended and its slot free, but the scheduler must hear of the start first.
      expect(h.worker.runningTasks()).toEqual([]);
      expect(h.published.finished()).toEqual([]);
      expect(settlementsOf(task.tiId)).toEqual([]);

      startedConfirm.release();
      const finished = await h.published.finishedOf(task.tiId);
      expect(finished).toMatchObject({ outcome: 'success', logTail: ['done'] });
      // Log batches have no order with task.started (the first one may precede it); task.finished has.
      const events = keysOf(task.tiId).filter((k) => k.startsWith('task.'));
      expect(events).toEqual(['task.started', 'task.finished']);
      expect(settlementsOf(task.tiId)).toEqual([expect.objectContaining({ as: 'ack' })]);
    });

    it('a task.started due before the spawner has reported the pid waits for it, and carries it', async () => {
      const spawner = latePids();
      h = await startHarness({ startedDelayMs: 1 }, { runProcess: spawner.runProcess });
      const task = taskMessage({ command: 'echo begin; sleep 30' });
      await h.submit(task);
      // The first batch goes out logFlushMs (20) after the first line: after the start was due, 1 ms after the spawn.
      await h.published.waitFor('the first log batch', () => keysOf(task.tiId).includes(`log.${task.tiId}`));
      expect(h.published.events('task.started')).toEqual([]);

      spawner.release();
      const started = (await h.published.startedOf(task.tiId)) as { pid: number | null };
      expect(started).toMatchObject({ type: 'task.started', pid: expect.any(Number) });
      await h.published.waitFor('the start line', () => h.published.logLines(task.tiId).some((l) => l.line.endsWith(`started on w1 as pid ${started.pid}`)));
      h.worker.cancelTask(task.tiId, 1);
      await h.published.finishedOf(task.tiId);
    });

    it('rejects a negative startedDelayMs', () => {
      h = undefined as unknown as Harness;
      expect(() => new WorkerService({} as never, { name: 'w', hostname: 'h', queues: ['default'], concurrency: 1, startedDelayMs: -1 })).toThrow(
        'startedDelayMs must be 0 or more, got -1',
      );
    });
  });

  it('rejects a concurrency below 1', () => {
    h = undefined as unknown as Harness;
    expect(() => new WorkerService({} as never, { name: 'w', hostname: 'h', queues: ['default'], concurrency: 0 })).toThrow(
      'concurrency must be a positive integer, got 0',
    );
  });
});

/**
 * The process executor with each spawn's answer (its pid) held back until release(), as
 * sf-spawner on a loaded machine answers a moment after the call.
 */
function latePids(): { runProcess: typeof runProcess; release(): void } {
  let released = false;
  const held: Array<() => void> = [];
  return {
    runProcess: (spec) => {
      const run = runProcess({
        ...spec,
        onSpawn: (pid) => (released ? spec.onSpawn?.(pid) : held.push(() => spec.onSpawn?.(pid))),
      });
      return {
        get pid() {
          return released ? run.pid : null;
        },
        spawned: run.spawned,
        result: run.result,
        cancel: (reason) => run.cancel(reason),
        pauseOutput: (paused) => run.pauseOutput(paused),
      };
    },
    release: () => {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
  };
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LogBatch, TaskFinishedEvent, TaskMessage } from '@swarmflow/core';
import { installationOf, LABELS } from '@swarmflow/executors';
import { describeWithDocker, dockerSpec, handedOverContainer } from '@swarmflow/executors/test-support/docker';
import { AmqpBroker, ControlSender, EXCHANGES, taskQueue, type ConsumerHandle } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, rabbitmqAvailableSync, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { ClusterKey, ControlSigner, taskSecretContext } from '@swarmflow/secrets';
import { startWorker } from './start-worker';
import { RecordingLogger, sealFor, signed, taskMessage } from './test-support/worker-harness';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import type { WorkerService } from './worker.service';

const root = join(__dirname, '..', '..', '..');
const url = rabbitmqUrl();

/** What the workers under test publish: events and log batches, in arrival order. */
class Observed {
  readonly events: any[] = [];
  readonly logs: LogBatch[] = [];
  private waiters: Array<() => void> = [];

  push(into: 'events' | 'logs', body: any): void {
    this[into].push(body);
    for (const wake of [...this.waiters]) wake();
  }

  waitFor<T>(what: string, probe: () => T, timeoutMs = 30_000): Promise<NonNullable<T>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const value = probe();
        if (!value) return false;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(value as NonNullable<T>);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.events.map((e) => `${e.type}:${e.tiId ?? e.state}`))}`));
      }, timeoutMs);
      if (!check()) this.waiters.push(wake);
    });
  }

  finished(tiId: number): Promise<TaskFinishedEvent> {
    return this.waitFor(`task.finished of ${tiId}`, () => this.events.find((e) => e.type === 'task.finished' && e.tiId === tiId));
  }

  /** Lines of a task instance: its batches on `swarmflow.logs`, then the last ones its `task.finished` carried. */
  lines(tiId: number): { seq: number; stream: string; line: string }[] {
    const last = this.events.filter((e): e is TaskFinishedEvent => e.type === 'task.finished' && e.tiId === tiId).flatMap((e) => (e.logs ? [e.logs] : []));
    return [...this.logs.filter((b) => b.tiId === tiId), ...last].flatMap((b) => b.lines.map((l) => ({ seq: b.seq, stream: l.stream, line: l.line })));
  }
}

/** The worker process as deployed (main.ts through tsx). */
function startMain(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'apps/worker/src/main.ts'], {
    cwd: root, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describeWithDocker('worker restarts with container tasks (real Docker engine and RabbitMQ)', (ctx) => {
  jest.setTimeout(90_000);
  const rabbit = rabbitmqAvailableSync(url);
  const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
  /** The installation of the workers started as processes with SWARMFLOW_BROKER_PREFIX=prefix; the in-process ones are told it. */
  const installation = installationOf(prefix);
  const key = ClusterKey.generate();
  let broker: AmqpBroker;
  let observed: Observed;
  const consumers: ConsumerHandle[] = [];
  const children: ChildProcess[] = [];
  let adopter: WorkerService | null = null;
  let adopterBroker: AmqpBroker | null = null;

  beforeAll(async () => {
    if (!rabbit) {
      if (process.env.CI === 'true') throw new Error(`RabbitMQ is required under CI=true (${url})`);
      console.warn(`skipping the re-attach tests: no RabbitMQ at ${url}`);
      return;
    }
    broker = new AmqpBroker({ url, prefix, logger: new RecordingLogger() });
    await broker.start();
    await broker.assertQueue(taskQueue('default'));
    observed = new Observed();
    for (const [exchange, into] of [[EXCHANGES.events, 'events'], [EXCHANGES.logs, 'logs']] as const) {
      consumers.push(await broker.consume(
        { name: `test.${into}`, exchange, bindings: ['#'], durable: false, exclusive: true, autoDelete: true },
        (msg) => { observed.push(into, msg.body); msg.ack(); },
        { prefetch: 100 },
      ));
    }
  });

  afterEach(async () => {
    await adopter?.shutdown('test over');
    await adopterBroker?.close();
    adopter = null;
    adopterBroker = null;
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  afterAll(async () => {
    if (!rabbit) return;
    for (const c of consumers) await c.cancel();
    await broker.close();
    await deleteRabbitMQTopology(prefix, [taskQueue('default').name]);
  });

  function containerTask(command: string, overrides: Partial<TaskMessage> = {}): TaskMessage {
    return taskMessage({ kind: 'docker', command, docker: dockerSpec({ labels: { ...ctx.labels } }), ...overrides });
  }

  async function startChild(name: string, env: Record<string, string> = {}): Promise<ReturnType<typeof startMain>> {
    const main = startMain({
      SWARMFLOW_AMQP_URL: url, SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_WORKER_NAME: name, SWARMFLOW_CLUSTER_KEY: key.toBase64(),
      SWARMFLOW_WORKER_GPUS: 'none', SWARMFLOW_HEARTBEAT_INTERVAL: '1s', ...env,
    });
    children.push(main.child);
    await observed.waitFor(`an active heartbeat of ${name}`, () => observed.events.find((e) => e.worker === name && e.state === 'active'));
    return main;
  }

  async function containersOf(tiId: number): Promise<{ id: string; state: string }[]> {
    return (await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: String(tiId) })).map((c) => ({ id: c.id, state: c.state }));
  }

  it('a worker restarted with the same name re-adopts its running and ended containers and reports them', async () => {
    if (!rabbit) return;
    const name = `ra-${ctx.id}`;
    const first = await startChild(name);
    const long = containerTask('echo before; sleep 5; echo "after $(cat /secrets/variables/tok)"; echo "s3 $(sed -n \'s/^aws_secret_access_key = //p\' "$AWS_SHARED_CREDENTIALS_FILE")"; exit 7');
    long.secrets = [{ key: 'tok', ciphertext: sealFor(long, 'tok', 'adopt-s3cret', key) }];
    const s3 = { endpoint: null, region: 'us-east-1', accessKeyId: 'AKIDADOPT', secretAccessKey: 'adopt-s3-secret-key' };
    long.artifacts = {
      url: 's3://bucket/x/', runUrl: 's3://bucket/', s3: key.encryptFor(JSON.stringify(s3), taskSecretContext('secret', 'artifacts_s3', long.tiId, long.tryNumber)),
    };
    // Ends only when told (after the crash), however slowly the long one starts.
    const short = containerTask('while [ ! -f /tmp/go ]; do sleep 0.05; done; echo done-while-down; exit 3');
    await broker.publish(EXCHANGES.tasks, 'default', signed(long, key));
    await broker.publish(EXCHANGES.tasks, 'default', signed(short, key));
    await observed.waitFor('the first line of the long task', () => observed.lines(long.tiId).some((l) => l.line === 'before'));
    await observed.waitFor('both task.started', () => observed.events.filter((e) => e.type === 'task.started').length >= 2);
    await observed.waitFor('the short task\'s container', () => observed.lines(short.tiId).some((l) => /^container \S+ started/.test(l.line)));

    // A crash: no drain, nothing stopped.
    first.child.kill('SIGKILL');
    await first.exited;
    const [shortContainer] = await containersOf(short.tiId);
    expect(spawnSync('/usr/bin/docker', ['exec', shortContainer.id, 'touch', '/tmp/go'], { timeout: 30_000 }).status).toBe(0);
    await ctx.client.waitContainer(shortContainer.id);
    expect((await containersOf(long.tiId)).map((c) => c.state)).toEqual(['running']);
    const before = observed.logs.length;

    const logger = new RecordingLogger();
    adopterBroker = new AmqpBroker({ url, prefix, logger });
    await adopterBroker.start();
    adopter = await startWorker({
      name, installation, hostname: 'host2', queues: ['default'], concurrency: 2, heartbeatIntervalMs: 60_000, graceMs: 1000, logFlushMs: 20,
    }, adopterBroker, { logger, docker: ctx.executor, clusterKey: key });

    // The adopted tries hold slots and show in heartbeats, so the scheduler does not expire them.
    const beat = await observed.waitFor('the new worker\'s heartbeat', () => observed.events.find((e) => e.type === 'worker.heartbeat' && e.hostname === 'host2'));
    expect(beat.running).toEqual(expect.arrayContaining([{ tiId: long.tiId, tryNumber: 1 }]));
    expect(adopter.runningTasks()).toEqual(expect.arrayContaining([{ tiId: long.tiId, tryNumber: 1 }]));

    const shortFinished = await observed.finished(short.tiId);
    expect(shortFinished).toMatchObject({ worker: name, outcome: 'failed', exitCode: 3, logTail: ['done-while-down'] });

    const longFinished = await observed.finished(long.tiId);
    expect(longFinished).toMatchObject({ worker: name, outcome: 'failed', exitCode: 7, reason: null, logTail: ['after ***', 's3 ***'] });
    const adoptedLines = observed.logs.slice(before).filter((b) => b.tiId === long.tiId);
    expect(adoptedLines.every((b) => b.seq >= 1_000_000)).toBe(true);
    expect(adoptedLines.flatMap((b) => b.lines).filter((l) => l.stream !== 'system').map((l) => l.line)).toEqual(['after ***', 's3 ***']);
    expect(JSON.stringify(observed.logs)).not.toContain('adopt-s3cret');
    expect(JSON.stringify([observed.logs, observed.events])).not.toContain('adopt-s3-secret-key');

    expect(await containersOf(long.tiId)).toEqual([]);
    expect(await containersOf(short.tiId)).toEqual([]);
    expect(await ctx.client.listVolumes({ ...ctx.labels, [LABELS.worker]: name })).toEqual([]);
  });

  it('at start, a worker stops the containers on its engine handed over and not adopted in time, and a re-adopted one whose try the scheduler no longer runs', async () => {
    if (!rabbit) return;
    const name = `rr-${ctx.id}`;
    const orphanTi = 900_000 + Math.floor(Math.random() * 10_000);
    const clearedTi = orphanTi + 1;
    // The slot of worker "gone" was removed: no one of that name comes to adopt it.
    const orphanDeadline = Date.now() + 500;
    await handedOverContainer(ctx, { installation, worker: `gone-${ctx.id}`, tiId: orphanTi }, orphanDeadline);
    await handedOverContainer(ctx, { installation, worker: name, tiId: clearedTi }, Date.now() + 3_600_000);
    await waitUntil('the orphan\'s deadline to pass', async () => Date.now() > orphanDeadline, { timeoutMs: 10_000, intervalMs: 50 });
    expect((await containersOf(orphanTi)).map((c) => c.state)).toEqual(['running']);

    // The test plays the scheduler: the cleared try has ended meanwhile.
    const control = new ControlSender(broker, new ControlSigner(key));
    const claimed = observed.waitFor('the adopter\'s claim of the cleared try', () =>
      observed.events.find((e) => e.type === 'task.claim' && e.tiId === clearedTi && e.worker === name));
    const logger = new RecordingLogger();
    adopterBroker = new AmqpBroker({ url, prefix, logger });
    await adopterBroker.start();
    adopter = await startWorker({ name, installation, hostname: 'host2', queues: ['default'], concurrency: 2, heartbeatIntervalMs: 60_000, logFlushMs: 20, graceMs: 1000 },
      adopterBroker, { logger, docker: ctx.executor, clusterKey: key });
    expect(await containersOf(orphanTi)).toEqual([]);
    expect(logger.lines.join('\n')).toMatch(/handed over by a stopping worker and not adopted in time/);

    await claimed;
    await control.send(`worker.${name}`, { type: 'task.claim.reply', tiId: clearedTi, tryNumber: 1, verdict: 'drop', reason: 'it has ended (success)' });
    expect(await observed.finished(clearedTi)).toMatchObject({ worker: name, outcome: 'failed', reason: 'no longer running: it has ended (success)' });
    expect(await containersOf(clearedTi)).toEqual([]);
  });

  it('SIGTERM drains and leaves a running container alone; a second SIGTERM stops it', async () => {
    if (!rabbit) return;
    const name = `rs-${ctx.id}`;
    const main = await startChild(name);
    const task = containerTask('trap "echo stopping; exit 143" TERM; echo up; while true; do echo tick; sleep 0.1; done');
    await broker.publish(EXCHANGES.tasks, 'default', signed(task, key));
    await observed.waitFor('the task\'s first line', () => observed.lines(task.tiId).some((l) => l.line === 'up'));
    main.child.kill('SIGTERM');
    await observed.waitFor('a stopping heartbeat', () => observed.events.find((e) => e.worker === name && e.state === 'stopping'));
    // Output written after the drain began, and forwarded: the container runs on and the worker still follows it.
    const ticks = () => observed.lines(task.tiId).filter((l) => l.line === 'tick').length;
    const before = ticks();
    await observed.waitFor('two more lines of the task after the drain began', () => ticks() >= before + 2);
    expect((await containersOf(task.tiId)).map((c) => c.state)).toEqual(['running']);
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
    expect(await observed.finished(task.tiId)).toMatchObject({ outcome: 'failed', reason: 'worker shutdown', exitCode: 143, signal: 'SIGTERM' });
    expect(observed.lines(task.tiId).map((l) => l.line)).toContain('stopping');
    expect(await containersOf(task.tiId)).toEqual([]);
  });

  it('SIGTERM with a stop grace period: the container still running near its end is handed over; the next worker of the name reports it with every line once', async () => {
    if (!rabbit) return;
    const name = `rh-${ctx.id}`;
    // 4 s of grace: the hand-over comes 1 s before it runs out, at 3 s.
    const main = await startChild(name, { SWARMFLOW_WORKER_STOP_GRACE: '4s' });
    const task = containerTask('i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done; echo ticks done');
    await broker.publish(EXCHANGES.tasks, 'default', signed(task, key));
    await observed.waitFor('the task\'s first lines', () => observed.lines(task.tiId).some((l) => l.line === 'tick 3'));
    const sigterm = Date.now();
    main.child.kill('SIGTERM');
    // It exits by itself (0) before its grace runs out, leaving the container running.
    expect(await main.exited).toBe(0);
    const stoppedAfterMs = Date.now() - sigterm;
    expect(main.output()).toMatch(/container handed over to the next worker named/);
    expect((await containersOf(task.tiId)).map((c) => c.state)).toEqual(['running']);
    // Its last heartbeat still lists the try: the scheduler waits for the next worker of the name.
    const last = observed.events.filter((e) => e.type === 'worker.heartbeat' && e.worker === name).at(-1);
    expect(last).toMatchObject({ state: 'stopped', running: [{ tiId: task.tiId, tryNumber: 1 }] });
    // And until when they wait for it (SWARMFLOW_HANDOFF_TIMEOUT, 5 min by default), from the heartbeat's own time.
    expect(last.handedOver).toEqual({ tries: [{ tiId: task.tiId, tryNumber: 1 }], until: expect.any(String) });
    expect(Date.parse(last.handedOver.until) - Date.parse(last.at)).toBeGreaterThan(4 * 60_000);
    expect(observed.events.filter((e) => e.type === 'task.finished' && e.tiId === task.tiId)).toEqual([]);

    const logger = new RecordingLogger();
    adopterBroker = new AmqpBroker({ url, prefix, logger });
    await adopterBroker.start();
    adopter = await startWorker({ name, installation, hostname: 'host2', queues: ['default'], concurrency: 2, heartbeatIntervalMs: 60_000, logFlushMs: 20 },
      adopterBroker, { logger, docker: ctx.executor, clusterKey: key });
    expect(await observed.finished(task.tiId)).toMatchObject({ worker: name, outcome: 'success', exitCode: 0, tryNumber: 1 });
    const lines = observed.lines(task.tiId).filter((l) => l.stream !== 'system').map((l) => l.line);
    expect(lines).toEqual([...Array.from({ length: 60 }, (_, i) => `tick ${i + 1}`), 'ticks done']);
    process.stdout.write(`hand-over: the worker exited ${stoppedAfterMs} ms after SIGTERM (grace 4000 ms)\n`);
    expect(await containersOf(task.tiId)).toEqual([]);
  });
});

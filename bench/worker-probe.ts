/**
 * An instrumented copy of apps/worker/src/main.ts for BENCH_PROFILE=1: the same
 * bootstrap, plus counters of deliveries, requeues, consumer pauses/resumes and the time
 * spent in each step of a task's slot. Prints one `[probe]` JSON line at exit.
 */
import { Logger } from '@nestjs/common';
import { runProcess } from '@swarmflow/executors';
import { AmqpBroker, EXCHANGES } from '@swarmflow/messaging';
import { performance } from 'node:perf_hooks';
import { loadWorkerConfig, parseWorkerArgs, startWorker, WorkerService } from '../apps/worker/src';

const counts: Record<string, number> = {};
const times: Record<string, { n: number; ms: number }> = {};
const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
const time = (k: string, ms: number) => {
  const t = (times[k] ??= { n: 0, ms: 0 });
  t.n++;
  t.ms += ms;
};

function patch(): void {
  const proto = WorkerService.prototype as any;
  const onTask = proto.onTask;
  proto.onTask = async function (this: any, msg: any) {
    count('deliveries');
    if (msg.redelivered) count('redelivered');
    const nack = msg.nack.bind(msg);
    msg.nack = (requeue: boolean) => {
      count(requeue ? 'nack requeue (slots full)' : 'nack drop');
      nack(requeue);
    };
    return onTask.call(this, msg);
  };
  const startTask = proto.startTask;
  proto.startTask = async function (this: any, task: any, msg: any) {
    const t = performance.now();
    await startTask.call(this, task, msg);
    time('delivery → spawned + task.started confirmed + ack', performance.now() - t);
  };
  const finishTask = proto.finishTask;
  proto.finishTask = async function (this: any, key: string, entry: any) {
    const t = performance.now();
    await entry.run.result;
    const exited = performance.now();
    time('spawn → process exited (seen by node)', exited - entry.runStartedAt);
    await finishTask.call(this, key, entry);
    time('exit → logs flushed + task.finished confirmed', performance.now() - exited);
    void t;
  };
  const publish = AmqpBroker.prototype.publish;
  AmqpBroker.prototype.publish = function (this: AmqpBroker, exchange, routingKey, body) {
    const t = performance.now();
    const p = publish.call(this, exchange, routingKey, body);
    const key = routingKey.startsWith('log.') ? 'log batch' : routingKey;
    p.then(() => time(`publish confirm: ${key}`, performance.now() - t), () => {});
    return p;
  };
  const consume = AmqpBroker.prototype.consume;
  AmqpBroker.prototype.consume = async function (this: AmqpBroker, spec, handler, options) {
    const handle = await consume.call(this, spec, handler as any, options);
    if (!spec.name.startsWith('swarmflow.tasks.')) return handle;
    return {
      pause: async () => {
        count('consumer pause (basic.cancel)');
        const t = performance.now();
        await handle.pause();
        time('consumer pause', performance.now() - t);
      },
      resume: async () => {
        count('consumer resume (basic.consume)');
        const t = performance.now();
        await handle.resume();
        time('consumer resume', performance.now() - t);
      },
      cancel: () => handle.cancel(),
    };
  };
}

async function bootstrap(): Promise<void> {
  patch();
  const logger = new Logger('Worker');
  const config = loadWorkerConfig(process.env, parseWorkerArgs(process.argv.slice(2)));
  const broker = new AmqpBroker({ url: config.amqpUrl, prefix: config.brokerPrefix, logger, connectionName: `swarmflow worker ${config.worker.name}`, coalesce: [EXCHANGES.events, EXCHANGES.logs] });
  await broker.start();
  const timedRun: typeof runProcess = (spec) => {
    const t = performance.now();
    const run = runProcess(spec);
    time('runProcess() call (spawn, synchronous)', performance.now() - t);
    (run as any).runStartedAt = t;
    return run;
  };
  const worker = await startWorker(config.worker, broker, { logger, runProcess: timedRun, clusterKey: config.clusterKey });
  // finishTask reads the spawn time from the entry; copy it over when the entry is created.
  const running: Map<string, any> = (worker as any).running;
  const set = running.set.bind(running);
  running.set = (k: string, v: any) => set(k, Object.assign(v, { runStartedAt: (v.run as any).runStartedAt }));
  process.on('SIGTERM', () => void worker.drain());
  await worker.whenStopped();
  await broker.close();
  const avg = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { n: v.n, avgMs: Number((v.ms / v.n).toFixed(2)) }]));
  process.stdout.write(`[probe] ${JSON.stringify({ worker: config.worker.name, counts, avg })}\n`);
  process.exit(0);
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(`worker probe failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

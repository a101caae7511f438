import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import type { TaskFinishedEvent } from '@swarmflow/core';
import { AmqpBroker, EVENTS_QUEUE, EXCHANGES, taskQueue } from '@swarmflow/messaging';
import { rabbitmqAvailableSync, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { ClusterKey } from '@swarmflow/secrets';
import { startWorker } from './start-worker';
import { RecordingLogger, signed, taskMessage } from './test-support/worker-harness';
import type { WorkerService } from './worker.service';

const run = promisify(execFile);
const DOC = path.resolve(__dirname, '../../../docs/rabbitmq-users.md');

/** The `set_permissions` lines of docs/rabbitmq-users.md: user → [configure, write, read]. */
function documentedPermissions(): Map<string, [string, string, string]> {
  const found = new Map<string, [string, string, string]>();
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const m = /^rabbitmqctl set_permissions -p swarmflow (\S+) '([^']*)' '([^']*)' '([^']*)'$/.exec(line.trim());
    if (m) found.set(m[1], [m[2], m[3], m[4]]);
  }
  return found;
}

function rabbitmqctlUsable(): boolean {
  return process.getuid?.() === 0 && rabbitmqAvailableSync() && ['/usr/sbin/rabbitmqctl', '/usr/bin/rabbitmqctl'].some((p) => {
    try {
      readFileSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

const usable = rabbitmqctlUsable();
const describeWithRabbitmqctl = usable ? describe : describe.skip;
if (!usable) {
  if (process.env.CI === 'true') throw new Error('the RabbitMQ permission test needs a local RabbitMQ and rabbitmqctl as root under CI=true');
  console.warn('skipping the RabbitMQ permission test: needs a local RabbitMQ and rabbitmqctl as root');
}

describeWithRabbitmqctl('RabbitMQ users of docs/rabbitmq-users.md, in a fresh vhost', () => {
  jest.setTimeout(120_000);
  const id = randomBytes(4).toString('hex');
  const vhost = `sftest-perm-${id}`;
  const users = new Map<string, { name: string; password: string }>();
  const base = new URL(rabbitmqUrl());
  const urlOf = (role: string): string => {
    const u = users.get(role)!;
    return `amqp://${u.name}:${u.password}@${base.host}/${encodeURIComponent(vhost)}`;
  };
  const key = ClusterKey.generate();
  let scheduler: AmqpBroker;
  let workerBroker: AmqpBroker;
  let worker: WorkerService;

  beforeAll(async () => {
    const permissions = documentedPermissions();
    expect([...permissions.keys()].sort()).toEqual(['swarmflow-scheduler', 'swarmflow-webserver', 'swarmflow-worker']);
    await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
    for (const [role, [configure, write, read]] of permissions) {
      const user = { name: `${role}-${id}`, password: randomBytes(12).toString('hex') };
      users.set(role, user);
      await run('rabbitmqctl', ['-q', 'add_user', user.name, user.password]);
      await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, user.name, configure, write, read]);
    }
  });

  afterAll(async () => {
    await worker?.shutdown('test over');
    await workerBroker?.close();
    await scheduler?.close();
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
    for (const user of users.values()) await run('rabbitmqctl', ['-q', 'delete_user', user.name]).catch(() => undefined);
  });

  it('lets a worker run a task the scheduler published, with only its own permissions', async () => {
    const logger = new RecordingLogger();
    scheduler = new AmqpBroker({ url: urlOf('swarmflow-scheduler'), logger });
    await scheduler.start();
    await scheduler.assertQueue(taskQueue('default'));
    const finished: TaskFinishedEvent[] = [];
    let wake = (): void => undefined;
    await scheduler.consume(EVENTS_QUEUE, (msg) => {
      const body = msg.body as { type: string };
      if (body.type === 'task.finished') finished.push(body as TaskFinishedEvent);
      msg.ack();
      wake();
    }, { prefetch: 10 });

    workerBroker = new AmqpBroker({ url: urlOf('swarmflow-worker'), logger, coalesce: [EXCHANGES.events, EXCHANGES.logs] });
    await workerBroker.start();
    worker = await startWorker({ name: `perm-${id}`, hostname: 'h', queues: ['default'], concurrency: 1, heartbeatIntervalMs: 60_000 }, workerBroker,
      { logger, clusterKey: key });
    const task = taskMessage({ command: 'true' });
    const done = new Promise<void>((resolve) => (wake = () => finished.some((f) => f.tiId === task.tiId) && resolve()));
    await scheduler.publish(EXCHANGES.tasks, 'default', signed(task, key));
    await done;
    expect(finished.find((f) => f.tiId === task.tiId)).toMatchObject({ outcome: 'success' });
  });

  it.each([
    ['worker', EXCHANGES.tasks], ['worker', EXCHANGES.control], ['worker', ''], ['webserver', EXCHANGES.tasks],
  ])('refuses a %s\'s publish to "%s"', async (role, exchange) => {
    const conn = await amqp.connect(urlOf(`swarmflow-${role}`));
    try {
      const ch = await conn.createConfirmChannel();
      const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
      ch.publish(exchange, 'default', Buffer.from('{}'));
      const err = await closed;
      expect(err.message).toMatch(/ACCESS_REFUSED/);
    } finally {
      await conn.close().catch(() => undefined);
    }
  });
});

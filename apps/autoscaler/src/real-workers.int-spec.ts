import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AmqpBroker, ControlSender, EXCHANGES, taskQueue } from '@swarmflow/messaging';
import { ControlSigner } from '@swarmflow/secrets';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { SwarmflowMetrics } from '@swarmflow/observability';
import { signed, taskMessage, TEST_CLUSTER_KEY } from '../../worker/src/test-support/worker-harness';
import type { InstanceGroup } from '../../cli/src/deploy/instance-groups';
import { runAutoscaler } from './main';
import { SimulatedProvider } from './providers/simulated.provider';
import { policyOf } from './services/autoscaler.service';

const root = join(__dirname, '..', '..', '..');
const silent = { log: () => undefined, error: () => undefined, warn: () => undefined };

describeWithRabbitMQ('autoscaler scale-in with real worker processes', () => {
  jest.setTimeout(90_000);
  const prefix = `asw-${randomBytes(4).toString('hex')}.`;
  const queue = `asw${randomBytes(3).toString('hex')}`;
  let broker: AmqpBroker;
  const children = new Map<string, ChildProcess>();
  const events: any[] = [];

  beforeAll(async () => {
    broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: silent });
    await broker.start();
    await broker.assertQueue(taskQueue(queue));
    await broker.consume({ name: 'asw.events', exchange: EXCHANGES.events, bindings: ['#'], durable: false, exclusive: true, autoDelete: true },
      (m) => { events.push(m.body); m.ack(); }, { prefetch: 100 });
  });

  afterAll(async () => {
    for (const c of children.values()) if (c.exitCode === null) c.kill('SIGKILL');
    await broker.close();
    await deleteRabbitMQTopology(prefix, [taskQueue(queue).name]);
  });

  function startWorker(name: string): ChildProcess {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'apps/worker/src/main.ts', '--name', name, '--concurrency', '1', '--queues', queue], {
      cwd: root, stdio: 'ignore',
      env: { ...process.env, NO_COLOR: '1', SWARMFLOW_AMQP_URL: rabbitmqUrl(), SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_CLUSTER_KEY: TEST_CLUSTER_KEY.toBase64(), SWARMFLOW_HEARTBEAT_INTERVAL: '500ms' },
    });
    children.set(name, child);
    return child;
  }

  it('drains and removes the idle worker only; the busy one runs its task to success and hears nothing', async () => {
    const names = ['asw-1', 'asw-2'];
    const exits = new Map(names.map((n) => [n, new Promise<number | null>((resolve) => startWorker(n).once('exit', (code) => resolve(code)))]));
    await waitUntil('both workers active', () => names.every((n) => events.some((e) => e.type === 'worker.heartbeat' && e.worker === n && e.state === 'active')), { timeoutMs: 60_000, intervalMs: 100 });

    const task = taskMessage({ command: 'sleep 4; echo done', queue });
    await broker.publish(EXCHANGES.tasks, queue, signed(task));
    const started = await waitUntil('the task started', () => events.find((e) => e.type === 'task.started' && e.tiId === task.tiId), { timeoutMs: 20_000 });
    const busy = started.worker as string;
    const idle = names.find((n) => n !== busy)!;

    const group: InstanceGroup = {
      name: 'asw', queues: [queue], concurrency: 1, replicas: 2, minReplicas: 0, maxReplicas: 2, placement: {}, cpus: null, memory: null, gpus: 0,
      stopGracePeriod: '2m', provider: { type: 'simulated' },
    };
    const provider = new SimulatedProvider('asw', 2, (w) => children.get(w)?.exitCode === null);
    const decisions: any[] = [];
    const a = await runAutoscaler({ name: 'asw-scaler', heartbeatTimeoutMs: 30_000, intervalMs: 0 }, {
      broker, control: new ControlSender(broker, new ControlSigner(TEST_CLUSTER_KEY)), logger: silent, quietNest: true, metrics: new SwarmflowMetrics(),
      decisions: { record: async (d) => { decisions.push(d); }, history: async () => [], unplaceable: async () => 0 },
      leadership: { lead: async () => true, release: async () => undefined },
      groups: [{ group, provider, policy: policyOf(group, { scaleUpCooldownMs: 0, scaleDownCooldownMs: 0, hysteresisSlots: 0 }) }],
    });
    try {
      await waitUntil('the busy worker seen running', () => a.view.workersOf([queue], Date.now()).find((w) => w.name === busy)?.running === 1, { timeoutMs: 10_000 });
      const removed: string[] = [];
      await waitUntil('the group lowered to 1', async () => {
        const [r] = await a.round();
        removed.push(...r.removed);
        expect(r.drained.concat(r.shutdown, r.removed)).not.toContain(busy);
        return (await provider.current()) === 1;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      expect(removed).toEqual([idle]);
      expect(await exits.get(idle)).toBe(0);
      expect(await waitUntil('the task finished', () => events.find((e) => e.type === 'task.finished' && e.tiId === task.tiId), { timeoutMs: 20_000 })).toMatchObject({ outcome: 'success', worker: busy });
      expect(events.filter((e) => e.type === 'worker.heartbeat' && e.worker === busy && e.state !== 'active')).toEqual([]);
      expect(children.get(busy)!.exitCode).toBeNull();
    } finally {
      await a.stop();
    }
  });
});

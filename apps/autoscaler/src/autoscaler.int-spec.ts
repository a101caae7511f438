import { randomUUID } from 'node:crypto';
import type { WorkerCommand, WorkerHeartbeatEvent } from '@swarmflow/core';
import * as amqp from 'amqplib';
import { AmqpBroker, BATCH_HEADER, controlQueue, ControlSender, EXCHANGES, taskQueue, type Broker } from '@swarmflow/messaging';
import { ControlSigner, type SignedControlEnvelope } from '@swarmflow/secrets';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { AutoscalerLease, Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { SwarmflowMetrics } from '@swarmflow/observability';
import type { InstanceGroup } from '../../cli/src/deploy/instance-groups';
import { openedControl, TEST_CLUSTER_KEY } from '../../worker/src/test-support/worker-harness';
import { runAutoscaler, type RunningAutoscaler } from './main';
import { SimulatedProvider } from './providers/simulated.provider';
import { policyOf } from './services/autoscaler.service';

const silent = { log: () => undefined, error: () => undefined, warn: () => undefined };

/** A stand-in worker: heartbeats on swarmflow.events, obeys drain/shutdown/resume from its control queue. */
class FakeWorker {
  state: WorkerHeartbeatEvent['state'] = 'active';
  running = 0;
  readonly commands: string[] = [];

  constructor(readonly name: string, private readonly queue: string, private readonly broker: Broker) {}

  async start(): Promise<void> {
    await this.broker.consume<SignedControlEnvelope>(controlQueue(this.name), async (m) => {
      m.ack();
      // As a real worker: only a command signed for its routing key.
      const command = openedControl<WorkerCommand>(m.body, m.routingKey);
      this.commands.push(command.type);
      if (command.type === 'worker.drain' && this.state === 'active') this.state = 'draining';
      if (command.type === 'worker.resume' && this.state === 'draining') this.state = 'active';
      if (command.type === 'worker.shutdown') this.state = this.running === 0 ? 'stopped' : 'stopping';
      await this.beat();
    }, { prefetch: 10 });
    await this.beat();
  }

  async beat(): Promise<void> {
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: this.name, hostname: `node-${this.name}`, queues: [this.queue], concurrency: 2,
      running: Array.from({ length: this.running }, (_, i) => ({ tiId: i + 1, tryNumber: 1 })), state: this.state, at: new Date().toISOString(),
    };
    await this.broker.publish(EXCHANGES.events, 'worker.heartbeat', event);
  }
}

describeWithPostgres('autoscaler (real PostgreSQL and RabbitMQ, simulated provider)', () => {
  describeWithRabbitMQ('', () => {
    jest.setTimeout(90_000);
    const prefix = `as-${randomUUID().slice(0, 8)}.`;
    const topic = `asq${randomUUID().slice(0, 6)}`;
    const declared = new Set<string>();
    let tdb: TestDatabase;
    let db: Database;
    let broker: AmqpBroker;
    const stops: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      tdb = await createTestDatabase();
      db = new Database({ url: tdb.url });
      await db.connect();
      broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: silent });
      await broker.start();
    });

    afterAll(async () => {
      for (const stop of stops.reverse()) await stop();
      await broker.close();
      await db.close();
      await tdb.drop();
      await deleteRabbitMQTopology(prefix, declared);
    });

    const group: InstanceGroup = {
      name: 'g', queues: [topic], concurrency: 2, replicas: 0, minReplicas: 0, maxReplicas: 3, placement: {}, cpus: null, memory: null, gpus: 0,
      stopGracePeriod: '2m', provider: { type: 'simulated' },
    };

    async function start(name: string, provider: SimulatedProvider): Promise<RunningAutoscaler> {
      const lease = new AutoscalerLease(tdb.url);
      const a = await runAutoscaler({ name, heartbeatTimeoutMs: 30_000, intervalMs: 0 }, {
        broker, control: new ControlSender(broker, new ControlSigner(TEST_CLUSTER_KEY)), decisions: new Repositories(db).autoscaler, leadership: lease, logger: silent, quietNest: true, metrics: new SwarmflowMetrics(),
        groups: [{ group, provider, policy: policyOf(group, { scaleUpCooldownMs: 0, scaleDownCooldownMs: 0 }) }],
      });
      declared.add(`swarmflow.events.autoscaler.${name}`);
      stops.push(() => a.stop());
      return a;
    }

    it('scales up for a backlog, drains only idle workers, gives back one that picked up work, lowers replicas only for exited ones', async () => {
      declared.add(taskQueue(topic).name);
      await broker.assertQueue(taskQueue(topic));
      for (let i = 0; i < 5; i++) await broker.publish(EXCHANGES.tasks, topic, { n: i });
      const workers = new Map<string, FakeWorker>();
      // A worker sends `stopped` just before its process exits: `lingering` ones still run for the provider (as seen on the Swarm).
      const lingering = new Set<string>();
      const provider = new SimulatedProvider('g', 0, (w) => workers.get(w)?.state !== 'stopped' || lingering.has(w));
      const a = await start('a1', provider);

      // Backlog appears → desired rises (5 tasks / 2 slots → 3, the max).
      const [up] = await a.round();
      expect(up.decision).toMatchObject({ action: 'up', desired: 3 });
      expect(await provider.current()).toBe(3);

      // Three workers start; they take the five messages; g.2 keeps one running, the others finish.
      for (const n of ['g.1', 'g.2', 'g.3']) {
        const w = new FakeWorker(n, topic, broker);
        workers.set(n, w);
        declared.add(controlQueue(n).name);
        await w.start();
      }
      let taken = 0;
      const consumer = await broker.consume(taskQueue(topic), (m) => { taken += 1; m.ack(); }, { prefetch: 10 });
      await waitUntil('the five tasks taken', () => taken === 5);
      await consumer.cancel();
      workers.get('g.2')!.running = 1;
      await workers.get('g.2')!.beat();
      await waitUntil('the heartbeats seen', () => a.view.workersOf([topic], Date.now()).find((w) => w.name === 'g.2')?.running === 1);

      // Idle → drained: one task left needs one replica; g.1 and g.3 are idle, g.2 is busy.
      const [down] = await a.round();
      expect(down.decision).toMatchObject({ action: 'down', desired: 1 });
      expect(down.drained.sort()).toEqual(['g.1', 'g.3']);
      await waitUntil('both drained', () => workers.get('g.1')!.state === 'draining' && workers.get('g.3')!.state === 'draining');

      // g.1 picked up work before its drain: it is given back, not removed.
      workers.get('g.1')!.running = 1;
      await workers.get('g.1')!.beat();
      await waitUntil('drains seen', () => a.view.workersOf([topic], Date.now()).filter((w) => w.state === 'draining').length === 2
        && a.view.workersOf([topic], Date.now()).find((w) => w.name === 'g.1')?.running === 1);
      const [step] = await a.round();
      expect(step.resumed).toEqual(['g.1']);
      expect(step.shutdown).toEqual(['g.3']);
      await waitUntil('g.3 stopped', () => a.view.workersOf([topic], Date.now()).find((w) => w.name === 'g.3')?.state === 'stopped');

      // Its `stopped` heartbeat came, its process has not exited yet: the round waits, no error.
      lingering.add('g.3');
      const [waiting] = await a.round();
      expect({ removed: waiting.removed, waitingExit: waiting.waitingExit, error: waiting.error }).toEqual({ removed: [], waitingExit: ['g.3'], error: null });
      expect(await provider.current()).toBe(3);
      lingering.delete('g.3');

      // Replicas lowered only for the exited worker.
      const [lowered] = await a.round();
      expect(lowered.removed).toEqual(['g.3']);
      expect(await provider.current()).toBe(2);

      expect(workers.get('g.2')!.commands).toEqual([]); // the busy worker never heard a thing
      expect(workers.get('g.1')!.commands).toEqual(['worker.drain', 'worker.resume']);

      const history = await new Repositories(db).autoscaler.history({ group: 'g', limit: 20 });
      expect(history.map((d) => d.action).reverse().slice(0, 2)).toEqual(['up', 'down']);
      expect(history.find((d) => d.action === 'up')).toMatchObject({ backlog: 5, running: 0, currentReplicas: 0, desiredReplicas: 3, provider: 'simulated', leader: 'a1' });
      expect(history[0].detail).toEqual({ removed: ['g.3'] });
      expect(history.filter((d) => d.action === 'error')).toEqual([]);
      await a.stop();
    });

    it('two autoscalers: only the leader acts; the other takes over at once when the leader goes', async () => {
      const provider = new SimulatedProvider('g', 0);
      const first = await start('lead-1', provider);
      const second = await start('lead-2', provider);
      expect((await first.round()).length).toBe(1);
      expect(await second.round()).toEqual([]);
      await first.stop(); // releases the lock, as a dead leader's closed connection does
      await waitUntil('the second leads', async () => (await second.round()).length === 1, { timeoutMs: 30_000 });
      await second.stop();
    });

    it('a new leader carries on the scale-in the old one left: its drained workers are removed, not left draining', async () => {
      const topic2 = `${topic}b`;
      const g2 = { ...group, name: 'h', queues: [topic2] };
      declared.add(taskQueue(topic2).name);
      await broker.assertQueue(taskQueue(topic2));
      const workers = new Map<string, FakeWorker>();
      const provider = new SimulatedProvider('h', 2, (w) => workers.get(w)?.state !== 'stopped');
      const make = async (name: string) => {
        const a = await runAutoscaler({ name, heartbeatTimeoutMs: 30_000, intervalMs: 0 }, {
          broker, control: new ControlSender(broker, new ControlSigner(TEST_CLUSTER_KEY)), decisions: new Repositories(db).autoscaler, leadership: new AutoscalerLease(tdb.url), logger: silent, quietNest: true, metrics: new SwarmflowMetrics(),
          groups: [{ group: g2, provider, policy: policyOf(g2, { scaleUpCooldownMs: 0, scaleDownCooldownMs: 0, hysteresisSlots: 0 }) }],
        });
        declared.add(`swarmflow.events.autoscaler.${name}`);
        stops.push(() => a.stop());
        return a;
      };
      const first = await make('take-1');
      const second = await make('take-2');
      for (const n of ['h.1', 'h.2']) {
        const w = new FakeWorker(n, topic2, broker);
        workers.set(n, w);
        declared.add(controlQueue(n).name);
        await w.start();
      }
      await waitUntil('both seen by both', () => [first, second].every((a) => a.view.workersOf([topic2], Date.now()).length === 2));
      const [down] = await first.round();
      expect(down.drained.sort()).toEqual(['h.1', 'h.2']);
      await waitUntil('drained', () => [first, second].every((a) => a.view.workersOf([topic2], Date.now()).every((w) => w.state === 'draining')));
      await first.stop(); // the leader goes mid scale-in
      const [shut] = await waitUntil('the second leads', async () => { const r = await second.round(); return r.length === 1 ? r : null; }, { timeoutMs: 30_000 });
      expect(shut.shutdown.sort()).toEqual(['h.1', 'h.2']);
      await waitUntil('stopped', () => second.view.workersOf([topic2], Date.now()).every((w) => w.state === 'stopped'));
      const [removed] = await second.round();
      expect(removed.removed.sort()).toEqual(['h.1', 'h.2']);
      expect(await provider.current()).toBe(0);
      await second.stop();
    });

    it('does not scale up for queued tasks needing more GPUs than a worker of the group has', async () => {
      const topic3 = `${topic}gpu`;
      declared.add(taskQueue(topic3).name);
      await broker.assertQueue(taskQueue(topic3));
      const serialized = { id: 'big', tasks: [{ id: 'train', docker: { gpus: 2 } }, { id: 'small', docker: { gpus: 1 } }] };
      await db.query(`INSERT INTO dag (dag_id, fileloc, latest_version) VALUES ('big', 'big.yaml', 'v1')`);
      await db.query(`INSERT INTO dag_version (dag_id, version_hash, serialized) VALUES ('big', 'v1', $1)`, [JSON.stringify(serialized)]);
      const [run] = await db.query(`INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date) VALUES ('big', 'r1', 'v1', 'manual', 'running', now()) RETURNING id`);
      for (const task of ['train', 'small']) {
        await db.query(`INSERT INTO task_instance (run_pk, dag_id, task_id, state, try_number, max_tries, queue, pool) VALUES ($1, 'big', $2, 'queued', 1, 1, $3, 'default_pool')`, [run.id, task, topic3]);
        await broker.publish(EXCHANGES.tasks, topic3, { task });
      }
      const g3: InstanceGroup = { ...group, name: 'gpu1', queues: [topic3], concurrency: 1, gpus: 1 };
      const provider = new SimulatedProvider('gpu1', 0);
      const a = await runAutoscaler({ name: 'gpu-1', heartbeatTimeoutMs: 30_000, intervalMs: 0 }, {
        broker, control: new ControlSender(broker, new ControlSigner(TEST_CLUSTER_KEY)), decisions: new Repositories(db).autoscaler, leadership: new AutoscalerLease(tdb.url), logger: silent, quietNest: true, metrics: new SwarmflowMetrics(),
        groups: [{ group: g3, provider, policy: policyOf(g3, { scaleUpCooldownMs: 0, scaleDownCooldownMs: 0 }) }],
      });
      declared.add('swarmflow.events.autoscaler.gpu-1');
      stops.push(() => a.stop());
      await waitUntil('both messages ready', async () => (await broker.queueStats(taskQueue(topic3).name)).messages === 2);
      const [r] = await a.round();
      expect(r.decision).toMatchObject({ action: 'up', desired: 1, demand: 1 }); // the 1-GPU task only
      const [latest] = await new Repositories(db).autoscaler.history({ group: 'gpu1', limit: 1 });
      expect(latest).toMatchObject({ backlog: 2, unplaceable: 1, desiredReplicas: 1 });
      expect(latest.reason).toContain('1 queued task(s) no worker of the group can hold are not counted');
      await a.stop();
    });

    it('reads a heartbeat that rode in a worker\'s batch of events keyed by another event', async () => {
      const a = await start('batch-1', new SimulatedProvider('g', 0));
      const conn = await amqp.connect(rabbitmqUrl());
      try {
        const ch = await conn.createConfirmChannel();
        const beat = { type: 'worker.heartbeat', worker: 'batched.1', hostname: 'n', queues: [topic], concurrency: 2, running: [{ tiId: 1, tryNumber: 1 }], state: 'active', at: new Date().toISOString() };
        const body = [{ k: 'task.started', b: { type: 'task.started' } }, { k: 'worker.heartbeat', b: beat }];
        ch.publish(`${prefix}${EXCHANGES.events}`, 'task.started', Buffer.from(JSON.stringify(body)), { headers: { [BATCH_HEADER]: 2 }, contentType: 'application/json', persistent: true });
        await ch.waitForConfirms();
      } finally {
        await conn.close();
      }
      await waitUntil('the batched heartbeat seen', () => a.view.workersOf([topic], Date.now()).some((w) => w.name === 'batched.1' && w.running === 1));
      await a.stop();
    });

    it('a killed leader\'s lock is gone with its connection', async () => {
      const one = new AutoscalerLease(tdb.url);
      const two = new AutoscalerLease(tdb.url);
      expect(await one.lead()).toBe(true);
      expect(await two.lead()).toBe(false);
      await db.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7366142 AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      await waitUntil('the second takes the lead', () => two.lead(), { timeoutMs: 30_000 });
      expect(await one.lead()).toBe(false);
      await one.release();
      await two.release();
    });
  });
});

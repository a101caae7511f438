import { Inject, Injectable } from '@nestjs/common';
import type { WorkerCommand } from '@swarmflow/core';
import { QueueNotFoundError, taskQueue, type Broker, type ControlSender } from '@swarmflow/messaging';
import type { Repositories, WorkerRecord } from '@swarmflow/persistence';
import { BROKER, CONTROL, REPOSITORIES } from '../tokens';
import { ConflictError, NoBrokerError, NotFoundError } from './api-errors';

export type WorkerCommandName = 'drain' | 'shutdown' | 'resume';

/** States (as last reported) from which each command makes sense; a repeat (drain of a draining worker) is a harmless no-op. */
const ALLOWED: Record<WorkerCommandName, readonly string[]> = {
  drain: ['active', 'draining'],
  shutdown: ['active', 'draining', 'stopping'],
  resume: ['active', 'draining'],
};

const WHY_NOT: Record<string, string> = {
  stopping: 'it is stopping (a shutdown or SIGTERM) and exits once its running tries are reported: start it again instead',
  stopped: 'it has stopped: start the worker process again',
  lost: 'it is lost (no heartbeat within SWARMFLOW_HEARTBEAT_TIMEOUT) and cannot hear commands: check its host, or start it again',
};

export interface QueueView {
  queue: string;
  declared: boolean;
  ready: number;
  unacked: number;
  consumers: number;
  workers: { name: string; state: string }[];
}

/**
 * Worker detail, the operator's commands to one worker (drain, shutdown, resume: control
 * messages on `swarmflow.control`, routing key `worker.<name>`), and the task queues' depths.
 * Commands are checked against the state the worker last reported; the worker applies them
 * and its next heartbeat (sent at once) shows the new state.
 */
@Injectable()
export class WorkerControlService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(BROKER) private readonly broker: Broker | null,
    @Inject(CONTROL) private readonly control: ControlSender | null,
  ) {}

  /** @throws NotFoundError `worker_not_found` */
  async get(name: string): Promise<WorkerRecord> {
    const worker = await this.repos.workers.get(name);
    if (!worker) {
      throw new NotFoundError('worker_not_found', `worker "${name}" is not known: no heartbeat of it was ever recorded. List the workers with \`swarmflow workers list\`.`);
    }
    return worker;
  }

  /** @throws NotFoundError `worker_not_found`, ConflictError `worker_state`, NoBrokerError, NoControlKeyError */
  async command(name: string, command: WorkerCommandName): Promise<{ worker: WorkerRecord; message: string }> {
    if (!this.control) throw new NoBrokerError();
    const worker = await this.get(name);
    if (!ALLOWED[command].includes(worker.state)) {
      const why = WHY_NOT[worker.state] ?? `its state is ${worker.state}`;
      throw new ConflictError('worker_state', `cannot ${command} worker "${name}": ${why}`);
    }
    const body: WorkerCommand = { type: `worker.${command}`, worker: name };
    await this.control.send(`worker.${name}`, body);
    return { worker, message: `${command} sent to worker "${name}" (it was ${worker.state}); its next heartbeat shows the new state` };
  }

  /**
   * Every known task topic with its ready messages and consumers (from the broker) and the
   * messages held unacked (from the workers' last heartbeats: RabbitMQ tells that only
   * through its management plugin).
   * @throws NoBrokerError
   */
  async queues(): Promise<QueueView[]> {
    if (!this.broker) throw new NoBrokerError();
    const [topics, workers] = await Promise.all([this.repos.workers.knownQueues(), this.repos.workers.list()]);
    const live = workers.filter((w) => w.state !== 'lost' && w.state !== 'stopped');
    const views: QueueView[] = [];
    for (const queue of topics) {
      const stats = await this.broker.queueStats(taskQueue(queue).name).catch((err: unknown) => {
        if (err instanceof QueueNotFoundError) return null;
        throw err;
      });
      const serving = live.filter((w) => w.queues.includes(queue));
      views.push({
        queue, declared: stats !== null, ready: stats?.messages ?? 0, consumers: stats?.consumers ?? 0,
        unacked: live.reduce((sum, w) => sum + (w.unacked[queue] ?? 0), 0),
        workers: serving.map((w) => ({ name: w.name, state: w.state })),
      });
    }
    return views;
  }
}

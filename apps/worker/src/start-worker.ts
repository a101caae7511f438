import type { Broker } from '@swarmflow/messaging';
import { WorkerService, type WorkerDeps, type WorkerOptions } from './worker.service';

/**
 * Starts a worker on a started broker and returns it running; for `main.ts`, the CLI
 * (`swarmflow worker`) and standalone mode (with a MemoryBroker). The caller owns the
 * broker: it closes it after `worker.whenStopped()`.
 */
export async function startWorker(config: WorkerOptions, broker: Broker, deps: WorkerDeps = {}): Promise<WorkerService> {
  const worker = new WorkerService(broker, config, deps);
  await worker.start();
  return worker;
}

import type { Broker } from '@swarmflow/messaging';
import { WorkerService, type WorkerDeps, type WorkerOptions } from './worker.service';

/**
 * Starts a worker on a started broker and returns it running; for `main.ts`, the CLI
 * (`swarmflow worker`) and standalone mode (with a MemoryBroker). The caller owns the
 * broker: it closes it after `worker.whenStopped()`.
 */
export async function startWorker(config: WorkerOptions, broker: Broker, deps: WorkerDeps = {}): Promise<WorkerService> {
  // A scheduler answers claims wherever a worker is started this way (distributed and standalone).
  const worker = new WorkerService(broker, { claimRedeliveries: true, ...config }, deps);
  await worker.start();
  return worker;
}

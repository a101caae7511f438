import type { Broker } from '@swarmflow/messaging';
import { processMetrics } from '@swarmflow/observability';
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
  // Its gauges (running tries, free slots) read it at scrape time until it stops.
  const gauges = { name: worker.name, slots: config.concurrency, running: () => worker.runningTasks().length };
  const metrics = processMetrics();
  metrics.trackWorker(gauges);
  void worker.whenStopped().then(() => metrics.untrackWorker(gauges));
  return worker;
}

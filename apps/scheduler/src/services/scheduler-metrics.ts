import type { Broker } from '@swarmflow/messaging';
import { QueueNotFoundError, taskQueue } from '@swarmflow/messaging';
import type { ClusterSnapshot, SwarmflowMetrics } from '@swarmflow/observability';
import type { Repositories, TiTransition } from '@swarmflow/persistence';

/**
 * Records committed transitions: a try that ended (from queued or running to success,
 * failed or up_for_retry) counts once by queue and outcome, with how long it ran; a try
 * that started gives its queued → started latency. Runs after each commit: additions to
 * cells bound once per queue, nothing read or built per task.
 */
export function recordTransitions(metrics: SwarmflowMetrics, transitions: readonly TiTransition[]): void {
  for (const { before, after } of transitions) {
    if (before.state === 'queued' && after.state !== 'queued' && after.startedAt && after.queuedAt) {
      metrics.startLatency.labels(after.queue).observe(Math.max(0, after.startedAt.getTime() - after.queuedAt.getTime()) / 1000);
    }
    if ((before.state === 'queued' || before.state === 'running') &&
      (after.state === 'success' || after.state === 'failed' || after.state === 'up_for_retry')) {
      metrics.tryFinished.get(after.queue, after.state).inc();
      if (after.startedAt && after.endedAt) {
        metrics.tryDuration.labels(after.queue).observe(Math.max(0, after.endedAt.getTime() - after.startedAt.getTime()) / 1000);
      }
    }
  }
}

/** Longest a scrape waits for the broker's answer on queue depths; past it, those gauges are left out of that scrape. */
const BROKER_STATS_TIMEOUT_MS = 3000;

/**
 * The cluster's state for the scrape-time gauges: counts in one database round trip, then
 * the depth and consumers of each queue topic (RabbitMQ passive declares, in parallel).
 * A source that fails is reported as null, not thrown: the rest of the scrape still answers.
 */
export function clusterSnapshotReader(repos: Repositories, broker: Broker): () => Promise<ClusterSnapshot> {
  return async () => {
    const counts = await repos.clusterStats.counts().catch(() => null);
    const queues = counts === null ? null : await withTimeout(Promise.all(counts.queues.map(async (queue) => {
      try {
        const stats = await broker.queueStats(taskQueue(queue).name);
        return { queue, ready: stats.messages, consumers: stats.consumers };
      } catch (err) {
        // Nothing was ever published to it nor consumed from it: empty, nobody listening.
        if (err instanceof QueueNotFoundError) return { queue, ready: 0, consumers: 0 };
        throw err;
      }
    })), BROKER_STATS_TIMEOUT_MS).catch(() => null);
    return { database: counts, queues };
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

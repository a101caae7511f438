import { EXCHANGES } from '@swarmflow/messaging';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection before each sample measures what is held, not garbage waiting for the collector.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
import { startHarness, taskMessage, type Harness } from './test-support/worker-harness';

/** 100-character lines (99 digits and the newline), `bytes` of them. */
const lines100 = (bytes: number): string => `yes ${'1'.repeat(99)} | head -c ${bytes}`;

/**
 * Log batches reach a broker that confirms each after `delayMs` and keeps only their line
 * counts: the worker must hold back the task's output instead of buffering it.
 */
function slowLogBroker(h: Harness, delayMs: number): { lines: number; batches: number } {
  const seen = { lines: 0, batches: 0 };
  const publish = h.broker.publish.bind(h.broker);
  h.broker.publish = async (exchange, routingKey, body) => {
    if (exchange !== EXCHANGES.logs) return publish(exchange, routingKey, body);
    seen.batches++;
    seen.lines += (body as { lines: unknown[] }).lines.length;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  };
  return seen;
}

describe('WorkerService: a task that prints a lot', () => {
  let h: Harness;
  jest.setTimeout(200_000);

  afterEach(async () => {
    await h?.close();
  });

  it('holds its output back while the log batches wait for the broker: memory stays bounded, no line is lost', async () => {
    h = await startHarness();
    const logs = slowLogBroker(h, 10);
    const bytes = 60 * 1024 * 1024;
    const task = taskMessage({ command: lines100(bytes) });
    collect();
    const before = process.memoryUsage();
    let peak = 0;
    // A full collection of a large heap (a whole `npm test` in one process) takes long: space the
    // samples so that collecting stays under ~5 % of the time, or it starves the worker under test.
    let sampler: NodeJS.Timeout;
    const sample = (): void => {
      const started = performance.now();
      collect();
      const now = process.memoryUsage();
      peak = Math.max(peak, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
      sampler = setTimeout(sample, Math.max(500, (performance.now() - started) * 20));
    };
    sampler = setTimeout(sample, 500);
    try {
      await h.submit(task);
      const finished = await h.published.finishedOf(task.tiId, 1, 180_000);
      expect(finished).toMatchObject({ outcome: 'success', exitCode: 0 });
      const output = logs.lines + (finished.logs?.lines.length ?? 0) - 2; // the start and end system lines
      expect(output).toBe(Math.ceil(bytes / 100));
    } finally {
      clearTimeout(sampler!);
    }
    // Without backpressure most of the 60 MB is held as strings and line objects at once (over 100 MB).
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });

  it('past the per-try log limit, drops the rest, says so and how much, and lets the task finish', async () => {
    h = await startHarness({ logLimitChars: 1024 * 1024 });
    const task = taskMessage({ command: lines100(20_000_000) });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId, 1, 120_000);
    expect(finished).toMatchObject({ outcome: 'success', exitCode: 0 });
    const lines = h.published.logLines(task.tiId);
    const kept = Math.floor((1024 * 1024) / 100);
    expect(lines.filter((l) => l.stream !== 'system')).toHaveLength(kept);
    const system = lines.filter((l) => l.stream === 'system').map((l) => l.line);
    expect(system).toEqual([
      expect.stringMatching(/^try 1 .* started on w1/),
      "log limit of 1 MiB reached: the rest of this try's output is discarded (the task keeps running)",
      `${200_000 - kept} line(s), ${(200_000 - kept) * 100} character(s) of output were discarded past the log limit of 1 MiB`,
      expect.stringMatching(/^exited with code 0 after/),
    ]);
  });
});

/**
 * Container task overhead: the wall time of one container task through `runContainer`
 * (image swarmflow/busybox:test, command `true`, network none) against a bare dockerode
 * create → start → wait → remove of the same image and command. Goal: ≤ 1.1×.
 *
 * The two are interleaved (one of each per round) so that drift in the machine's load
 * hits both alike; a few warm-up rounds are not counted.
 *
 * Run: `npx tsx bench/container.bench.ts` (BENCH_CONTAINER_RUNS, default 30, at least 20).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { DockerClient, DockerExecutor, taskLabels, type ContainerSpec } from '@swarmflow/executors';
import { dockerSpec, ensureTestImage, removeTestObjects, TEST_IMAGE, TEST_LABEL } from '@swarmflow/executors/test-support/docker';

const GOAL_RATIO = 1.1;
const WARMUP_ROUNDS = 3;

function runsFromEnv(): number {
  const text = process.env.BENCH_CONTAINER_RUNS ?? '30';
  const runs = Number(text);
  if (!Number.isInteger(runs) || runs < 20) {
    process.stderr.write(`BENCH_CONTAINER_RUNS must be an integer ≥ 20, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return runs;
}

function stats(samples: number[]): { mean: number; p50: number; p95: number; min: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, p50: at(0.5), p95: at(0.95), min: sorted[0] };
}

async function main(): Promise<void> {
  const runs = runsFromEnv();
  ensureTestImage();
  const client = new DockerClient();
  const executor = new DockerExecutor(client);
  const id = `bench-${randomBytes(4).toString('hex')}`;
  const labels = { [TEST_LABEL]: id };

  const viaExecutor = async (round: number): Promise<number> => {
    const spec: ContainerSpec = {
      docker: dockerSpec({ image: TEST_IMAGE, network: 'none', pullPolicy: 'if-not-present' }), command: ['true'], env: {}, cwd: null,
      timeoutMs: null, labels: { ...labels, ...taskLabels({ worker: id, tiId: round, tryNumber: 1, dagId: 'bench', runId: 'bench', taskId: 'true' }) },
    };
    const t = performance.now();
    const result = await executor.run(spec, { onLine: () => undefined }).result;
    const ms = performance.now() - t;
    if (result.exitCode !== 0) throw new Error(`runContainer: ${JSON.stringify(result)}`);
    return ms;
  };
  const bare = async (): Promise<number> => {
    const t = performance.now();
    const container = await client.api.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: labels, HostConfig: { NetworkMode: 'none' } });
    await container.start();
    const { StatusCode } = await container.wait();
    await container.remove();
    const ms = performance.now() - t;
    if (StatusCode !== 0) throw new Error(`bare container exited ${StatusCode}`);
    return ms;
  };

  const executorMs: number[] = [];
  const bareMs: number[] = [];
  try {
    for (let round = 0; round < WARMUP_ROUNDS + runs; round++) {
      // Alternate which goes first, so neither always runs right after the other's removal.
      const pair = round % 2 === 0 ? [await viaExecutor(round), await bare()] : [await bare(), await viaExecutor(round)].reverse();
      if (round < WARMUP_ROUNDS) continue;
      executorMs.push(pair[0]);
      bareMs.push(pair[1]);
    }
  } finally {
    await removeTestObjects(client, id);
  }

  const e = stats(executorMs);
  const b = stats(bareMs);
  const table = new Table({ head: ['', 'runs', 'mean ms', 'p50 ms', 'p95 ms', 'min ms'] });
  table.push(
    ['runContainer', runs, e.mean.toFixed(1), e.p50.toFixed(1), e.p95.toFixed(1), e.min.toFixed(1)],
    ['bare dockerode create → start → wait → remove', runs, b.mean.toFixed(1), b.p50.toFixed(1), b.p95.toFixed(1), b.min.toFixed(1)],
  );
  console.log(table.toString());
  const ratioMean = e.mean / b.mean;
  const ratioP50 = e.p50 / b.p50;
  console.log(`ratio runContainer / bare: mean ${ratioMean.toFixed(3)}×, p50 ${ratioP50.toFixed(3)}× (goal ≤ ${GOAL_RATIO}×)`);
}

main().catch((err: unknown) => {
  process.stderr.write(`container bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * The autoscaler on the real single-node Swarm (issue 15, "Benchmark"): the time from a backlog
 * appearing (a task queued on queue gpu, the gpu group at 0 replicas) to the first new worker
 * consuming it (the try's start), median of `--runs` (default 5) runs, beside a bare
 * `docker service scale <stack>_worker-gpu=1` of the same service on the same machine (the
 * autoscaler stopped, the task queued, then the scale: the time from the scale to the start).
 * Prints; asserts nothing. Deploys its own stack (test/swarm/support/stack.ts) and removes it.
 *
 *   npm run build && npx tsx bench/autoscaler-swarm.ts [--runs 5] [--interval 2s]
 *
 * The autoscaler runs with the shipped interval (2 s) unless --interval says otherwise; its
 * scale-down cooldown is shortened to 5 s so each run starts from 0 again quickly (it does not
 * enter the measured time).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImages, DAGS_DIR_FILE, docker, swarmState, TestStack, waitFor } from '../test/swarm/support/stack';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const RUNS = Math.max(5, Number(arg('runs', '5')));
const INTERVAL = arg('interval', '2s');

interface Ti { state: string; queuedAt: string | null; startedAt: string | null; tryNumber: number }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const swarm = await swarmState();
  if (swarm !== 'active true') throw new Error(`needs a Swarm manager (docker swarm init --advertise-addr 127.0.0.1); this engine says: ${swarm}`);
  const stack = new TestStack(`sfbench${Math.random().toString(16).slice(2, 8)}`);
  const gpu = stack.service('worker-gpu');
  const dagsDir = mkdtempSync(path.join(tmpdir(), `${stack.name}-dags-`));
  chmodSync(dagsDir, 0o755);
  writeFileSync(path.join(dagsDir, 'autoscale_one.yaml'),
    'id: autoscale_one\ndescription: "one task on queue gpu"\nschedule: null\ndefaults: { queue: gpu, retries: 0, timeout: 1m }\ntasks:\n  one: sleep 1\n', { mode: 0o644 });
  const onSignal = () => { void stack.remove().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  try {
    let t = Date.now();
    const images = await buildImages();
    console.error(`images ready in ${fmt(Date.now() - t)}: ${images.SWARMFLOW_IMAGE}`);
    t = Date.now();
    await stack.deploy({
      ...images, SWARMFLOW_DAGS_DIR: dagsDir, SWARMFLOW_AUTOSCALER_REPLICAS: '1',
      SWARMFLOW_AUTOSCALER_INTERVAL: INTERVAL, SWARMFLOW_AUTOSCALER_DOWN_COOLDOWN: '5s',
    }, [DAGS_DIR_FILE]);
    await waitFor('the stack to converge', async () => {
      const r = await stack.replicas();
      if (r.autoscaler !== '1/1' || r.webserver !== '1/1' || r.scheduler !== '2/2' || r['worker-default'] !== '1/1' || !(await stack.healthy())) return undefined;
      await stack.login();
      return (await stack.api('GET', '/dags')).some((d: { dagId: string }) => d.dagId === 'autoscale_one') || undefined;
    }, 600_000);
    await docker(['service', 'update', '--detach', '--generic-resource-rm', 'NVIDIA-GPU', '--constraint-rm', 'node.labels.swarmflow.group == gpu', gpu]);
    console.error(`stack ${stack.name} up in ${fmt(Date.now() - t)}`);

    const atZero = () => waitFor('the gpu group at 0 with no worker task left', async () => {
      const replicas = (await docker(['service', 'inspect', gpu, '--format', '{{.Spec.Mode.Replicated.Replicas}}'])).trim();
      const live = (await docker(['service', 'ps', gpu, '--filter', 'desired-state=running', '-q'])).trim();
      // And no container left: one told to stop may still be consuming for a moment (a bare scale to 0 does not drain first).
      const containers = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${gpu}`])).trim();
      return replicas === '0' && live === '' && containers === '' ? true : undefined;
    }, 180_000, 250);
    const tiOf = async (runId: string): Promise<Ti> =>
      (await stack.api('GET', `/dags/autoscale_one/runs/${encodeURIComponent(runId)}`)).taskInstances[0];
    const started = (runId: string) => waitFor('the try to start', async () => {
      const ti = await tiOf(runId);
      return ti.startedAt ? ti : undefined;
    }, 120_000, 100);
    const done = (runId: string) => waitFor('the run to end', async () => {
      const ti = await tiOf(runId);
      return ti.state === 'success' || ti.state === 'failed' ? ti : undefined;
    }, 120_000, 250);

    // 1. The autoscaler: queued (the backlog appears) → started (a new worker consumed it).
    const auto: number[] = [];
    const autoFromTrigger: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      await atZero();
      const tTrigger = Date.now();
      const runId = (await stack.api('POST', '/dags/autoscale_one/runs', { conf: {} })).runId as string;
      const ti = await started(runId);
      const ended = await done(runId);
      if (ended.state !== 'success') throw new Error(`autoscaler run ${i}: the task ended ${ended.state}`);
      const ms = Date.parse(ti.startedAt!) - Date.parse(ti.queuedAt!);
      if (i === 0) { console.error(`warm-up (not counted): ${fmt(ms)}`); continue; } // the first start of a fresh image
      auto.push(ms);
      autoFromTrigger.push(Date.parse(ti.startedAt!) - tTrigger);
      console.error(`autoscaler run ${i}: queued → started ${fmt(ms)}`);
    }

    // 2. Bare `docker service scale`: the autoscaler stopped (once it brought the group back to 0), the task queued, then the scale.
    await atZero();
    await docker(['service', 'scale', '--detach', `${stack.service('autoscaler')}=0`]);
    await waitFor('the autoscaler to stop', async () => ((await stack.replicas()).autoscaler === '0/0' ? true : undefined), 120_000);
    const bare: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await atZero();
      const runId = (await stack.api('POST', '/dags/autoscale_one/runs', { conf: {} })).runId as string;
      await waitFor('the try to be queued', async () => ((await tiOf(runId)).queuedAt ? true : undefined), 60_000, 100);
      const tScale = Date.now();
      await docker(['service', 'scale', '--detach', `${gpu}=1`]);
      const ti = await started(runId);
      const ms = Date.parse(ti.startedAt!) - tScale;
      if (ms < 0) throw new Error(`bare run ${i + 1}: the try started before the scale (a worker was left running)`);
      bare.push(ms);
      console.error(`bare scale run ${i + 1}: scale → started ${fmt(ms)}`);
      await done(runId);
      await docker(['service', 'scale', '--detach', `${gpu}=0`]);
    }

    console.log(`\nAutoscaler on Docker Swarm (${stack.name}, Docker ${(await docker(['version', '--format', '{{.Server.Version}}'])).trim()}, ${RUNS} runs each, autoscaler interval ${INTERVAL})`);
    console.log(`  backlog appears (task queued) → first new worker consumes (try started), through the autoscaler: median ${fmt(median(auto))} (runs: ${auto.map(fmt).join(', ')})`);
    console.log(`    same, from the trigger (POST /runs):                                          median ${fmt(median(autoFromTrigger))}`);
    console.log(`  bare \`docker service scale ${gpu}=1\` → try started:                               median ${fmt(median(bare))} (runs: ${bare.map(fmt).join(', ')})`);
    console.log(`  the autoscaler's own part (medians' difference): ${fmt(median(auto) - median(bare))}`);
  } finally {
    const left = await stack.remove();
    rmSync(dagsDir, { recursive: true, force: true });
    if (Object.values(left).some(Boolean)) console.error(`left behind: ${JSON.stringify(left)}`);
  }
}

main().catch((err: unknown) => {
  console.error(`autoscaler-swarm bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
